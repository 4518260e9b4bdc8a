/**
 * Quota reservation for the `cluster` and `redis` policies: how a node keeps the cluster-wide count
 * of a window at or under the limit without a database call per request.
 *
 * The store row of a counter (ratelimiting_metrics, or the Redis key beside Kong's) holds `value`
 * (requests admitted by every node, as in Kong) and `reserved` (quota handed out to nodes, never
 * above `lim`). A node admits a request only by taking one unit of quota it holds (AVAIL in the
 * shared counter table, one CAS, exact across its workers). Quota comes from the store, in the
 * same statement that writes the node's delta, as a grant of least(want, lim - reserved). So:
 *
 *   admitted by the cluster <= sum of grants <= reserved <= lim          (in every window)
 *
 * whatever the concurrency, the number of nodes or the sync interval. The cost is that a request
 * may wait for quota (at most a tick, usually not at all thanks to prefetch), and that quota held
 * by a node when its clients stop is stranded, hence the give-back. This module decides `want`,
 * once per tick and counter, on the primary.
 *
 * Per counter (key, window) on one node:
 *
 *   NO_QUOTA --a request finds AVAIL = 0: DEMAND++, it parks, the worker wakes the primary--> ASKING
 *   ASKING --flush grants g > 0: AVAIL += g, parked requests re-check--> HOLDING
 *   ASKING --flush grants 0 and reserved = lim--> EXHAUSTED: flag set, requests get 429 at once
 *   HOLDING --AVAIL below PREFETCH_TICKS of traffic--> ASKING (the next block arrives before
 *            AVAIL runs out: steady traffic never waits)
 *   HOLDING --no admission and no demand for IDLE_TICKS, and quota scarce (less than a quarter of
 *            lim left to hand out)--> GIVING_BACK: AVAIL taken back with one CAS and sent as a
 *            negative want, reserved shrinks, other nodes can have it --> NO_QUOTA
 *   HOLDING --idle while quota is plentiful--> stays HOLDING (its next burst does not wait), its row
 *            written every REFRESH_TICKS so that it learns when quota becomes scarce (a node
 *            with 1,000 idle keys writes 500 rows a second, not 2,000 as at every IDLE_TICKS)
 *   EXHAUSTED --DEMAND seen at a tick (requests still refused)--> ASKING again: picks up quota
 *            given back by another node; the row is in the statement anyway
 *   any --window ended--> want 0 (deltas still flushed; the entry is dropped after DROP_AFTER_MS)
 *
 * Block size: enough for BLOCK_TICKS ticks at the admission rate seen (EWMA per tick), or
 * BLOCK_TICKS_PLENTIFUL while quota is plentiful (not scarce), at least the requests waiting and
 * MIN_BLOCK, and never more than a quarter of what the store last said is left (lim - reserved):
 * early in a window nodes take big blocks, near the end small ones, so the quota left stranded
 * when demand stops is a small share of the limit.
 *
 * Lazy deltas: a counter's row that would carry only its usage (no want, no demand) is written at
 * most every DELTA_TICKS while quota is plentiful (writer.ts). The bound above does not depend on
 * `value` (reserved already covers every admission), so this only delays what other nodes see of
 * this node's usage in their X-RateLimit-Remaining headers; when quota is scarce every delta goes
 * out at the next tick again. The store's work per counter drops from one row per tick to about one
 * per DELTA_TICKS under steady load.
 *
 * Provisional quota (a key's first request must not wait a tick): a node holding a *ticket* for a
 * (period, window) starts every counter of that window it creates with AVAIL = provisionalShare(lim)
 * (S_PROV), admitted with no store round trip. Safe by construction: a ticket is one row of the flush
 * statement (identifier TICKET_ID, value += 1 per node process and window) and is valid only while
 * its count is <= PROVISIONAL_NODES, so at most PROVISIONAL_NODES node processes (restarts included)
 * hold provisional quota for any key of a window; and every grant is computed against
 * grantLimit(lim) = lim - PROVISIONAL_NODES * share, leaving room for all of them:
 *
 *   admitted <= grants + provisional <= (lim - N * share) + N * share = lim
 *
 * share = floor(lim / (PROVISIONAL_NODES * POOL_DIV)), so the room kept is at most lim / POOL_DIV
 * (1.6 %), and 0 below PROVISIONAL_NODES * POOL_DIV = 1024 (small limits work as before: a new key
 * waits for its first flush). Provisional units are never given back (they were never reserved).
 * PostgreSQL store and fixed windows only (Redis and sliding windows: share 0).
 *
 * When the store is unreachable (flush rejected, or a parked request waits longer than waitMs)
 * the workers degrade per request: fault_tolerant counts USED against the whole limit on this node
 * (Kong's local policy), otherwise 500. The next successful flush carries those admissions as
 * delta, and the store's base, greatest(reserved, value), accounts for them before any new grant:
 * no burst when the store comes back.
 */

