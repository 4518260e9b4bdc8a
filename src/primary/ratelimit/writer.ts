/**
 * The batched rate-limit writer of a node (primary thread). It owns the node's counter table
 * (common/ratelimit/counter-table.ts, shared with every worker), learns the columns of the
 * cluster/redis counters the workers create (`rl-deltas`), and once per tick writes every counter
 * that moved in one statement per store, reserving quota in the same statement
 * (reservation.ts). The answers go into the table (quota held, other nodes' usage, exhausted)
 * and an `rl-totals` to every worker wakes the requests parked on the counters that changed.
 *
 * Flush state machine (one per node; `tickMs` from the node's settings):
 *
 *   IDLE --a counter registered, or a worker's wake--> SCHEDULED (timer at lastStart + tickMs;
 *        at once if that is past: a lone request waits one round trip, not a tick)
 *   SCHEDULED --timer--> FLUSHING: read USED/AVAIL/DEMAND of every counter, plan wants, one
 *        statement per store in parallel (one pg connection: never two in flight)
 *   FLUSHING --wake or registration--> remembered (`again`)
 *   FLUSHING --answers--> apply, post rl-totals --> SCHEDULED if counters remain or `again`, else IDLE
 *   FLUSHING --store error--> its deltas stay unflushed (sent at the next tick), quota offered back
 *        is returned to AVAIL, the store is reported down in rl-totals until a flush succeeds
 *
 * Statements per second are therefore at most 1000 / tickMs per store, whatever the request
 * rate: at 20,000 req/s and the default 100 ms, 10 statements per second per node. Rows per
 * statement: a counter whose row would carry only its usage while quota is plentiful waits up to
 * DELTA_TICKS (reservation.ts, lazy deltas); drain() writes every pending delta at once.
 */
import { log } from '../../common/log.ts'
import type { RlDeltas, RlInit, RlTotals } from '../../common/protocol.ts'
import {
  CounterTable, DEFAULT_SLOTS, FLAG_EXHAUSTED, FLAG_REGISTERED, H_DEGRADED, H_WAITS,
  H_TICKET, S_AVAIL, S_DEMAND, S_GEN, S_LIM, S_OTHERS, S_PROV, S_STORE_LIM, S_TOUCHED, S_USED,
} from '../../common/ratelimit/counter-table.ts'
import { EMPTY_UUID, PG_STORE, type CounterKey, type RedisSettings, type StoreKey } from '../../common/ratelimit/keys.ts'
import { windowId, WINDOW_EPOCH } from '../../common/ratelimit/windows.ts'
import { SLOT_GRACE_S } from '../../common/ratelimit/plugin-conf.ts'
import {
  applyResult, DELTA_TICKS, grantLimit, newReservation, planWant, PREFETCH_TICKS, PROVISIONAL_NODES, provisionalShare, REFRESH_TICKS, scarce, TICKET_ID,
  type Reservation,
} from './reservation.ts'
import { nextWindowKey, slotHash } from './next-window.ts'
import { PgCounterStore, type PgStoreOptions } from './pg-store.ts'
import { RedisCounterStore } from './redis-store.ts'
import { FlushMeter, summary, type RateLimitStats } from './stats.ts'
import type { CounterStore, FlushResult, FlushRow } from './store.ts'

/** An ended window's counter is dropped this long after its end (its last delta is flushed first). */
const DROP_AFTER_MS = 2000
const GIVE_UP_AFTER_MS = 60_000

interface Entry {
  readonly slot: number
  readonly gen: number
  readonly key: CounterKey
  /** Store row identity (dedup within a statement). */
  readonly id: string
  readonly windowEndMs: number
  readonly res: Reservation
  /** Last time the counter was written (for Kong's sync_rate). */
  lastWrite: number
  /** Its next-window counter was created and asked for (next-window.ts). */
  prefetched: boolean
}

/** Weight of the previous window for a counter's own window at t (1 before it starts, 0 at its end). */
function slidingWeight (k: CounterKey, t: number): number {
  const f = (t / 1000 - k.windowStart) / (k.windowEnd - k.windowStart)
  return f <= 0 ? 1 : f >= 1 ? 0 : 1 - f
}

function entryId (key: CounterKey): string {
  return `${key.table}\u0000${key.store}\u0000${key.period}\u0000${key.windowStart}\u0000${key.serviceId}\u0000${key.routeId}\u0000${key.identifier}`
}

