/**
 * Observability of the rate-limit writer, per node: what a user needs to see whether the limits
 * hold and what the store costs. `RateLimitStats` is plain JSON for /status; `summary()` is the
 * one-line debug log written once per second.
 */

export interface RateLimitStats {
  /** Flush interval (ms). */
  tick_ms: number
  /** Counters (rows) in the last flush, and on average per flush over the last 10 s. */
  counters_last_flush: number
  counters_per_flush: number
  /** Statements (PostgreSQL) / scripts (Redis) per second over the last 10 s, and in total. */
  statements_per_second: number
  statements_total: number
  flush_errors_total: number
  last_error: string | null
  /** Flush latency (ms): last, mean and max over the last 10 s. */
  flush_latency_ms: { last: number; mean: number; max: number }
  /**
   * Age (ms) of the totals the workers enforce: time since the last successful flush of every
   * store in use (the workers read them from the shared table, so it is one age for all).
   */
  sync_lag_ms: number
  /** Counters the primary tracks (cluster/redis, current windows). */
  active_counters: number
  /** Requests admitted above a limit: cluster-wide usage over lim seen in current windows, and the total of ended windows. */
  overshoot: { current: number; total: number }
  /** Requests admitted by this node while its store was unreachable (fault_tolerant). */
  degraded_admissions: number
  /** Requests that waited for quota, and requests parked right now is per worker (not here). */
  quota_waits: number
  /** Stores that failed at their last flush. */
  stores_down: string[]
  table: { slots: number; inserts: number; reuses: number; full: number }
}

const WINDOW_MS = 10_000

/** Flush timings over a sliding 10 s window. */
export class FlushMeter {
  #at: number[] = []
  #ms: number[] = []
  #rows: number[] = []
  statements = 0
  errors = 0
  lastMs = 0
  lastRows = 0

  record (at: number, ms: number, rows: number, statements: number): void {
    this.#at.push(at)
    this.#ms.push(ms)
    this.#rows.push(rows)
    this.statements += statements
    this.lastMs = ms
    this.lastRows = rows
    this.#trim(at)
  }

  #trim (t: number): void {
    let i = 0
    while (i < this.#at.length && this.#at[i]! < t - WINDOW_MS) i++
    if (i > 0) {
      this.#at.splice(0, i)
      this.#ms.splice(0, i)
      this.#rows.splice(0, i)
    }
  }

  view (t: number): { perSecond: number; mean: number; max: number; rowsPerFlush: number } {
    this.#trim(t)
    const n = this.#at.length
    if (n === 0) return { perSecond: 0, mean: 0, max: 0, rowsPerFlush: 0 }
    let sum = 0
    let max = 0
    let rows = 0
    for (let i = 0; i < n; i++) {
      sum += this.#ms[i]!
      if (this.#ms[i]! > max) max = this.#ms[i]!
      rows += this.#rows[i]!
    }
    const span = Math.max(1000, Math.min(WINDOW_MS, t - this.#at[0]! + 1))
    return { perSecond: (n * 1000) / span, mean: sum / n, max, rowsPerFlush: rows / n }
  }
}

export function summary (s: RateLimitStats): string {
  return `ratelimit: ${s.statements_per_second.toFixed(1)} stmt/s, ${s.counters_per_flush.toFixed(1)} counters/flush, ` +
    `flush ${s.flush_latency_ms.mean.toFixed(2)} ms (max ${s.flush_latency_ms.max.toFixed(2)}), lag ${s.sync_lag_ms} ms, ` +
    `${s.active_counters} counters, overshoot ${s.overshoot.current}/${s.overshoot.total}, degraded ${s.degraded_admissions}` +
    (s.stores_down.length > 0 ? `, DOWN: ${s.stores_down.join(' ')}` : '')
}
