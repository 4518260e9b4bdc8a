/**
 * Extra metric families contributed by other parts of the primary (rate-limit sync lag and flush
 * size, health checks, ...): a collector writes its families into the page at scrape time.
 *
 *   const off = registerCollector('ratelimit', (w) => {
 *     w.family('sluice_ratelimit_flush_rows', 'gauge', 'Rows in the last rate-limit flush')
 *     w.sample('sluice_ratelimit_flush_rows', '', lastRows)
 *   })
 *   ...on stop: off()
 *
 * Collectors run on the primary only, at scrape time, and must be cheap and synchronous (read
 * numbers already kept; never query the database). One that throws is skipped and counted in
 * kong_nginx_metric_errors_total.
 */
import { TextWriter } from './text.ts'

export type Collector = (w: TextWriter) => void

const collectors = new Map<string, Collector>()

/** Adds (or replaces) the collector `id`; returns its removal. */
export function registerCollector (id: string, fn: Collector): () => void {
  collectors.set(id, fn)
  return () => { if (collectors.get(id) === fn) collectors.delete(id) }
}

/** Runs every collector; returns how many threw. */
export function runCollectors (w: TextWriter): number {
  let errors = 0
  for (const fn of collectors.values()) {
    const own = new TextWriter()
    try {
      fn(own)
      w.append(own)
    } catch {
      errors++
    }
  }
  return errors
}

// ---- Kong families fed by other parts of the primary ----
// exposition.ts writes these families itself, in Kong's order and with Kong's labels; the node's
// start-up (primary/main.ts, primary/dbless.ts) says where their samples come from. One node per
// process in production: a later registration replaces an earlier one, and the removal returned
// undoes only its own.

/** One kong_upstream_target_health state of one address (Kong writes all four per address). */
export interface TargetHealthSample {
  upstream: string
  target: string
  /** `ip:port`; '' when the target has no address (dns_error). */
  address: string
  state: 'healthchecks_off' | 'healthy' | 'unhealthy' | 'dns_error'
  value: 0 | 1
}

/** kong_memory_lua_shared_dict_bytes / _total_bytes of one memory area the workers share. */
export interface SharedDictSample { name: string; allocated: number; capacity: number }

export interface NodeSources {
  /** null: no prometheus plugin asks for upstream_health_metrics (Kong then writes no sample). */
  targetHealth?: () => readonly TargetHealthSample[] | null
  sharedDicts?: () => readonly SharedDictSample[]
  /**
   * An enabled prometheus plugin exists (plugins/prometheus/flags.ts exportSwitches): the request
   * families (counts, latencies, bandwidth) and metric errors are on the page only then. Without
   * this source, the switch is read from the last targetHealth call (flags.ts lastExportSwitches),
   * and without either the families are shown.
   */
  prometheusEnabled?: () => boolean
}

let nodeSources: NodeSources = {}

export function registerNodeSources (s: NodeSources): () => void {
  nodeSources = s
  return () => { if (nodeSources === s) nodeSources = {} }
}

export function currentNodeSources (): NodeSources {
  return nodeSources
}
