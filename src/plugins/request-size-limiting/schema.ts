/** request-size-limiting config (kong/plugins/request-size-limiting/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

export const SIZE_UNITS = ['megabytes', 'kilobytes', 'bytes']

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        allowed_payload_size: { type: 'integer', default: 128 },
        size_unit: { type: 'string', required: true, default: 'megabytes', one_of: SIZE_UNITS },
        require_content_length: { type: 'boolean', required: true, default: false },
      },
    },
  },
}
