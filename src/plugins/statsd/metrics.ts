/**
 * statsd's metric lines for one request (kong/plugins/statsd/log.lua, statsd_logger.lua):
 * `<prefix>.<scope>.<stat>:<value>|<type>[|@<rate>]`, or with `tag_style` the stat name without
 * scope and the tags (service, route, workspace, consumer, node, status) in the tag style's syntax.
 * Everything that depends only on the config is worked out once in `buildMetrics` (prepare).
 */
import { DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME } from '../shared/serialize.ts'
import type { ConsumerRow } from '../types.ts'

type Row = Readonly<Record<string, unknown>>

export const STAT_TYPE_CODES: Readonly<Record<string, string>> = {
  gauge: 'g', counter: 'c', timer: 'ms', histogram: 'h', meter: 'm', set: 's', distribution: 'd',
}

function str (v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (typeof v === 'number') return String(v)
  return undefined
}

export type ConsumerIdFn = (c: ConsumerRow | null) => string | undefined
export const CONSUMER_ID: Readonly<Record<string, ConsumerIdFn>> = {
  consumer_id: (c) => c?.id,
  custom_id: (c) => str(c?.custom_id),
  username: (c) => str(c?.username),
}

type ServiceIdFn = (s: Row | null) => string | undefined
const SERVICE_ID: Readonly<Record<string, ServiceIdFn>> = {
  service_id: (s) => str(s?.id),
  service_name: (s) => str(s?.name),
  service_host: (s) => str(s?.host),
  service_name_or_host: (s) => s === null ? undefined : (str(s.name) ?? str(s.host)),
}

const WORKSPACE_ID: Readonly<Record<string, string>> = {
  workspace_id: DEFAULT_WORKSPACE_ID,
  workspace_name: DEFAULT_WORKSPACE_NAME,
}

/** Per-metric functions that need more than a value (log.lua `metrics`); the rest are plain stats. */
const SPECIAL = new Set([
  'unique_users', 'request_per_user', 'status_count', 'status_count_per_user', 'status_count_per_workspace',
  'status_count_per_user_per_route', 'shdict_usage',
])

/** Kong's metric names on the wire (statsd and datadog share them). */
export const STAT_NAME: Readonly<Record<string, string>> = {
  request_size: 'request.size',
  response_size: 'response.size',
  latency: 'latency',
  upstream_latency: 'upstream_latency',
  kong_latency: 'kong_latency',
  request_count: 'request.count',
}

export interface MetricConfig {
  name: string
  stat_type: string
  sample_rate?: number | null
  consumer_identifier?: string | null
  service_identifier?: string | null
  workspace_identifier?: string | null
}

export interface StatsdMetricsConfig {
  prefix?: string | null
  metrics?: MetricConfig[] | null
  hostname_in_prefix?: boolean
  consumer_identifier_default?: string
  service_identifier_default?: string
  workspace_identifier_default?: string
  tag_style?: string | null
}

interface Metric {
  readonly name: string
  readonly special: boolean
  readonly stat: string
  readonly kind: string
  /** `|@rate`, or '' for no rate or a rate of 1. */
  readonly rate: string
  readonly consumerId: ConsumerIdFn
  readonly serviceId: ServiceIdFn
  readonly workspaceId: string
}

/** The values of one request that metrics are made of (from the serialized entry). */
export interface RequestFacts {
  readonly status: number
  readonly requestSize: number
  readonly responseSize: number
  readonly latency: number
  readonly upstreamLatency: number
  readonly kongLatency: number
  readonly consumer: ConsumerRow | null
  readonly service: Row | null
  readonly route: Row | null
}

export interface Metrics {
  lines (f: RequestFacts): string[]
}

const dots = /\./g

function tagText (style: string, tags: Array<[string, string]>): (prefix: string, stat: string, value: string) => string {
  const eq = style === 'dogstatsd' ? ':' : '='
  const list = tags.map(([k, v]) => `${k}${eq}${v}`).join(',')
  switch (style) {
    case 'dogstatsd': return (p, s, v) => `${p}.${s}:${v}|#${list}`
    case 'influxdb': return (p, s, v) => `${p}.${s},${list}:${v}`
    case 'librato': return (p, s, v) => `${p}.${s}#${list}:${v}`
    default: return (p, s, v) => `${p}.${s}[${list}]:${v}`
  }
}