import { POOL_DIV, PROVISIONAL_NODES, provisionalShare } from '../../common/ratelimit/provisional.ts'

export const BLOCK_TICKS = 8
export const BLOCK_TICKS_PLENTIFUL = 16
/** While quota is plentiful, a delta-only row waits up to this many ticks (writer.ts). */
export const DELTA_TICKS = 10
export const PREFETCH_TICKS = 4
export const IDLE_TICKS = 5
/** An idle counter holding plentiful quota is written this often (to learn when quota gets scarce). */
export const REFRESH_TICKS = 20
export const MIN_BLOCK = 16
export { POOL_DIV, PROVISIONAL_NODES, provisionalShare }
/** Store identifier of the ticket rows (no consumer, credential, IP or header value looks like it). */
export const TICKET_ID = 'sluice:provisional-ticket'

/** What the store may grant in total: the limit less the room of every ticket holder. */
export function grantLimit (lim: number): number {
  return lim - PROVISIONAL_NODES * provisionalShare(lim)
}

export interface Reservation {
  /** USED already written to the store. */
  flushed: number
  /** USED at the previous tick (for the rate). */
  lastUsed: number
  /** Admissions per tick (EWMA). */
  rate: number
  /** Ticks in a row with no admission and no demand. */
  idleTicks: number
  /** Store's answer at the last flush (-1: none yet). */
  reserved: number
  lim: number
  value: number
  exhausted: boolean
  /** Idle with quota while quota is plentiful: write the row now and then to learn if it gets scarce. */
  refresh: boolean
}

export function newReservation (): Reservation {
  return { flushed: 0, lastUsed: 0, rate: 0, idleTicks: 0, reserved: -1, lim: 0, value: 0, exhausted: false, refresh: false }
}

/** Less than a quarter of the window's quota is left to hand out (or none). */
export function scarce (r: Reservation): boolean {
  return r.reserved >= 0 && (r.lim - r.reserved) * 4 < r.lim
}

/**
 * `want` for this tick: > 0 asks for quota, < 0 offers `-want` units back (the caller takes them
 * out of AVAIL first and sends what it got), 0 neither.
 */
export function planWant (r: Reservation, used: number, avail: number, demand: number, lim: number, windowOpen: boolean, provisional = 0): number {
  const admitted = used - r.lastUsed
  r.lastUsed = used
  r.rate = r.rate * 0.5 + admitted * 0.5
  r.idleTicks = admitted > 0 || demand > 0 ? 0 : r.idleTicks + 1
  r.refresh = false
  if (!windowOpen) return 0
  if (r.idleTicks >= IDLE_TICKS && avail > 0) {
    // Quota held by an idle node only hurts when others may run short; otherwise keeping it saves
    // the node's next burst from waiting.
    // Only granted quota goes back: AVAIL - S_PROV <= grants not used yet.
    if (scarce(r)) return avail > provisional ? provisional - avail : 0
    r.refresh = true
    return 0
  }
  if (r.exhausted && demand === 0) return 0
  const lowWater = Math.ceil(r.rate * PREFETCH_TICKS)
  if (demand === 0 && avail >= lowWater) return 0
  if (demand === 0 && avail > 0 && r.rate === 0) return 0
  const left = Math.max(0, (r.reserved < 0 ? lim : Math.min(lim, r.lim) - r.reserved))
  const cap = Math.max(1, Math.ceil(left / 4))
  const ticks = r.reserved >= 0 && !scarce(r) ? BLOCK_TICKS_PLENTIFUL : BLOCK_TICKS
  const block = Math.max(demand, Math.ceil(r.rate * ticks), MIN_BLOCK)
  return Math.min(block, cap)
}

/** Records the store's answer. Returns true when the exhausted state changed. */
export function applyResult (r: Reservation, delta: number, value: number, reserved: number, lim: number): boolean {
  r.flushed += delta
  r.value = value
  r.reserved = reserved
  r.lim = lim
  const ex = reserved >= lim
  const changed = ex !== r.exhausted
  r.exhausted = ex
  return changed
}
