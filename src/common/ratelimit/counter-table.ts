/**
 * The node's rate-limit counter table: a SharedArrayBuffer of fixed 64-byte slots shared by the
 * primary and every worker of the node, updated with Atomics. It is what makes the `local` policy
 * exact across workers (Kong's `kong_rate_limiting_counters` shared dict does the same across nginx
 * workers), and it holds the per-node state of the `cluster` and `redis` policies: the quota the
 * node holds, what it has used, what the other nodes used, so no message is needed per request.
 *
 * A slot is one counter: (scope, identifier, period, window) hashed to two 32-bit lanes. Slot
 * lifecycle:
 *
 *   EMPTY --insert (under the insert lock)--> WRITING --fields, then H1/H2, then--> LIVE
 *     LIVE --window ended + grace (EXPIRES passed), reused by an insert under the lock--> WRITING
 *
 * - Lookups are lock-free: a linear probe from H1 & mask comparing both hash lanes, stopping at an
 *   EMPTY slot. A writer stores every field before the two hash lanes, so a reader that sees both
 *   lanes of its key sees an initialised slot. A slot is never made EMPTY again (that would cut
 *   probe chains); expired slots are reused in place, and GEN changes on each reuse so the primary
 *   can tell a reused slot from the one it knew.
 * - Inserts take one spin lock (H_LOCK) for a few hundred nanoseconds, once per key and window;
 *   under it the chain is probed again, so a key is never inserted twice.
 * - Counting is a CAS loop on USED against a limit (local), or on AVAIL, the quota held and not yet
 *   used (cluster/redis): never more than the limit / the quota held is admitted, whatever the
 *   concurrency. Grants add to AVAIL, giving quota back takes from it; all in one word.
 */
import { lanes } from './hash.ts'

export const SLOT_INTS = 16
export const HEADER_INTS = 16
const MAX_PROBE = 128
/** Default slot count: 65536 slots x 64 bytes = 4 MiB. */
export const DEFAULT_SLOTS = 65536

// Header words.
const H_LOCK = 0
const H_CAPACITY = 1
const H_INSERTS = 2
const H_REUSES = 3
const H_FULL = 4
const H_MAGIC = 5
/** Requests admitted while the store was unreachable (fault_tolerant), node-wide. */
export const H_DEGRADED = 6
/** Requests that waited for quota, node-wide. */
export const H_WAITS = 7
/**
 * Words 8..13: per period index, the window id for which this node holds a provisional ticket
 * (primary/ratelimit/reservation.ts, provisionalShare): a counter of that window created now starts
 * with its provisional share in AVAIL. 0: none.
 */
export const H_TICKET = 8
const MAGIC = 0x534c5243

// Slot words.
export const S_STATE = 0
export const S_H1 = 1
export const S_H2 = 2
/** Seconds since WINDOW_EPOCH after which the slot may be reused. */
export const S_EXPIRES = 3
/** Admitted on this node (local: the counter; cluster/redis: admitted, from quota or while degraded). */
export const S_USED = 4
/** Quota granted to this node by the store and not used yet (cluster/redis). */
export const S_AVAIL = 5
/** Usage of the other nodes, as of the last sync (cluster/redis; headers only). */
export const S_OTHERS = 6
export const S_FLAGS = 7
/** Set by workers when the counter is read; swapped to 0 by the primary at each flush. */
export const S_TOUCHED = 8
/** Requests that found no quota held since the last flush (cluster/redis). */
export const S_DEMAND = 9
/** The limit in force (ceil of the configured number), for the store. */
export const S_LIM = 10
/** Window id (seconds since WINDOW_EPOCH of the window start). */
export const S_WINDOW = 11
export const S_PERIOD = 12
/** Incremented each time the slot is claimed for a key. */
export const S_GEN = 13
/** The limit the store enforces (sliding: lowered by the previous window); 0 before the first answer. */
export const S_STORE_LIM = 14
/** Provisional quota put in AVAIL when the slot was created (never reserved in the store: not given back). */
export const S_PROV = 15

const ST_EMPTY = 0
const ST_WRITING = 1
const ST_LIVE = 2

/** The store answered that the quota of this window is gone for every node. */
export const FLAG_EXHAUSTED = 1
/** The primary knows the counter (a worker whose registration was lost sends it again). */
export const FLAG_REGISTERED = 2

export interface TableStats {
  capacity: number
  inserts: number
  reuses: number
  full: number
}

export class CounterTable {
  readonly buffer: SharedArrayBuffer
  readonly i32: Int32Array
  readonly capacity: number
  readonly #mask: number
  /** Set by findOrInsert: the slot returned was created by this call. */
  created = false

