/** bot-detection config (kong/plugins/bot-detection/schema.lua): allow / deny regex lists. */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    consumer: typedefs.no_consumer,
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        allow: { type: 'array', elements: { type: 'string', is_regex: true }, default: [] },
        deny: { type: 'array', elements: { type: 'string', is_regex: true }, default: [] },
      },
    },
  },
}
