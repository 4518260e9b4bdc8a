/**
 * udp-log (kong/plugins/udp-log/handler.lua, PRIORITY 8): each request's serialized log entry
 * (shared/serialize.ts) as one datagram of JSON to `host:port` (udp-sender.ts). The log phase
 * serializes and hands the datagram to the socket; failures are logged, never retried.
 * `timeout` has nothing to wait for with an unconnected UDP socket. `custom_fields_by_lua` is not
 * supported.
 */
import { unsupportedCustomFields } from '../shared/log-plugin.ts'
import { serializeJson } from '../shared/serialize.ts'
import type { PluginHandler } from '../types.ts'
import { udpTargetFor, type UdpTarget } from './udp-sender.ts'

export interface UdpLogConfig {
  host: string
  port: number
  timeout?: number
  custom_fields_by_lua?: Record<string, string> | null
}

interface Prepared {
  readonly target: UdpTarget
}

export const handler: PluginHandler<UdpLogConfig, Prepared> = {
  name: 'udp-log',
  priority: 8,
  prepare (conf, env) {
    unsupportedCustomFields('udp-log', conf, env)
    return { target: udpTargetFor(conf.host, conf.port) }
  },
  log (ctx, c) {
    c.target.send(serializeJson(ctx))
  },
}
