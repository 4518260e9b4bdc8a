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
