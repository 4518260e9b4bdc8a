/**
 * The primary's view of the node's traffic: merges the workers' once-a-second deltas (delta.ts)
 * into totals keyed by the label sets Kong exports. Work per delta is proportional to the series
 * the worker touched in that second; nothing here runs per request, and a scrape only reads.
 *
 * Counters are totals since the primary started and never go backwards: a worker that exits or
 * is replaced by a reload has already sent its deltas. Per-worker gauges (heap) are kept by
 * thread id and dropped when the worker goes.
 */
import { HIST_SLOTS } from './buckets.ts'
import { isValidDelta, SOURCE_SERVICE } from './delta.ts'
import { WindowedHistogram } from './hdr.ts'
import { escapeLabel } from './text.ts'

export interface WorkerRef { id: number; threadId: number }

export interface LatencySeries {
  /** `service="..",route="..",workspace="default"` (escaped). */
  readonly labels: string
  /** HIST_SLOTS non-cumulative counts (buckets.ts layout). */
  readonly counts: Float64Array
  /** ms sums: request, upstream, kong. */
  readonly sums: Float64Array
}

export interface WorkerGauges { workerId: number; threadId: number; heapUsed: number; heapTotal: number; at: number }

/** Sluice has no workspaces: every entity is in Kong's `default` one. */
export const WORKSPACE = 'default'

export class MetricsStore {
  /** kong_http_requests_total, by its label text. */
  readonly requests = new Map<string, number>()
  /** kong_bandwidth_bytes, by its label text. */
  readonly bandwidth = new Map<string, number>()
  /** The three latency histograms of each (service, route). */
  readonly latency = new Map<string, LatencySeries>()
  /** Node-wide percentiles, hdr.ts HDR_KINDS order: request, kong (microseconds). */
  readonly hdr: readonly [WindowedHistogram, WindowedHistogram]
  readonly workers = new Map<number, WorkerGauges>()
  /** Malformed deltas and failed collectors: kong_nginx_metric_errors_total. */
  errors = 0
  /** Requests finished on this node (all of them, routed or not). */
  finished = 0
  logDropped = 0
  deltas = 0

  constructor (now: () => number = Date.now) {
    this.hdr = [new WindowedHistogram(now), new WindowedHistogram(now)]
  }

  ingest (w: WorkerRef, d: unknown): void {
    if (!isValidDelta(d)) { this.errors++; return }
    this.deltas++
    this.finished += d.finished
    this.logDropped += d.logDropped
    this.workers.set(w.threadId, { workerId: w.id, threadId: w.threadId, heapUsed: d.heapUsed, heapTotal: d.heapTotal, at: Date.now() })
    const n = d.labels.length / 3
    const keys: string[] = new Array<string>(n)
    const tails: string[] = new Array<string>(n)
    for (let i = 0; i < n; i++) {
      const service = escapeLabel(d.labels[3 * i]!)
      const route = escapeLabel(d.labels[3 * i + 1]!)
      const consumer = escapeLabel(d.labels[3 * i + 2]!)
      keys[i] = `service="${service}",route="${route}"`
      tails[i] = `workspace="${WORKSPACE}",consumer="${consumer}"`
      // A series without latency samples (latency_metrics off, or a per-consumer series) has
      // no histogram: only the ones that have seen a request are kept.
      const base = i * HIST_SLOTS
      let observed = 0
      for (let j = 0; j < HIST_SLOTS; j++) observed += d.buckets[base + j]!
      if (observed > 0) {
        const lkey = `${keys[i]},workspace="${WORKSPACE}"`
        let s = this.latency.get(lkey)
        if (s === undefined) {
          s = { labels: lkey, counts: new Float64Array(HIST_SLOTS), sums: new Float64Array(3) }
          this.latency.set(lkey, s)
        }
        for (let j = 0; j < HIST_SLOTS; j++) s.counts[j]! += d.buckets[base + j]!
        for (let j = 0; j < 3; j++) s.sums[j]! += d.sums[3 * i + j]!
      }
      const ingress = d.bytes[2 * i]!
      const egress = d.bytes[2 * i + 1]!
      if (ingress > 0) add(this.bandwidth, `${keys[i]},direction="ingress",${tails[i]}`, ingress)
      if (egress > 0) add(this.bandwidth, `${keys[i]},direction="egress",${tails[i]}`, egress)
    }
    const st = d.status
    for (let k = 0; k < st.length; k += 4) {
      const i = st[k]!
      if (i < 0 || i >= n) { this.errors++; continue }
      const source = st[k + 2] === SOURCE_SERVICE ? 'service' : 'kong'
      add(this.requests, `${keys[i]},code="${st[k + 1]}",source="${source}",${tails[i]}`, st[k + 3]!)
    }
    for (let j = 0; j < 2; j++) {
      try { this.hdr[j]!.add(d.hdr[j]!, d.hdrSums[j]!) } catch { this.errors++ }
    }
  }

  /** Drops the gauges of workers that are gone (counters stay). */
  retainWorkers (threadIds: ReadonlySet<number>): void {
    for (const id of this.workers.keys()) if (!threadIds.has(id)) this.workers.delete(id)
  }
}

function add (m: Map<string, number>, k: string, v: number): void {
  m.set(k, (m.get(k) ?? 0) + v)
}
