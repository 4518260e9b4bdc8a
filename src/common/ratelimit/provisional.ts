/**
 * Provisional quota (primary/ratelimit/reservation.ts explains why it is safe): shared by the
 * workers, which put it in a new counter's AVAIL, and the primary, which keeps room for it.
 */

/** Node processes per window that may hold provisional quota (tickets beyond are refused). */
export const PROVISIONAL_NODES = 16
/** The room kept for provisional quota is at most lim / POOL_DIV. */
export const POOL_DIV = 64

/** Provisional quota of one node for one new key of a window (0 below PROVISIONAL_NODES * POOL_DIV). */
export function provisionalShare (lim: number): number {
  return Math.floor(lim / (PROVISIONAL_NODES * POOL_DIV))
}
