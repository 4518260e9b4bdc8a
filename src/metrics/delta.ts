/**
 * What a worker sends the primary about its traffic, at most once per second: deltas since its
 * previous message, never totals, so a worker that dies loses at most one second and the
 * primary's counters never go backwards. Struct of arrays, typed arrays for the numbers: one
 * structured clone per message, no per-series objects on the wire.
 *
 * Proposed protocol member (common/protocol.ts, WorkerToPrimary):
 *   | MetricsDeltaMessage
 */
import { HIST_SLOTS } from './buckets.ts'

export interface MetricsDelta {
  /** Requests finished since the previous delta, routed or not. */
  finished: number
  /** This worker's V8 heap (v8.getHeapStatistics), bytes. */
  heapUsed: number
  heapTotal: number
  /** Per series, 3 labels: [service, route, consumer, ...]. */
  labels: string[]
  /** Status counts, flat quadruples: [series index, HTTP status, source (0 kong, 1 service), count, ...]. */
  status: number[]
  /** Per series HIST_SLOTS latency bucket counts, not cumulative (buckets.ts KIND_OFFSET). */
  buckets: Uint32Array
  /** Per series, latency sums in ms: request, upstream, kong. */
  sums: Float64Array
  /** Per series, bytes: ingress, egress. */
  bytes: Float64Array
  /** Node-wide latency hdr-histograms in microseconds, compressed base64, '' when empty: request, kong (hdr.ts HDR_KINDS). */
  hdr: [string, string]
  /** Exact sums of the values in `hdr`, microseconds. */
  hdrSums: [number, number]
  /** Access log lines dropped because the destination could not keep up, since the previous delta. */
  logDropped: number
}

export interface MetricsDeltaMessage { type: 'metrics-delta'; workerId: number; delta: MetricsDelta }

export const SOURCE_KONG = 0
export const SOURCE_SERVICE = 1

/** Cheap structural check of a delta from another thread (a malformed one counts as a metric error). */
export function isValidDelta (d: unknown): d is MetricsDelta {
  if (d === null || typeof d !== 'object') return false
  const x = d as Partial<MetricsDelta>
  if (!Array.isArray(x.labels) || x.labels.length % 3 !== 0) return false
  const n = x.labels.length / 3
  return Array.isArray(x.status) && x.status.length % 4 === 0 &&
    x.buckets instanceof Uint32Array && x.buckets.length === n * HIST_SLOTS &&
    x.sums instanceof Float64Array && x.sums.length === n * 3 &&
    x.bytes instanceof Float64Array && x.bytes.length === n * 2 &&
    Array.isArray(x.hdr) && x.hdr.length === 2 && Array.isArray(x.hdrSums) && x.hdrSums.length === 2 &&
    typeof x.finished === 'number' && typeof x.heapUsed === 'number'
}
