/**
 * loggly (kong/plugins/loggly/handler.lua, PRIORITY 6): each request's serialized entry, in an
 * RFC 5424 frame with the customer token as structured data, as one UDP datagram to
 * `host:port` (Loggly's syslog endpoint, logs-01.loggly.com:514 by default):
 *
 *   <PRI>1 2025-01-31T12:00:00Z <hostname> kong - - [<key>@41058 tag="kong"] {json}
 *
 * PRI is facility user (8) plus the severity chosen by status (syslog/levels.ts); responses
 * whose severity is above `log_level` are not sent. Delivery is fire-and-forget, as in Kong:
 * failures are logged. `timeout` has nothing to wait for on UDP; `custom_fields_by_lua` is not
 * supported.
 */
import { unsupportedCustomFields } from '../shared/log-plugin.ts'
import { serializeJson } from '../shared/serialize.ts'
import type { PluginHandler } from '../types.ts'
import { datagramTarget, type DatagramTarget } from '../shared/datagram.ts'
import { buildSeverities, type SeverityConfig, type Severities } from '../syslog/levels.ts'

export interface LogglyConfig extends SeverityConfig {
  host: string
  port: number
  key: string
  tags?: string[] | null
  timeout?: number
  custom_fields_by_lua?: Record<string, string> | null
}

interface Prepared {
  readonly severities: Severities
  /** ` <hostname> kong - - [<key>@41058 tag="..."] ` */
  readonly middle: string
  readonly target: DatagramTarget
}

/** os.date("!%Y-%m-%dT%XZ"): UTC, whole seconds. */
function utcStamp (ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z'
}

export const handler: PluginHandler<LogglyConfig, Prepared> = {
  name: 'loggly',
  priority: 6,
  prepare (conf, env) {
    unsupportedCustomFields('loggly', conf, env)
    const tags = (conf.tags ?? []).map((t) => `tag="${t}"`).join(' ')
    return {
      severities: buildSeverities(conf),
      middle: ` ${env.hostname} kong - - [${conf.key}@41058 ${tags}] `,
      target: datagramTarget('loggly', conf.host, conf.port),
    }
  },
  log (ctx, c) {
    const sev = c.severities.forStatus(ctx.status !== 0 ? ctx.status : 499)
    if (sev < 0) return
    c.target.send(`<${8 + sev}>1 ${utcStamp(Date.now())}${c.middle}${serializeJson(ctx)}`)
  },
}
