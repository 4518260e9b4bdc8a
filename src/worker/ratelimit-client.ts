/**
 * The worker's side of rate limiting: the node's shared counter table (received in `rl-init`; a
 * private one until then, e.g. under a test harness with no primary), the registration of new
 * counters with the primary, and requests parked while the node has no quota for their counter.
 *
 * Messages to the primary are batched: at most one `rl-deltas` per tick. A registration alone
 * waits for the tick; a request that needs quota marks the batch `wake` and the batch goes out at
 * once if the previous one is a tick old (leading edge), else at the end of the tick.
 *
 * A parked request, one state machine per waiter:
 *
 *   WAITING --rl-totals names its slot--> woken(true): the handler re-checks (quota, exhausted)
 *      |---rl-totals names its store as down--> woken(false): the store failed
 *      +---waitMs passed (swept once per tick)--> woken(false): the store is too slow
 *
 * woken(false) is "the store is unreachable" for the handler: fault_tolerant counts locally,
 * otherwise 500.
 */
import type { RlInit, RlTotals, WorkerToPrimary } from '../common/protocol.ts'
import { CounterTable, S_GEN } from '../common/ratelimit/counter-table.ts'
import { now } from '../common/ratelimit/clock.ts'
import type { CounterKey, RedisSettings, StoreKey } from '../common/ratelimit/keys.ts'

interface Waiter {
  readonly resolve: (ok: boolean) => void
  readonly store: StoreKey
  readonly deadline: number
}

const DEFAULT_TICK_MS = 100
const DEFAULT_WAIT_MS = 1000

export class RateLimitClient {
  table: CounterTable
  /** true once the node's table arrived (false: a private table, exact for this worker only). */
  shared = false
  tickMs = DEFAULT_TICK_MS
  waitMs = DEFAULT_WAIT_MS
  /** Time of the last `rl-totals` (0: none yet). */
  lastTotalsAt = 0

  #post: ((m: WorkerToPrimary) => void) | null = null
  #workerId = 0
  #slots: number[] = []
  #gens: number[] = []
  #keys: CounterKey[] = []
  /** Slots in the batch being built (one registration per slot per batch). */
  #inBatch = new Set<number>()
  #stores: Array<{ key: StoreKey; redis: RedisSettings }> = []
  #knownStores = new Set<StoreKey>()
  #wake = false
  #lastPost = 0
  #timer: NodeJS.Timeout | null = null
  #waiters = new Map<number, Waiter[]>()
  #waiting = 0
  #sweep: NodeJS.Timeout | null = null
  #down = new Set<StoreKey>()

  constructor () {
    this.table = CounterTable.create(4096)
  }

  /** main.ts: how to reach the primary. */
  connect (workerId: number, post: (m: WorkerToPrimary) => void): void {
    this.#workerId = workerId
    this.#post = post
  }

  onInit (msg: RlInit): void {
    this.table = new CounterTable(msg.table)
    this.shared = true
    this.tickMs = msg.tickMs
    this.waitMs = msg.waitMs
  }

  onTotals (msg: RlTotals): void {
    this.lastTotalsAt = msg.at
    this.#down.clear()
    for (const s of msg.down) this.#down.add(s)
    if (this.#waiting === 0) return
    for (const slot of msg.slots) {
      const list = this.#waiters.get(slot)
      if (list === undefined) continue
      this.#waiters.delete(slot)
      this.#waiting -= list.length
      for (const w of list) w.resolve(true)
    }
    if (msg.down.length > 0) {
      for (const [slot, list] of this.#waiters) {
        const keep = list.filter((w) => !this.#down.has(w.store))
        if (keep.length === list.length) continue
        for (const w of list) if (this.#down.has(w.store)) w.resolve(false)
        this.#waiting -= list.length - keep.length
        if (keep.length === 0) this.#waiters.delete(slot)
        else this.#waiters.set(slot, keep)
      }
    }
  }

  /** The store failed at the last flush (and has not answered since). */
  storeDown (store: StoreKey): boolean {
    return this.#down.size > 0 && this.#down.has(store)
  }

  /**
   * A counter this worker created, or found unknown to the primary (FLAG_REGISTERED unset: the
   * worker that created it died before its batch left): the primary learns it with the next batch.
   */
  register (slot: number, key: CounterKey, redis: RedisSettings | null): void {
    if (this.#post === null || this.#inBatch.has(slot)) return
    this.#inBatch.add(slot)
    this.#slots.push(slot)
    this.#gens.push(this.table.load(slot, S_GEN))
    this.#keys.push(key)
    if (redis !== null && !this.#knownStores.has(key.store)) {
      this.#knownStores.add(key.store)
      this.#stores.push({ key: key.store, redis })
    }
    this.#schedule(false)
  }

  /** Parks a request until its slot changes, its store fails, or `deadline` (clock.ts time) passes. */
  wait (slot: number, store: StoreKey, deadline: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const w: Waiter = { resolve, store, deadline }
      const list = this.#waiters.get(slot)
      if (list === undefined) this.#waiters.set(slot, [w])
      else list.push(w)
      this.#waiting++
      if (this.#sweep === null) {
        this.#sweep = setInterval(() => { this.#expire() }, Math.max(10, Math.min(this.tickMs, 100)))
        this.#sweep.unref()
      }
      this.#schedule(true)
    })
  }

  /** Requests parked now (observability). */
  waiting (): number {
    return this.#waiting
  }

  #expire (): void {
    const t = now()
    for (const [slot, list] of this.#waiters) {
      const keep: Waiter[] = []
      for (const w of list) {
        if (w.deadline <= t) { w.resolve(false); this.#waiting-- } else keep.push(w)
      }
      if (keep.length === 0) this.#waiters.delete(slot)
      else if (keep.length !== list.length) this.#waiters.set(slot, keep)
    }
    if (this.#waiting === 0 && this.#sweep !== null) {
      clearInterval(this.#sweep)
      this.#sweep = null
    }
  }

  #schedule (wake: boolean): void {
    if (wake) this.#wake = true
    if (this.#post === null) return
    const due = this.#lastPost + this.tickMs - Date.now()
    if (this.#wake && due <= 0) {
      if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null }
      this.#flush()
      return
    }
    if (this.#timer !== null) return
    this.#timer = setTimeout(() => { this.#timer = null; this.#flush() }, Math.max(0, due))
  }

  #flush (): void {
    if (this.#post === null) return
    if (this.#slots.length === 0 && this.#stores.length === 0 && !this.#wake) return
    this.#lastPost = Date.now()
    const msg: WorkerToPrimary = {
      type: 'rl-deltas',
      workerId: this.#workerId,
      slots: this.#slots,
      gens: this.#gens,
      keys: this.#keys,
      stores: this.#stores,
      wake: this.#wake,
    }
    this.#slots = []
    this.#inBatch.clear()
    this.#gens = []
    this.#keys = []
    this.#stores = []
    this.#wake = false
    this.#post(msg)
  }

  /** Draining: sends what is pending and wakes every parked request (they fail over as unreachable). */
  close (): void {
    if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null }
    this.#flush()
    for (const list of this.#waiters.values()) for (const w of list) w.resolve(false)
    this.#waiters.clear()
    this.#waiting = 0
    if (this.#sweep !== null) { clearInterval(this.#sweep); this.#sweep = null }
  }
}

/** The one client of this worker thread. */
export const rateLimitClient = new RateLimitClient()