/**
 * How long a counter's row may wait while it carries only usage (no want, no demand): Kong's
 * sync_rate when set, DELTA_TICKS while its quota is plentiful (reservation.ts, lazy deltas),
 * else 0 (the next tick). Response-ratelimiting rows reserve nothing: never lazy.
 */
export function deltaWaitMs (k: CounterKey, r: Reservation, tickMs: number): number {
  if (k.syncMs > 0) return k.syncMs
  return k.table === 'rl' && r.reserved >= 0 && !scarce(r) ? DELTA_TICKS * tickMs : 0
}

/** Fixed-window counters of the PostgreSQL store may hold provisional quota (reservation.ts). */
function provisional (k: CounterKey, lim: number): boolean {
  return k.table === 'rl' && k.store === PG_STORE && k.prevStart === null && provisionalShare(lim) > 0
}

/** The ticket row of a (period, window) (reservation.ts: at most PROVISIONAL_NODES holders). */
function ticketKey (k: CounterKey): CounterKey {
  return { ...k, identifier: TICKET_ID, serviceId: EMPTY_UUID, routeId: EMPTY_UUID, prevStart: null, redisKey: '', redisPrevKey: null, syncMs: 0 }
}

interface Ticket {
  readonly key: CounterKey
  /** The flush asking for it is in flight, or it was answered. */
  state: 'asked' | 'held' | 'refused'
}

interface Pending {
  /** null: a ticket row. */
  readonly ticket?: Ticket
  readonly entry: Entry
  readonly row: FlushRow
  /** Quota taken out of AVAIL to give back (returned to AVAIL if the flush fails). */
  readonly taken: number
  readonly demand: number
}

export interface WriterOptions {
  /** PostgreSQL for the `cluster` policy; null (DB-less) makes cluster counters unreachable. */
  pg: PgStoreOptions | null
  tickMs?: number
  /** How long a request may wait for quota before its store counts as unreachable. */
  waitMs?: number
  slots?: number
  /** Tests: replace the stores. */
  createStore?: (key: StoreKey, redis: RedisSettings | null) => CounterStore | null
}

export class RateLimitWriter {
  readonly table: CounterTable
  readonly tickMs: number
  readonly waitMs: number
  #opts: WriterOptions
  #entries = new Map<number, Entry>()
  #stores = new Map<StoreKey, CounterStore | null>()
  #redis = new Map<StoreKey, RedisSettings>()
  #down = new Set<StoreKey>()
  #lastOk = new Map<StoreKey, number>()
  #lastError: string | null = null
  #broadcast: ((m: RlTotals) => void) | null = null
  #timer: NodeJS.Timeout | null = null
  #flushing: Promise<void> | null = null
  #again = false
  #lastStart = 0
  #closed = false
  #meter = new FlushMeter()
  #overshootTotal = 0
  /** The down list the workers last got (rl-totals is skipped when nothing changed). */
  #downSent = ''
  #logTimer: NodeJS.Timeout | null = null
  /** Provisional tickets by `${periodIndex}:${windowStart}`. */
  #tickets = new Map<string, Ticket>()

  constructor (opts: WriterOptions) {
    this.#opts = opts
    this.tickMs = Math.max(5, opts.tickMs ?? 100)
    this.waitMs = Math.max(this.tickMs * 3, opts.waitMs ?? 1000)
    this.table = CounterTable.create(opts.slots ?? DEFAULT_SLOTS)
    if (log.enabled('debug')) {
      this.#logTimer = setInterval(() => { if (this.#entries.size > 0) log.debug(summary(this.stats())) }, 1000)
      this.#logTimer.unref()
    }
  }

  /** The handshake every worker gets before its first snapshot. */
  initMessage (): RlInit {
    return { type: 'rl-init', table: this.table.buffer, tickMs: this.tickMs, waitMs: this.waitMs }
  }

  /** How rl-totals reach the workers (Supervisor.broadcastRl). */
  onTotals (fn: (m: RlTotals) => void): void {
    this.#broadcast = fn
  }

