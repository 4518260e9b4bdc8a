/**
 * The /metrics page: Kong's metric families (kong/plugins/prometheus/exporter.lua, 3.x names,
 * labels and buckets, so Kong's Grafana dashboard keeps working) followed by Sluice's own and the
 * registered collectors. Rendered on the primary from what the store already holds; a scrape costs
 * the proxy nothing.
 */
import { KIND_BOUNDS, KIND_OFFSET } from './buckets.ts'
import { HDR_KINDS, QUANTILES, WINDOW_MS } from './hdr.ts'
import { currentNodeSources, runCollectors, type SharedDictSample } from './registry.ts'
import type { MetricsStore } from './store.ts'
import { lastExportSwitches } from '../plugins/prometheus/flags.ts'
import { labels, TextWriter } from './text.ts'

export interface WorkerSummary {
  id: number
  thread_id: number
  state: string
  snapshot_version: number
  requests: number
  connections: number
  restarts: number
}

export interface NodeInfo {
  nodeId: string
  version: string
  /** null: not applicable (DB-less); Kong then reports 1. */
  datastoreReachable: boolean | null
  snapshotVersion: number
  workers: readonly WorkerSummary[]
  reloads: { ok: number; failed: number }
  ready: boolean
}

const HISTOGRAMS = [
  { name: 'kong_request_latency_ms', help: 'Total latency incurred during requests for each service/route in Kong' },
  { name: 'kong_upstream_latency_ms', help: 'Latency added by upstream response for each service/route in Kong' },
  { name: 'kong_kong_latency_ms', help: 'Latency added by Kong and enabled plugins for each service/route in Kong' },
] as const

/** Timers armed on this (the primary's) thread. */
function pendingTimers (): number {
  let n = 0
  for (const r of process.getActiveResourcesInfo()) if (r === 'Timeout') n++
  return n
}

