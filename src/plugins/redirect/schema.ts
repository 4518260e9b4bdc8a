/** redirect config (kong/plugins/redirect/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        status_code: { type: 'integer', required: true, default: 301, between: [100, 599] },
        location: { ...typedefs.url, required: true },
        keep_incoming_path: { type: 'boolean', default: false },
      },
    },
  },
}
