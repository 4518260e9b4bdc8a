/** loggly config (kong/plugins/loggly/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import type { FieldDef } from '../../db/schema/types.ts'
import { luaCode, typedefs } from '../../db/schema/typedefs.ts'
import { SEVERITIES } from '../syslog/schema.ts'

// Unlike syslog's, loggly's severities are not `required`: an explicit null is accepted.
const severity: FieldDef = { type: 'string', default: 'info', one_of: SEVERITIES }

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        host: { ...typedefs.host, default: 'logs-01.loggly.com' },
        port: { ...typedefs.port, default: 514 },
        key: { type: 'string', required: true, encrypted: true, referenceable: true },
        tags: { type: 'set', default: ['kong'], elements: { type: 'string' } },
        log_level: severity,
        successful_severity: severity,
        client_errors_severity: severity,
        server_errors_severity: severity,
        timeout: { type: 'number', default: 10000 },
        custom_fields_by_lua: luaCode,
      },
    },
  },
}
