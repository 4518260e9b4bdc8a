/**
 * syslog (kong/plugins/syslog/handler.lua, PRIORITY 4): each request's serialized entry (JSON) to
 * the system log with ident `kong`, the configured facility and the severity chosen by status
 * (levels.ts); responses whose severity is above `log_level` are not logged. Where the entries
 * go is sink.ts (the local /dev/log by default, as Kong's syslog(3)). `custom_fields_by_lua` is
 * not supported.
 */
import { unsupportedCustomFields } from '../shared/log-plugin.ts'
import { serializeJson } from '../shared/serialize.ts'
import type { PluginHandler } from '../types.ts'
import { buildSeverities, FACILITY_CODE, type SeverityConfig, type Severities } from './levels.ts'
import { syslogSink, type SyslogSink } from './sink.ts'

export interface SyslogConfig extends SeverityConfig {
  facility?: string
  custom_fields_by_lua?: Record<string, string> | null
}

interface Prepared {
  readonly severities: Severities
  readonly facility: number
  readonly sink: SyslogSink
}

export const handler: PluginHandler<SyslogConfig, Prepared> = {
  name: 'syslog',
  priority: 4,
  prepare (conf, env) {
    unsupportedCustomFields('syslog', conf, env)
    return {
      severities: buildSeverities(conf),
      facility: (FACILITY_CODE[conf.facility ?? 'user'] ?? 1) * 8,
      sink: syslogSink(process.env.SLUICE_SYSLOG_ADDRESS, env.hostname),
    }
  },
  log (ctx, c) {
    const sev = c.severities.forStatus(ctx.status !== 0 ? ctx.status : 499)
    if (sev < 0) return
    c.sink.send(c.facility + sev, serializeJson(ctx))
  },
}
