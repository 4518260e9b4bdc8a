/**
 * statsd (kong/plugins/statsd/handler.lua + log.lua, PRIORITY 11): per request, the configured
 * metrics (metrics.ts) as StatsD lines, through Kong's queue (shared/log-queue.ts, named after
 * the plugin instance as Queue.get_plugin_params does) to `host:port` over UDP, or over TCP with
 * `use_tcp` (each line `\n`-terminated). With `udp_packet_size > 0` the lines of a batch are
 * packed into datagrams of at most that many bytes, `\n`-separated (statsd_logger.lua's
 * buffering, size accounting included). Requests whose status is outside `allow_status_codes`
 * send nothing. The log phase only computes the lines and enqueues them.
 */
import { acquireQueue, queueParams, type LogQueue } from '../shared/log-queue.ts'
import { instanceTag } from '../shared/log-plugin.ts'
import { serialize } from '../shared/serialize.ts'
import { log } from '../../common/log.ts'
import { tcpSinkFor } from '../tcp-log/tcp-sender.ts'
import type { LogContext, PluginHandler } from '../types.ts'
import { datagramTarget } from '../shared/datagram.ts'
import { buildMetrics, buildStatusFilter, type Metrics, type RequestFacts, type StatsdMetricsConfig } from './metrics.ts'

export interface StatsdConfig extends StatsdMetricsConfig {
  host: string
  port: number
  allow_status_codes?: string[] | null
  udp_packet_size?: number
  use_tcp?: boolean
  queue_size?: number | null
  flush_timeout?: number | null
}

interface Prepared {
  readonly allowed: (status: number) => boolean
  readonly metrics: Metrics
  readonly queue: LogQueue
}

/** The request's facts as kong.log.serialize() reports them. */
export function requestFacts (ctx: LogContext): RequestFacts {
  const e = serialize(ctx, false) as {
    request: { size: number }
    response: { status: number; size: number }
    latencies: { request: number; proxy: number; kong: number }
  }
  return {
    status: e.response.status,
    requestSize: e.request.size,
    responseSize: e.response.size,
    latency: e.latencies.request,
    upstreamLatency: e.latencies.proxy,
    kongLatency: e.latencies.kong,
    consumer: ctx.consumer,
    service: ctx.serviceRow,
    route: ctx.routeRow,
  }
}

/** Sends the lines of a batch: one datagram each, or packed up to `size` bytes (statsd_logger.lua). */
function udpBatchSender (conf: StatsdConfig): (entries: readonly string[]) => Promise<void> {
  const target = datagramTarget('statsd', conf.host, conf.port)
  const size = conf.udp_packet_size ?? 0
  return async (entries) => {
    await target.ready()
    if (size <= 0) {
      for (const e of entries) for (const line of e.split('\n')) target.send(line)
      return
    }
    let buf: string[] = []
    let bufSize = 0
    for (const e of entries) {
      for (const line of e.split('\n')) {
        const len = Buffer.byteLength(line)
        const next = bufSize + len
        if (next <= size) {
          buf.push(line)
          bufSize = next + 1
          continue
        }
        const alone = bufSize === 0
        if (alone) log.warn(`[statsd] configured udp_packet_size is smaller than single message of length ${len}, UDP packet may be truncated`)
        const out = buf.join('\n')
        buf = [line]
        bufSize = len
        if (!alone) target.send(out)
      }
    }
    if (bufSize > 0) target.send(buf.join('\n'))
  }
}

function tcpBatchSender (conf: StatsdConfig): (entries: readonly string[]) => Promise<void> {
  const sink = tcpSinkFor({ host: conf.host, port: conf.port, tls: false, sni: null, timeout: 1000, keepalive: 60000 })
  return async (entries) => {
    for (const e of entries) for (const line of e.split('\n')) sink.send(line + '\n')
  }
}

export const handler: PluginHandler<StatsdConfig, Prepared> = {
  name: 'statsd',
  priority: 11,
  prepare (conf, env) {
    const id = env.plugin.id
    return {
      allowed: buildStatusFilter(conf.allow_status_codes),
      metrics: buildMetrics(conf, env.hostname),
      queue: acquireQueue(`statsd:${id}`, id, instanceTag('statsd', env), queueParams(conf as unknown as Record<string, unknown>),
        conf.use_tcp === true ? tcpBatchSender(conf) : udpBatchSender(conf)),
    }
  },
  log (ctx, c) {
    if (!c.allowed(ctx.status)) return
    const lines = c.metrics.lines(requestFacts(ctx))
    if (lines.length > 0) c.queue.enqueue(lines.join('\n'))
  },
}
