/**
 * Fixed windows aligned to UTC calendar periods, as kong/tools/timestamp.lua `get_timestamps`:
 * second, minute, hour and day by division; month from the 1st at 00:00 UTC; year from Jan 1.
 * Window starts are also kept as "window ids": seconds since WINDOW_EPOCH, which fit an Int32 slot of
 * the shared counter table until 2088.
 */
import { EXPIRATION, PERIODS } from './periods.ts'

/** 2020-01-01T00:00:00Z in seconds. */
export const WINDOW_EPOCH = 1577836800

export interface Windows {
  /** Start of the second containing the instant the windows were computed for. */
  readonly secondStart: number
  /** Start (ms) of the current window of each period, indexed like PERIODS. */
  readonly start: Float64Array
  /** End (ms, exclusive) of each current window. */
  readonly end: Float64Array
  /** Start of the previous window of each period (sliding windows weigh it). */
  readonly prevStart: Float64Array
}

export function computeWindows (t: number): Windows {
  const start = new Float64Array(PERIODS.length)
  const end = new Float64Array(PERIODS.length)
  const prevStart = new Float64Array(PERIODS.length)
  const d = new Date(t)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth()
  const spans = [1000, 60_000, 3_600_000, 86_400_000]
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i]!
    start[i] = Math.floor(t / s) * s
    end[i] = start[i]! + s
    prevStart[i] = start[i]! - s
  }
  start[4] = Date.UTC(y, m, 1)
  end[4] = Date.UTC(y, m + 1, 1)
  prevStart[4] = Date.UTC(y, m - 1, 1)
  start[5] = Date.UTC(y, 0, 1)
  end[5] = Date.UTC(y + 1, 0, 1)
  prevStart[5] = Date.UTC(y - 1, 0, 1)
  return { secondStart: start[0]!, start, end, prevStart }
}

/** Window start (ms) -> window id (seconds since WINDOW_EPOCH). */
export function windowId (startMs: number): number {
  return startMs / 1000 - WINDOW_EPOCH
}

/** Window id -> start in seconds since the Unix epoch (Kong's period_date). */
export function windowIdToUnix (id: number): number {
  return id + WINDOW_EPOCH
}

/**
 * RateLimit-Reset / Retry-After, exactly as Kong computes it: `max(1, EXPIRATION - elapsed)`,
 * elapsed in whole seconds of a second-precision clock. (For month this counts 30 days from the
 * 1st, as Kong does, whatever the month's length.)
 */
export function resetSeconds (period: number, nowMs: number, w: Windows): number {
  const nowS = Math.floor(nowMs / 1000) * 1000
  return Math.max(1, EXPIRATION[period]! - Math.floor((nowS - w.start[period]!) / 1000))
}

/**
 * Sliding window weight of the previous window: the share of it that still overlaps a window of the
 * period's length ending now (1 at the start of the current window, 0 at its end).
 */
export function previousWeight (period: number, nowMs: number, w: Windows): number {
  const s = w.start[period]!
  const len = w.end[period]! - s
  const f = (nowMs - s) / len
  return f >= 1 ? 0 : f <= 0 ? 1 : 1 - f
}
