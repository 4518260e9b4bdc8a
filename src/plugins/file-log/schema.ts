/** file-log config (kong/plugins/file-log/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { luaCode, typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        path: { type: 'string', required: true, match: '^[^%s*&%%\\`][^*&%%\\`]*[^%s*&%%\\`]$', err: 'not a valid filename' },
        reopen: { type: 'boolean', required: true, default: false },
        custom_fields_by_lua: luaCode,
      },
    },
  },
}
