/** basic-auth config (kong/plugins/basic-auth/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    consumer: typedefs.no_consumer,
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        anonymous: { type: 'string' },
        hide_credentials: { type: 'boolean', required: true, default: false },
        realm: { type: 'string', required: true, default: 'service' },
      },
    },
  },
}