  /** A worker's batch: new counters, Redis settings, wake. */
  onDeltas (msg: RlDeltas): void {
    if (this.#closed) return
    for (const s of msg.stores) this.#redis.set(s.key, s.redis)
    for (let i = 0; i < msg.slots.length; i++) {
      const slot = msg.slots[i]!
      const key = msg.keys[i]!
      const gen = msg.gens[i]!
      if (this.table.load(slot, S_GEN) !== gen) continue // already reused
      if (this.#entries.get(slot)?.gen === gen) continue // registered again by another worker
      this.table.setFlag(slot, FLAG_REGISTERED, true)
      this.#entries.set(slot, {
        slot,
        gen,
        key,
        id: entryId(key),
        windowEndMs: key.windowEnd * 1000,
        res: newReservation(),
        lastWrite: 0,
        prefetched: false,
      })
    }
    if (msg.wake || msg.slots.length > 0) this.#kick()
  }

  #kick (): void {
    if (this.#closed) return
    if (this.#flushing !== null) { this.#again = true; return }
    if (this.#timer !== null) return
    const delay = Math.max(0, this.#lastStart + this.tickMs - Date.now())
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#flushing = this.#flush().catch((err: unknown) => {
        log.error(`rate-limiting: flush failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      }).finally(() => {
        this.#flushing = null
        if (this.#again || this.#entries.size > 0) { this.#again = false; this.#kick() }
      })
    }, delay)
  }

  #store (key: StoreKey): CounterStore | null {
    if (this.#stores.has(key)) return this.#stores.get(key)!
    const redis = this.#redis.get(key) ?? null
    let store: CounterStore | null
    if (this.#opts.createStore !== undefined) store = this.#opts.createStore(key, redis)
    else if (key === PG_STORE) store = this.#opts.pg === null ? null : new PgCounterStore(this.#opts.pg)
    else store = redis === null ? null : new RedisCounterStore(key, redis)
    this.#stores.set(key, store)
    return store
  }

  /**
   * Writes every pending delta now (lazy ones included) and resolves when it is in the store:
   * for tests and tools that read the store's `value`, and for close().
   */
  async drain (): Promise<void> {
    if (this.#closed) return
    while (this.#flushing !== null) await this.#flushing
    if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null }
    const p = this.#flush(true).catch((err: unknown) => {
      log.error(`rate-limiting: flush failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    })
    this.#flushing = p
    await p
    this.#flushing = null
    if (this.#again || this.#entries.size > 0) { this.#again = false; this.#kick() }
  }

  /** One tick: plan, write, apply. Never rejects. `all`: no lazy delta waits. */
  async #flush (all = false): Promise<void> {
    const t0 = Date.now()
    this.#lastStart = t0
    const byStore = new Map<StoreKey, Pending[]>()
    const seen = new Set<string>()
    const t = this.table
    for (const e of this.#entries.values()) {
      if (t.load(e.slot, S_GEN) !== e.gen) { this.#entries.delete(e.slot); continue }
      const used = t.load(e.slot, S_USED)
      const delta = used - e.res.flushed
      const open = t0 < e.windowEndMs
      // Dropped once its last delta is out, or (store down) when its window is long over anyway.
      if (!open && ((delta <= 0 && t0 > e.windowEndMs + DROP_AFTER_MS) || t0 > e.windowEndMs + GIVE_UP_AFTER_MS)) {
        this.#overshootTotal += Math.max(0, e.res.value - e.res.lim)
        this.#entries.delete(e.slot)
        continue
      }
      if (seen.has(e.id)) continue
      seen.add(e.id)
      const demand = t.exchange(e.slot, S_DEMAND, 0)
      const touched = t.exchange(e.slot, S_TOUCHED, 0)
      const lim = t.load(e.slot, S_LIM)
      let want = 0
      let taken = 0
      if (e.key.table === 'rl' && open && !e.prefetched && e.res.rate > 0 && t0 + PREFETCH_TICKS * this.tickMs >= e.windowEndMs) {
        e.prefetched = true
        this.#prefetch(e, t0)
      }
      if (e.key.table === 'rl') {
        want = planWant(e.res, used, t.load(e.slot, S_AVAIL), demand, lim, open, t.load(e.slot, S_PROV))
        if (want < 0) { taken = t.takeBack(e.slot, -want); want = -taken }
      }
      const refresh = e.res.refresh && t0 - e.lastWrite >= REFRESH_TICKS * this.tickMs
      if (delta === 0 && want === 0 && touched === 0 && demand === 0 && !refresh) continue
      // A counter that needs no quota waits for its own interval (its delta accumulates): Kong's
      // sync_rate, or DELTA_TICKS while quota is plentiful (lazy deltas, reservation.ts).
      if (want === 0 && demand === 0 && !refresh && open && !all) {
        if (t0 - e.lastWrite < deltaWaitMs(e.key, e.res, this.tickMs)) {
          if (touched !== 0) t.store(e.slot, S_TOUCHED, 1)
          continue
        }
      }
      e.lastWrite = t0
      const weight = e.key.prevStart === null ? 0 : slidingWeight(e.key, t0)
      const prov = provisional(e.key, lim)
      if (prov && open) {
        this.#wantTicket(e.key, t0)
        if (t0 + PREFETCH_TICKS * this.tickMs >= e.windowEndMs) this.#wantTicket(nextWindowKey(e.key), t0)
      }
      // Grants leave room for the provisional quota of every ticket holder.
      const row: FlushRow = { key: e.key, delta, want, lim: prov ? grantLimit(lim) : lim, weight }
      let list = byStore.get(e.key.store)
      if (list === undefined) { list = []; byStore.set(e.key.store, list) }
      list.push({ entry: e, row, taken, demand })
    }
    const tickets: Pending[] = []
    for (const tk of this.#tickets.values()) {
      if (tk.state !== 'asked') continue
      tickets.push({ ticket: tk, entry: null as unknown as Entry, row: { key: tk.key, delta: 1, want: 0, lim: 2147483647, weight: 0 }, taken: 0, demand: 0 })
    }
    if (tickets.length > 0) {
      let list = byStore.get(PG_STORE)
      if (list === undefined) { list = []; byStore.set(PG_STORE, list) }
      list.push(...tickets)
    }
    if (byStore.size === 0) return
    const changed: number[] = []
    let rows = 0
    let statements = 0
    await Promise.all([...byStore].map(async ([key, list]) => {
      rows += list.length
      const store = this.#store(key)
      let results: FlushResult[]
      try {
        if (store === null) throw new Error(key === PG_STORE ? 'no database (DB-less): the cluster policy has no store' : `no settings for ${key}`)
        statements++
        results = await store.flush(list.map((p) => p.row))
      } catch (err) {
        this.#onError(key, list, err, changed)
        return
      }
      if (this.#down.delete(key)) log.notice(`rate-limiting: ${key} answers again`)
      this.#lastOk.set(key, Date.now())
      for (let i = 0; i < list.length; i++) {
        const p = list[i]!
        if (p.ticket !== undefined) this.#applyTicket(p.ticket, results[i]!)
        else this.#apply(p, results[i]!, changed)
      }
    }))
    const t1 = Date.now()
    this.#meter.record(t1, t1 - t0, rows, statements)
    const down = [...this.#down]
    const downKey = down.join(' ')
    if (changed.length > 0 || downKey !== this.#downSent) {
      this.#downSent = downKey
      this.#broadcast?.({ type: 'rl-totals', at: t1, slots: changed, down })
    }
  }

  /** Asks for the ticket of k's window in this flush, unless asked already. */
  #wantTicket (k: CounterKey, t0: number): void {
    const id = `${k.periodIndex}:${k.windowStart}`
    if (this.#tickets.has(id)) return
    // Forget tickets of windows long over.
    for (const [i, tk] of this.#tickets) if (tk.key.windowEnd * 1000 + DROP_AFTER_MS < t0) this.#tickets.delete(i)
    this.#tickets.set(id, { key: ticketKey(k), state: 'asked' })
  }

  #applyTicket (tk: Ticket, r: FlushResult): void {
    const k = tk.key
    if (r.value > PROVISIONAL_NODES) {
      if (tk.state !== 'refused') log.warn(`rate-limiting: more than ${PROVISIONAL_NODES} node processes in the ${k.period} window: no provisional quota on this node until it ends`)
      tk.state = 'refused'
      return
    }
    tk.state = 'held'
    const wid = windowId(k.windowStart * 1000)
    const w = H_TICKET + k.periodIndex
    if (this.table.header(w) < wid) this.table.setHeader(w, wid)
  }

  /** Creates the next-window counter of a busy one, with its rate: asked for in this same flush. */
  #prefetch (e: Entry, t0: number): void {
    const t = this.table
    const key = nextWindowKey(e.key)
    slotHash(key)
    const wid = windowId(key.windowStart * 1000)
    const slot = t.findOrInsert(Math.floor(t0 / 1000) - WINDOW_EPOCH, windowId(key.windowEnd * 1000) + SLOT_GRACE_S, wid, key.periodIndex, t.load(e.slot, S_LIM))
    if (slot < 0) return
    const gen = t.load(slot, S_GEN)
    if (this.#entries.get(slot)?.gen === gen) return
    t.setFlag(slot, FLAG_REGISTERED, true)
    const res = newReservation()
    res.rate = e.res.rate
    this.#entries.set(slot, { slot, gen, key, id: entryId(key), windowEndMs: key.windowEnd * 1000, res, lastWrite: 0, prefetched: false })
  }

  #apply (p: Pending, r: FlushResult, changed: number[]): void {
    const e = p.entry
    const t = this.table
    if (t.load(e.slot, S_GEN) !== e.gen) return
    if (r.granted > 0) t.grant(e.slot, r.granted)
    t.store(e.slot, S_OTHERS, Math.max(0, r.value - (e.res.flushed + p.row.delta)))
    let notify = p.demand > 0 || r.granted > 0
    if (e.key.table === 'rl') {
      t.store(e.slot, S_STORE_LIM, r.lim)
      if (applyResult(e.res, p.row.delta, r.value, r.reserved, r.lim)) {
        t.setFlag(e.slot, FLAG_EXHAUSTED, e.res.exhausted)
        notify = true
      }
    } else {
      e.res.flushed += p.row.delta
      e.res.value = r.value
    }
    if (notify) changed.push(e.slot)
  }

  #onError (key: StoreKey, list: Pending[], err: unknown, changed: number[]): void {
    const message = err instanceof Error ? err.message : String(err)
    const line = `${key}: ${message}`
    // Once per outage and message, not once per tick.
    if (!this.#down.has(key) || this.#lastError !== line) log.error(`rate-limiting: flush to ${line}`)
    this.#lastError = line
    this.#meter.errors++
    this.#down.add(key)
    for (const p of list) {
      if (p.ticket !== undefined) continue // still 'asked': in the next flush again
      if (p.taken > 0) this.table.grant(p.entry.slot, p.taken)
      // Demand seen this tick is put back so the next flush asks again.
      if (p.demand > 0) this.table.add(p.entry.slot, S_DEMAND, p.demand)
      changed.push(p.entry.slot)
    }
  }

  stats (): RateLimitStats {
    const t = Date.now()
    const v = this.#meter.view(t)
    let lag = 0
    const stores = new Set<StoreKey>()
    let overshoot = 0
    for (const e of this.#entries.values()) {
      stores.add(e.key.store)
      if (e.key.table === 'rl') overshoot += Math.max(0, e.res.value - e.res.lim)
    }
    for (const s of stores) lag = Math.max(lag, t - (this.#lastOk.get(s) ?? t))
    const ts = this.table.stats()
    return {
      tick_ms: this.tickMs,
      counters_last_flush: this.#meter.lastRows,
      counters_per_flush: Math.round(v.rowsPerFlush * 10) / 10,
      statements_per_second: Math.round(v.perSecond * 10) / 10,
      statements_total: this.#meter.statements,
      flush_errors_total: this.#meter.errors,
      last_error: this.#lastError,
      flush_latency_ms: { last: this.#meter.lastMs, mean: Math.round(v.mean * 100) / 100, max: v.max },
      sync_lag_ms: lag,
      active_counters: this.#entries.size,
      overshoot: { current: overshoot, total: this.#overshootTotal },
      degraded_admissions: this.table.header(H_DEGRADED),
      quota_waits: this.table.header(H_WAITS),
      stores_down: [...this.#down],
      table: { slots: ts.capacity, inserts: ts.inserts, reuses: ts.reuses, full: ts.full },
    }
  }

  /** Stops the timer, writes what is pending once more (best effort), closes the stores. */
  async close (): Promise<void> {
    if (this.#closed) return
    if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null }
    if (this.#logTimer !== null) { clearInterval(this.#logTimer); this.#logTimer = null }
    if (this.#flushing !== null) await this.#flushing
    this.#closed = true
    if (this.#entries.size > 0) await this.#flush(true)
    for (const s of this.#stores.values()) if (s !== null) await s.close()
    this.#stores.clear()
  }
}
