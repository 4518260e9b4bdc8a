/**
 * Coarse timers for the `net` transport: one unref'd interval per thread, running only while some
 * pool has connections, calls every registered sweeper each TICK_MS. Connections do not read the
 * clock or touch a timer on the hot path: they bump an `activity` counter on every read or write
 * progress and the sweep notices it (see net-connection.ts `sweep`). A timeout therefore fires
 * between its value and its value plus two ticks (0-100 ms late): nginx's own timers are of the
 * same order, and Kong's timeouts are seconds.
 */

export const TICK_MS = 50

export interface Sweeper {
  sweep (now: number): void
}

const sweepers = new Set<Sweeper>()
let interval: NodeJS.Timeout | null = null

function tick (): void {
  const now = performance.now()
  for (const s of sweepers) s.sweep(now)
}

export function watch (s: Sweeper): void {
  sweepers.add(s)
  if (interval === null) {
    interval = setInterval(tick, TICK_MS)
    interval.unref()
  }
}

export function unwatch (s: Sweeper): void {
  sweepers.delete(s)
  if (sweepers.size === 0 && interval !== null) {
    clearInterval(interval)
    interval = null
  }
}
