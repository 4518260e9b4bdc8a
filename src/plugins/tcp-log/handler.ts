/**
 * tcp-log (kong/plugins/tcp-log/handler.lua, PRIORITY 7): each request's serialized log entry
 * (shared/serialize.ts) as one JSON line (`\n`-terminated) to `host:port`, optionally over TLS,
 * on the worker's connection for that target (tcp-sender.ts). The log phase serializes and hands
 * the line to the socket; connection failures are logged and the entries dropped, as in Kong
 * (no retry). `custom_fields_by_lua` is not supported.
 */
import { unsupportedCustomFields } from '../shared/log-plugin.ts'
import { serializeJson } from '../shared/serialize.ts'
import type { PluginHandler } from '../types.ts'
import { tcpSinkFor, type TcpSink } from './tcp-sender.ts'

export interface TcpLogConfig {
  host: string
  port: number
  timeout?: number
  keepalive?: number
  tls?: boolean
  tls_sni?: string | null
  custom_fields_by_lua?: Record<string, string> | null
}

interface Prepared {
  readonly sink: TcpSink
}

export const handler: PluginHandler<TcpLogConfig, Prepared> = {
  name: 'tcp-log',
  priority: 7,
  prepare (conf, env) {
    unsupportedCustomFields('tcp-log', conf, env)
    return {
      sink: tcpSinkFor({
        host: conf.host,
        port: conf.port,
        tls: conf.tls === true,
        sni: typeof conf.tls_sni === 'string' && conf.tls_sni !== '' ? conf.tls_sni : null,
        timeout: conf.timeout ?? 10000,
        keepalive: conf.keepalive ?? 60000,
      }),
    }
  },
  log (ctx, c) {
    c.sink.send(serializeJson(ctx) + '\n')
  },
}
