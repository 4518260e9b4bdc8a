/**
 * Kong's histogram buckets and the layout of one series' latency counts.
 *
 * Bounds are Kong's (kong/plugins/prometheus/exporter.lua, 3.x): `kong_kong_latency_ms` uses
 * KONG_LATENCY_BUCKETS; `kong_upstream_latency_ms` and `kong_request_latency_ms` use
 * UPSTREAM_LATENCY_BUCKETS. A value v falls in the first bucket with v <= bound (Prometheus `le`),
 * else in +Inf. Buckets are counted exactly per series (a few integers per request), so the
 * exported `_bucket` lines are exact, as Kong's are; hdr-histograms are kept only node-wide, for
 * percentiles (see hdr.ts).
 */

export const KONG_LATENCY_BUCKETS: readonly number[] = [1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000]
export const UPSTREAM_LATENCY_BUCKETS: readonly number[] = [25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000]

/** The three latency histograms of a series, in this order: request, upstream, kong. */
export const LATENCY_KINDS = ['request', 'upstream', 'kong'] as const
export type LatencyKind = typeof LATENCY_KINDS[number]
export const KIND_BOUNDS: readonly (readonly number[])[] = [UPSTREAM_LATENCY_BUCKETS, UPSTREAM_LATENCY_BUCKETS, KONG_LATENCY_BUCKETS]

/** Offset of each kind's counts in a series' slot array; each kind has bounds.length + 1 slots (+Inf last). */
export const KIND_OFFSET: readonly number[] = [0, UPSTREAM_LATENCY_BUCKETS.length + 1, 2 * (UPSTREAM_LATENCY_BUCKETS.length + 1)]
/** Slots per series: request (14) + upstream (14) + kong (18). */
export const HIST_SLOTS = 2 * (UPSTREAM_LATENCY_BUCKETS.length + 1) + KONG_LATENCY_BUCKETS.length + 1

/** Index of the bucket holding v: the first bound >= v, or bounds.length for +Inf. */
export function bucketIndex (bounds: readonly number[], v: number): number {
  // Binary search over at most 17 bounds: 4-5 comparisons.
  let lo = 0
  let hi = bounds.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (v <= bounds[mid]!) hi = mid
    else lo = mid + 1
  }
  return lo
}
