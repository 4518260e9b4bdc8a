/** syslog config (kong/plugins/syslog/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import type { FieldDef } from '../../db/schema/types.ts'
import { luaCode, typedefs } from '../../db/schema/typedefs.ts'

export const SEVERITIES = ['debug', 'info', 'notice', 'warning', 'err', 'crit', 'alert', 'emerg'] as const
export const FACILITIES = [
  'auth', 'authpriv', 'cron', 'daemon', 'ftp', 'kern', 'lpr', 'mail', 'news', 'syslog', 'user', 'uucp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const

const severity: FieldDef = { type: 'string', default: 'info', required: true, one_of: SEVERITIES }

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        log_level: severity,
        successful_severity: severity,
        client_errors_severity: severity,
        server_errors_severity: severity,
        custom_fields_by_lua: luaCode,
        facility: {
          type: 'string',
          description: 'The facility is used by the operating system to decide how to handle each log message.',
          default: 'user',
          required: true,
          one_of: FACILITIES,
        },
      },
    },
  },
}