export function buildMetrics (conf: StatsdMetricsConfig, hostname: string): Metrics {
  const node = hostname.replace(dots, '_')
  const style = conf.tag_style ?? null
  let prefix = conf.prefix ?? 'kong'
  if (conf.hostname_in_prefix === true && style === null) prefix += `.node.${node}`
  const dConsumer = conf.consumer_identifier_default ?? 'custom_id'
  const dService = conf.service_identifier_default ?? 'service_name_or_host'
  const dWorkspace = conf.workspace_identifier_default ?? 'workspace_id'
  const metrics: Metric[] = (conf.metrics ?? []).map((m) => {
    const r = m.sample_rate
    return {
      name: m.name,
      special: SPECIAL.has(m.name),
      stat: STAT_NAME[m.name] ?? m.name,
      kind: STAT_TYPE_CODES[m.stat_type] ?? 'c',
      rate: typeof r === 'number' && r !== 1 ? `|@${r}` : '',
      consumerId: CONSUMER_ID[m.consumer_identifier ?? dConsumer]!,
      serviceId: SERVICE_ID[m.service_identifier ?? dService]!,
      workspaceId: WORKSPACE_ID[m.workspace_identifier ?? dWorkspace]!,
    }
  })

  const scopeOf = (f: RequestFacts, m: Metric): string => {
    if (f.service === null) return 'global.unmatched'
    const id = m.serviceId(f.service)
    return `service.${id === undefined ? 'unnamed' : id.replace(dots, '_')}`
  }

  const plain = (f: RequestFacts, m: Metric, out: string[]): void => {
    const scope = scopeOf(f, m)
    const status = f.status
    switch (m.name) {
      case 'unique_users': {
        const id = m.consumerId(f.consumer)
        if (id !== undefined) out.push(`${prefix}.${scope}.user.uniques:${id}|s`)
        return
      }
      case 'request_per_user': {
        const id = m.consumerId(f.consumer)
        if (id !== undefined) out.push(`${prefix}.${scope}.user.${id}.request.count:1|c${m.rate}`)
        return
      }
      case 'status_count':
        out.push(`${prefix}.${scope}.status.${status}:1|c${m.rate}`)
        return
      case 'status_count_per_user': {
        const id = m.consumerId(f.consumer)
        if (id !== undefined) out.push(`${prefix}.${scope}.user.${id}.status.${status}:1|c${m.rate}`)
        return
      }
      case 'status_count_per_workspace':
        out.push(`${prefix}.${scope}.workspace.${m.workspaceId}.status.${status}:1|c${m.rate}`)
        return
      case 'status_count_per_user_per_route': {
        const id = m.consumerId(f.consumer)
        const route = typeof f.route?.id === 'string' ? f.route.id : undefined
        if (id !== undefined && route !== undefined) out.push(`${prefix}.route.${route}.user.${id}.status.${status}:1|c${m.rate}`)
        return
      }
      case 'shdict_usage':
        // Kong reports its nginx shared dictionaries; Sluice has none (see README).
        return
      default: {
        const v = value(f, m.name)
        if (v !== undefined && v !== -1) out.push(`${prefix}.${scope}.${m.stat}:${v}|${m.kind}${m.rate}`)
      }
    }
  }

  const tagged = (f: RequestFacts, m: Metric, out: string[]): void => {
    // The consumer/status/user metrics are not sent in tag mode (log.lua).
    if (m.special) return
    const v = value(f, m.name)
    if (v === undefined || v === -1) return
    const service = m.serviceId(f.service)
    if (service === undefined) {
      // no service: no tags, and no scope either
      out.push(`${prefix}.${m.stat}:${v}|${m.kind}${m.rate}`)
      return
    }
    const tags: Array<[string, string]> = [['service', service]]
    if (f.route !== null) {
      const r = str(f.route.name) ?? str(f.route.id)
      if (r !== undefined) tags.push(['route', r])
    }
    tags.push(['workspace', m.workspaceId])
    const consumer = m.consumerId(f.consumer)
    if (consumer !== undefined) tags.push(['consumer', consumer])
    tags.push(['node', node], ['status', String(f.status)])
    out.push(tagText(style!, tags)(prefix, m.stat, `${v}|${m.kind}${m.rate}`))
  }

  const each = style === null ? plain : tagged
  return {
    lines (f) {
      const out: string[] = []
      for (let i = 0; i < metrics.length; i++) each(f, metrics[i]!, out)
      return out
    },
  }
}

function value (f: RequestFacts, name: string): number | undefined {
  switch (name) {
    case 'request_size': return f.requestSize
    case 'response_size': return f.responseSize
    case 'latency': return f.latency
    case 'upstream_latency': return f.upstreamLatency
    case 'kong_latency': return f.kongLatency
    case 'request_count': return 1
    default: return undefined
  }
}

/** allow_status_codes: Kong's `(\d\d\d)-(\d\d\d)` match of each range; null allows every status. */
export function buildStatusFilter (ranges: readonly string[] | null | undefined): (status: number) => boolean {
  if (ranges === null || ranges === undefined) return () => true
  const pairs: Array<[number, number]> = []
  for (const r of ranges) {
    const m = /(\d\d\d)-(\d\d\d)/.exec(r)
    if (m !== null) pairs.push([Number(m[1]), Number(m[2])])
  }
  return (status) => {
    for (const [a, b] of pairs) if (status >= a && status <= b) return true
    return false
  }
}
