/**
 * datadog (kong/plugins/datadog/handler.lua + statsd_logger.lua, PRIORITY 10): per request, each
 * configured metric as one DogStatsD datagram
 * `<prefix>.<stat>:<value>|<type>[|@<rate>]|#<name_tag>:<service>,<status_tag>:<status>[,<consumer_tag>:<id>][,<metric tags>]`
 * through Kong's queue (named after the plugin instance) to the agent over UDP. A null `host` /
 * `port` falls back to the KONG_DATADOG_AGENT_HOST / KONG_DATADOG_AGENT_PORT environment
 * variables, as in Kong. The service tag is the service name (or host), dots made underscores,
 * and empty without a service; consumer_id has its dashes made underscores.
 */
import { acquireQueue, queueParams, type LogQueue } from '../shared/log-queue.ts'
import { instanceTag } from '../shared/log-plugin.ts'
import type { ConsumerRow, PluginHandler } from '../types.ts'
import { datagramTarget, type DatagramTarget } from '../shared/datagram.ts'
import { requestFacts } from '../statsd/handler.ts'
import { STAT_NAME, STAT_TYPE_CODES, type ConsumerIdFn } from '../statsd/metrics.ts'
import type { RequestFacts } from '../statsd/metrics.ts'

interface DatadogMetric {
  name: string
  stat_type: string
  tags?: string[] | null
  sample_rate?: number | null
  consumer_identifier?: string | null
}

export interface DatadogConfig {
  host?: string | null
  port?: number | null
  prefix?: string | null
  service_name_tag?: string | null
  status_tag?: string | null
  consumer_tag?: string | null
  metrics: DatadogMetric[]
  queue_size?: number | null
  flush_timeout?: number | null
}

const CONSUMER_ID: Readonly<Record<string, ConsumerIdFn>> = {
  consumer_id: (c: ConsumerRow | null) => c?.id.replace(/-/g, '_'),
  custom_id: (c) => typeof c?.custom_id === 'string' ? c.custom_id : undefined,
  username: (c) => typeof c?.username === 'string' ? c.username : undefined,
}

interface Metric {
  readonly head: string
  readonly name: string
  /** `|<type>[|@rate]` */
  readonly kind: string
  readonly consumerId: ConsumerIdFn | null
  readonly tags: readonly string[]
}

interface Prepared {
  readonly metrics: readonly Metric[]
  readonly nameTag: string
  readonly statusTag: string
  readonly consumerTag: string
  readonly queue: LogQueue
}

function value (f: RequestFacts, name: string): number {
  switch (name) {
    case 'request_size': return f.requestSize
    case 'response_size': return f.responseSize
    case 'latency': return f.latency
    case 'upstream_latency': return f.upstreamLatency
    case 'kong_latency': return f.kongLatency
    default: return 1
  }
}

/** The agent's address: the config, else Kong's environment variables. */
function agent (conf: DatadogConfig): { host: string | null; port: number | null } {
  const envPort = Number(process.env.KONG_DATADOG_AGENT_PORT ?? '')
  return {
    host: conf.host ?? process.env.KONG_DATADOG_AGENT_HOST ?? null,
    port: conf.port ?? (process.env.KONG_DATADOG_AGENT_PORT !== undefined && Number.isInteger(envPort) ? envPort : null),
  }
}

function sender (host: string | null, port: number | null): (entries: readonly string[]) => Promise<void> {
  const target: DatagramTarget | null = host !== null && port !== null ? datagramTarget('datadog', host, port) : null
  return async (entries) => {
    if (target === null) throw new Error(`failed to connect to ${host ?? 'nil'}:${port ?? 'nil'}: no agent host and port`)
    await target.ready()
    for (const e of entries) for (const line of e.split('\n')) target.send(line)
  }
}

export const handler: PluginHandler<DatadogConfig, Prepared> = {
  name: 'datadog',
  priority: 10,
  prepare (conf, env) {
    const prefix = conf.prefix ?? 'kong'
    const metrics: Metric[] = []
    for (const m of conf.metrics ?? []) {
      const stat = STAT_NAME[m.name]
      if (stat === undefined) continue
      const r = m.sample_rate
      metrics.push({
        head: `${prefix}.${stat}:`,
        name: m.name,
        kind: `|${STAT_TYPE_CODES[m.stat_type] ?? 'c'}${typeof r === 'number' && r !== 1 ? `|@${r}` : ''}`,
        consumerId: typeof m.consumer_identifier === 'string' ? CONSUMER_ID[m.consumer_identifier] ?? null : null,
        tags: m.tags ?? [],
      })
    }
    const { host, port } = agent(conf)
    const id = env.plugin.id
    return {
      metrics,
      nameTag: conf.service_name_tag ?? 'name',
      statusTag: conf.status_tag ?? 'status',
      consumerTag: conf.consumer_tag ?? 'consumer',
      queue: acquireQueue(`datadog:${id}`, id, instanceTag('datadog', env), queueParams(conf as unknown as Record<string, unknown>), sender(host, port)),
    }
  },
  log (ctx, c) {
    const f = requestFacts(ctx)
    const svc = f.service
    const svcName = svc === null ? '' : String((typeof svc.name === 'string' ? svc.name : svc.host) ?? '').replace(/\./g, '_')
    const base = `|#${c.nameTag}:${svcName},${c.statusTag}:${f.status}`
    const lines: string[] = []
    for (const m of c.metrics) {
      let line = `${m.head}${value(f, m.name)}${m.kind}${base}`
      const consumer = m.consumerId?.(f.consumer)
      if (consumer !== undefined) line += `,${c.consumerTag}:${consumer}`
      for (const t of m.tags) line += `,${t}`
      lines.push(line)
    }
    if (lines.length > 0) c.queue.enqueue(lines.join('\n'))
  },
}