  static create (slots = DEFAULT_SLOTS): CounterTable {
    let n = 1
    while (n < slots) n <<= 1
    const buffer = new SharedArrayBuffer((HEADER_INTS + n * SLOT_INTS) * 4)
    const i32 = new Int32Array(buffer)
    i32[H_CAPACITY] = n
    i32[H_MAGIC] = MAGIC
    return new CounterTable(buffer)
  }

  constructor (buffer: SharedArrayBuffer) {
    this.buffer = buffer
    this.i32 = new Int32Array(buffer)
    if (this.i32[H_MAGIC] !== MAGIC) throw new Error('not a rate-limit counter table')
    this.capacity = this.i32[H_CAPACITY]!
    this.#mask = this.capacity - 1
  }

  /** Word offset of a slot's first field. */
  base (slot: number): number {
    return HEADER_INTS + slot * SLOT_INTS
  }

  load (slot: number, field: number): number {
    return Atomics.load(this.i32, HEADER_INTS + slot * SLOT_INTS + field)
  }

  store (slot: number, field: number, v: number): void {
    Atomics.store(this.i32, HEADER_INTS + slot * SLOT_INTS + field, v)
  }

  add (slot: number, field: number, v: number): number {
    return Atomics.add(this.i32, HEADER_INTS + slot * SLOT_INTS + field, v)
  }

  exchange (slot: number, field: number, v: number): number {
    return Atomics.exchange(this.i32, HEADER_INTS + slot * SLOT_INTS + field, v)
  }

  /** Lock-free lookup of the key in `lanes` (hash.ts). -1 when absent. */
  find (h1: number, h2: number): number {
    const a = this.i32
    let idx = (h1 >>> 0) & this.#mask
    for (let p = 0; p < MAX_PROBE; p++) {
      const b = HEADER_INTS + idx * SLOT_INTS
      // H2 is stored last by a writer: seeing it, the other fields are visible too.
      if (Atomics.load(a, b + S_H2) === h2 && Atomics.load(a, b + S_H1) === h1) return idx
      if (Atomics.load(a, b + S_STATE) === ST_EMPTY) return -1
      idx = (idx + 1) & this.#mask
    }
    return -1
  }

  /**
   * The slot of the key left in `lanes` by hashFinish, inserting it when absent. `nowId` is the
   * current time in window-id seconds (expired slots are reused); `expires` the window id after
   * which this key's slot may be reused; `provisional` the quota a new slot starts with in AVAIL
   * (and S_PROV). Sets `created`. -1 when the table is full near the key.
   */
  findOrInsert (nowId: number, expires: number, windowId: number, period: number, lim: number, provisional = 0): number {
    const h1 = lanes[0]!
    const h2 = lanes[1]!
    this.created = false
    const found = this.find(h1, h2)
    if (found >= 0) return found
    const a = this.i32
    this.#lock()
    try {
      let idx = (h1 >>> 0) & this.#mask
      let candidate = -1
      for (let p = 0; p < MAX_PROBE; p++) {
        const b = HEADER_INTS + idx * SLOT_INTS
        if (a[b + S_H1] === h1 && a[b + S_H2] === h2) return idx
        const st = a[b + S_STATE]!
        if (st === ST_EMPTY) {
          if (candidate < 0) candidate = idx
          break
        }
        if (candidate < 0 && a[b + S_EXPIRES]! < nowId) candidate = idx
        idx = (idx + 1) & this.#mask
      }
      if (candidate < 0) {
        Atomics.add(a, H_FULL, 1)
        return -1
      }
      const b = HEADER_INTS + candidate * SLOT_INTS
      const reused = a[b + S_STATE] === ST_LIVE
      Atomics.store(a, b + S_STATE, ST_WRITING)
      Atomics.add(a, b + S_GEN, 1)
      Atomics.store(a, b + S_EXPIRES, expires)
      Atomics.store(a, b + S_USED, 0)
      Atomics.store(a, b + S_AVAIL, provisional)
      Atomics.store(a, b + S_PROV, provisional)
      Atomics.store(a, b + S_OTHERS, 0)
      Atomics.store(a, b + S_FLAGS, 0)
      Atomics.store(a, b + S_TOUCHED, 1)
      Atomics.store(a, b + S_DEMAND, 0)
      Atomics.store(a, b + S_LIM, lim)
      Atomics.store(a, b + S_STORE_LIM, 0)
      Atomics.store(a, b + S_WINDOW, windowId)
      Atomics.store(a, b + S_PERIOD, period)
      Atomics.store(a, b + S_H1, h1)
      Atomics.store(a, b + S_H2, h2)
      Atomics.store(a, b + S_STATE, ST_LIVE)
      Atomics.add(a, reused ? H_REUSES : H_INSERTS, 1)
      this.created = true
      return candidate
    } finally {
      this.#unlock()
    }
  }

