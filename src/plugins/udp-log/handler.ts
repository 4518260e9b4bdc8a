/**
 * udp-log (kong/plugins/udp-log/handler.lua, PRIORITY 8): each request's serialized log entry
 * (shared/serialize.ts) as one datagram of JSON (no newline, as Kong sends it) to `host:port`
 * (shared/datagram.ts: the name resolved through Kong's dns_* settings). The log phase
 * serializes and hands the datagram to the socket; failures are logged, never retried.
 * `timeout` has nothing to wait for with an unconnected UDP socket. `custom_fields_by_lua` is not
 * supported.
 */
import { unsupportedCustomFields } from '../shared/log-plugin.ts'
import { serializeJson } from '../shared/serialize.ts'
import type { PluginHandler } from '../types.ts'
import { COULD_NOT, datagramTarget, type DatagramTarget } from '../shared/datagram.ts'

export interface UdpLogConfig {
  host: string
  port: number
  timeout?: number
  custom_fields_by_lua?: Record<string, string> | null
}

interface Prepared {
  readonly target: DatagramTarget
}

export const handler: PluginHandler<UdpLogConfig, Prepared> = {
  name: 'udp-log',
  priority: 8,
  prepare (conf, env) {
    unsupportedCustomFields('udp-log', conf, env)
    return { target: datagramTarget('udp-log', conf.host, conf.port, COULD_NOT) }
  },
  log (ctx, c) {
    c.target.send(serializeJson(ctx))
  },
}