function sorted (m: Map<string, number>): Array<[string, number]> {
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

/**
 * Kong's families, in Kong's order (its keys sorted by name). As Kong's prometheus.lua does, a
 * family is written only when it has a sample, and while no prometheus plugin is enabled the page
 * holds only the node-level families (Kong's exporter then lists its local gauges only: no
 * request counts, latencies, bandwidth or metric errors, though the counts recorded before stay
 * and come back with the plugin).
 */
export function renderMetrics (store: MetricsStore, info: NodeInfo): string {
  const w = new TextWriter()
  const node = info.nodeId

  // Read first (they are the scrape-time sources), so that a failure counts in this page's
  // kong_nginx_metric_errors_total and the plugin switches are the current ones.
  const sources = currentNodeSources()
  let health: ReturnType<NonNullable<typeof sources.targetHealth>> = null
  try { health = sources.targetHealth?.() ?? null } catch { store.errors++ }
  let enabled = true
  try {
    if (sources.prometheusEnabled !== undefined) enabled = sources.prometheusEnabled()
    else if (sources.targetHealth !== undefined) enabled = lastExportSwitches()?.enabled ?? true
  } catch { store.errors++ }
  // Kong: allocated slabs and capacity of each nginx shared dict. Sluice's workers share memory
  // through SharedArrayBuffers, which are allocated whole: both values are their byte length.
  // Only the areas that exist are listed (primary/main.ts, dbless.ts: the rate-limiting counter
  // table as Kong's kong_rate_limiting_counters); Sluice keeps its metrics in the primary's heap,
  // so there is no prometheus_metrics dict.
  let dicts: SharedDictSample[] = []
  try { dicts = [...(sources.sharedDicts?.() ?? [])] } catch { store.errors++ }
  dicts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))

  const series = enabled ? [...store.latency.values()].sort((a, b) => (a.labels < b.labels ? -1 : 1)) : []
  const histogram = (kind: number): void => {
    const h = HISTOGRAMS[kind]!
    let started = false
    for (const s of series) {
      let any = 0
      for (let j = 0; j <= KIND_BOUNDS[kind]!.length; j++) any += s.counts[KIND_OFFSET[kind]! + j]!
      if (any === 0) continue
      if (!started) { w.family(h.name, 'histogram', h.help); started = true }
      w.histogram(h.name, s.labels, KIND_BOUNDS[kind]!, s.counts, KIND_OFFSET[kind]!, s.sums[kind]!)
    }
  }
  const counter = (name: string, help: string, m: Map<string, number>): void => {
    if (!enabled || m.size === 0) return
    w.family(name, 'counter', help)
    for (const [k, v] of sorted(m)) w.sample(name, `{${k}}`, v)
  }

  counter('kong_bandwidth_bytes', 'Total bandwidth (ingress/egress) throughput in bytes', store.bandwidth)

  w.family('kong_datastore_reachable', 'gauge', 'Datastore reachable from Kong, 0 is unreachable')
  w.sample('kong_datastore_reachable', '', info.datastoreReachable === false ? 0 : 1)

  counter('kong_http_requests_total', 'HTTP status codes per consumer/service/route in Kong', store.requests)

  histogram(2) // kong_kong_latency_ms

  if (dicts.length > 0) {
    w.family('kong_memory_lua_shared_dict_bytes', 'gauge', 'Allocated slabs in bytes in a shared_dict')
    for (const d of dicts) w.sample('kong_memory_lua_shared_dict_bytes', labels([['node_id', node], ['shared_dict', d.name], ['kong_subsystem', 'http']]), d.allocated)
    w.family('kong_memory_lua_shared_dict_total_bytes', 'gauge', 'Total capacity in bytes of a shared_dict')
    for (const d of dicts) w.sample('kong_memory_lua_shared_dict_total_bytes', labels([['node_id', node], ['shared_dict', d.name], ['kong_subsystem', 'http']]), d.capacity)
  }

  const live = new Set(info.workers.map((x) => x.thread_id))
  store.retainWorkers(live)
  const gauges = [...store.workers.values()].sort((a, b) => a.workerId - b.workerId)
  if (gauges.length > 0) {
    w.family('kong_memory_workers_lua_vms_bytes', 'gauge', 'Allocated bytes in worker Lua VM (Sluice: V8 heap used by each worker thread; pid is the thread id)')
    for (const g of gauges) w.sample('kong_memory_workers_lua_vms_bytes', labels([['node_id', node], ['pid', g.threadId], ['kong_subsystem', 'http']]), g.heapUsed)
  }

  // Sluice counts requests, not TCP connections: accepted/handled/total follow requests, active and writing are requests in flight.
  const total = info.workers.reduce((a, x) => a + x.requests, 0)
  const active = info.workers.reduce((a, x) => a + x.connections, 0)
  w.family('kong_nginx_connections_total', 'gauge', 'Number of connections by subsystem')
  for (const [state, v] of [['accepted', total], ['active', active], ['handled', total], ['reading', 0], ['total', total], ['waiting', 0], ['writing', active]] as const) {
    w.sample('kong_nginx_connections_total', labels([['node_id', node], ['subsystem', 'http'], ['state', state]]), v)
  }

  const extra = new TextWriter()
  const collectorErrors = runCollectors(extra)
  if (enabled) {
    w.family('kong_nginx_metric_errors_total', 'counter', 'Number of nginx-lua-prometheus errors')
    w.sample('kong_nginx_metric_errors_total', '', store.errors + collectorErrors)
  }

  w.family('kong_nginx_requests_total', 'gauge', 'Number of requests total')
  w.sample('kong_nginx_requests_total', labels([['node_id', node], ['subsystem', 'http']]), total)

  // Kong: nginx timers (background jobs) running and waiting. Sluice's background jobs are the
  // primary's timers (sync, flushes, health probes): pending counts the ones armed on the primary
  // thread; running is 0, as no timer callback can run while this page is being written.
  w.family('kong_nginx_timers', 'gauge', 'Number of nginx timers')
  w.sample('kong_nginx_timers', labels([['state', 'pending']]), pendingTimers())
  w.sample('kong_nginx_timers', labels([['state', 'running']]), 0)

  w.family('kong_node_info', 'gauge', 'Kong Node metadata information')
  w.sample('kong_node_info', labels([['node_id', node], ['version', info.version]]), 1)

  histogram(0) // kong_request_latency_ms
  histogram(1) // kong_upstream_latency_ms

  if (health !== null && health.length > 0) {
    w.family('kong_upstream_target_health', 'gauge', 'Health status of targets of upstream. States = healthchecks_off|healthy|unhealthy|dns_error, value is 1 when state is populated.')
    const lines = health.map((h) => [labels([['upstream', h.upstream], ['target', h.target], ['address', h.address], ['state', h.state], ['subsystem', 'http']]), h.value] as const)
    lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    for (const [l, v] of lines) w.sample('kong_upstream_target_health', l, v)
  }

  // ---- Sluice's own ----
  w.family('sluice_access_log_dropped_total', 'counter', 'Access log lines dropped because the log destination could not keep up')
  w.sample('sluice_access_log_dropped_total', '', store.logDropped)

  w.family('sluice_config_reloads_total', 'counter', 'Configuration reloads (SIGHUP, sluice reload) by result')
  w.sample('sluice_config_reloads_total', labels([['result', 'ok']]), info.reloads.ok)
  w.sample('sluice_config_reloads_total', labels([['result', 'failed']]), info.reloads.failed)

  w.family('sluice_latency_us', 'summary', `Latency of all requests on this node in microseconds (quantiles over the last ${WINDOW_MS / 1000} s, from merged hdr-histograms), by kind: request (total), kong (before the upstream request, or the whole gateway response)`)
  for (let k = 0; k < HDR_KINDS.length; k++) {
    const wh = store.hdr[k]!
    const win = wh.window()
    const kind = HDR_KINDS[k]!
    for (const q of QUANTILES) {
      w.sample('sluice_latency_us', labels([['kind', kind], ['quantile', q]]), win === null ? NaN : win.getValueAtPercentile(q * 100))
    }
    w.sample('sluice_latency_us_sum', labels([['kind', kind]]), wh.sumUs)
    w.sample('sluice_latency_us_count', labels([['kind', kind]]), wh.count)
  }

  w.family('sluice_ready', 'gauge', '1 when the node has a configuration and every worker serves it (/status/ready)')
  w.sample('sluice_ready', '', info.ready ? 1 : 0)

  w.family('sluice_requests_finished_total', 'counter', 'Requests finished on this node, routed or not')
  w.sample('sluice_requests_finished_total', '', store.finished)

  w.family('sluice_snapshot_version', 'gauge', 'Configuration snapshot version built by the primary')
  w.sample('sluice_snapshot_version', '', info.snapshotVersion)

  w.family('sluice_worker_heap_bytes', 'gauge', 'V8 heap of each worker thread, used and total')
  for (const g of gauges) {
    w.sample('sluice_worker_heap_bytes', labels([['worker', g.workerId], ['thread_id', g.threadId], ['kind', 'used']]), g.heapUsed)
    w.sample('sluice_worker_heap_bytes', labels([['worker', g.workerId], ['thread_id', g.threadId], ['kind', 'total']]), g.heapTotal)
  }

  w.family('sluice_worker_restarts', 'gauge', 'Times the worker slot was respawned after its thread exited')
  for (const x of info.workers) w.sample('sluice_worker_restarts', labels([['worker', x.id]]), x.restarts)

  w.family('sluice_worker_snapshot_version', 'gauge', 'Configuration snapshot version each worker serves')
  for (const x of info.workers) w.sample('sluice_worker_snapshot_version', labels([['worker', x.id], ['thread_id', x.thread_id], ['state', x.state]]), x.snapshot_version)

  w.family('sluice_workers', 'gauge', 'Worker threads by state')
  const states = new Map<string, number>([['starting', 0], ['serving', 0], ['draining', 0]])
  for (const x of info.workers) states.set(x.state, (states.get(x.state) ?? 0) + 1)
  for (const [state, v] of states) w.sample('sluice_workers', labels([['state', state]]), v)

  // Families registered by other parts of the primary (registry.ts).
  w.append(extra)
  return w.toString()
}