  /** Admits one against `limit` (local policy). Returns the new count, or -1 (and counts nothing). */
  acquire (slot: number, limit: number): number {
    const a = this.i32
    const i = HEADER_INTS + slot * SLOT_INTS + S_USED
    for (;;) {
      const used = Atomics.load(a, i)
      if (used >= limit) return -1
      if (Atomics.compareExchange(a, i, used, used + 1) === used) return used + 1
    }
  }

  /** Admits one against the quota held (cluster/redis): AVAIL-1, USED+1. Returns the new USED, or -1. */
  acquireHeld (slot: number): number {
    const a = this.i32
    const b = HEADER_INTS + slot * SLOT_INTS
    for (;;) {
      const avail = Atomics.load(a, b + S_AVAIL)
      if (avail <= 0) return -1
      if (Atomics.compareExchange(a, b + S_AVAIL, avail, avail - 1) === avail) return Atomics.add(a, b + S_USED, 1) + 1
    }
  }

  /** Takes back one admission of acquire() (another period of the same request refused it). */
  release (slot: number): void {
    Atomics.sub(this.i32, HEADER_INTS + slot * SLOT_INTS + S_USED, 1)
  }

  /** Takes back one admission of acquireHeld(). */
  releaseHeld (slot: number): void {
    const b = HEADER_INTS + slot * SLOT_INTS
    Atomics.sub(this.i32, b + S_USED, 1)
    Atomics.add(this.i32, b + S_AVAIL, 1)
  }

  /** Adds quota granted by the store. */
  grant (slot: number, n: number): void {
    Atomics.add(this.i32, HEADER_INTS + slot * SLOT_INTS + S_AVAIL, n)
  }

  /** Takes back up to `n` units of unused quota (to return them to the store). Returns how many. */
  takeBack (slot: number, n: number): number {
    const a = this.i32
    const i = HEADER_INTS + slot * SLOT_INTS + S_AVAIL
    for (;;) {
      const avail = Atomics.load(a, i)
      const back = Math.min(n, avail)
      if (back <= 0) return 0
      if (Atomics.compareExchange(a, i, avail, avail - back) === avail) return back
    }
  }

  /** Sets or clears bits of a slot's FLAGS, leaving the others. */
  setFlag (slot: number, flag: number, on: boolean): void {
    const i = HEADER_INTS + slot * SLOT_INTS + S_FLAGS
    if (on) Atomics.or(this.i32, i, flag)
    else Atomics.and(this.i32, i, ~flag)
  }

  /** Adds to a node-wide header counter (H_DEGRADED, H_WAITS). */
  bump (word: number): void {
    Atomics.add(this.i32, word, 1)
  }

  setHeader (word: number, v: number): void {
    Atomics.store(this.i32, word, v)
  }

  header (word: number): number {
    return Atomics.load(this.i32, word)
  }

  stats (): TableStats {
    const a = this.i32
    return {
      capacity: this.capacity,
      inserts: Atomics.load(a, H_INSERTS),
      reuses: Atomics.load(a, H_REUSES),
      full: Atomics.load(a, H_FULL),
    }
  }

  /** Live slots whose EXPIRES is not yet passed (a scan: for /status, not for the hot path). */
  countLive (nowId: number): number {
    const a = this.i32
    let n = 0
    for (let s = 0; s < this.capacity; s++) {
      const b = HEADER_INTS + s * SLOT_INTS
      if (a[b + S_STATE] === ST_LIVE && a[b + S_EXPIRES]! >= nowId) n++
    }
    return n
  }

  #lock (): void {
    const a = this.i32
    if (Atomics.compareExchange(a, H_LOCK, 0, 1) === 0) return
    let spins = 0
    const t0 = Date.now()
    for (;;) {
      if (Atomics.load(a, H_LOCK) === 0 && Atomics.compareExchange(a, H_LOCK, 0, 1) === 0) return
      if (++spins > 1000) {
        spins = 0
        // A thread terminated inside the few stores above would leave the lock held: after 200 ms
        // (the section takes well under a microsecond) take it over.
        if (Date.now() - t0 > 200) {
          Atomics.store(a, H_LOCK, 1)
          return
        }
        try { Atomics.wait(a, H_LOCK, 1, 1) } catch { /* main thread: cannot block, keep spinning */ }
      }
    }
  }

  #unlock (): void {
    Atomics.store(this.i32, H_LOCK, 0)
    Atomics.notify(this.i32, H_LOCK, 1)
  }
}
