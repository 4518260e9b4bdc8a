/** correlation-id config (kong/plugins/correlation-id/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        header_name: { type: 'string', default: 'Kong-Request-ID' },
        generator: { type: 'string', default: 'uuid#counter', required: true, one_of: ['uuid', 'uuid#counter', 'tracker'] },
        echo_downstream: { type: 'boolean', required: true, default: false },
      },
    },
  },
}
