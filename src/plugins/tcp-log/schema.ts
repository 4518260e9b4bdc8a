/** tcp-log config (kong/plugins/tcp-log/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { luaCode, typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        host: { ...typedefs.host, required: true },
        port: { ...typedefs.port, required: true },
        timeout: { type: 'number', default: 10000 },
        keepalive: { type: 'number', default: 60000 },
        tls: { type: 'boolean', required: true, default: false },
        tls_sni: { type: 'string' },
        custom_fields_by_lua: luaCode,
      },
    },
  },
}
