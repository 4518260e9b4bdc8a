/**
 * The reservation algorithm end to end in one process and fast: three writers (three nodes, each
 * its own counter table) on one in-memory store that does what the PostgreSQL statement does
 * (pg-store.ts), with simulated requests taking quota from the tables. The PostgreSQL version of
 * the same bound is test/integration/ratelimit-cluster.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { S_AVAIL, S_DEMAND, S_GEN } from '../../common/ratelimit/counter-table.ts'
import { hashFinish, hashString, lanes } from '../../common/ratelimit/hash.ts'
import type { CounterKey } from '../../common/ratelimit/keys.ts'
import type { CounterStore, FlushResult, FlushRow } from './store.ts'
import { deltaWaitMs, RateLimitWriter } from './writer.ts'
import {
  BLOCK_TICKS_PLENTIFUL, DELTA_TICKS, grantLimit, IDLE_TICKS, newReservation, planWant, PREFETCH_TICKS, PROVISIONAL_NODES, provisionalShare,
} from './reservation.ts'

/** The statement's semantics (pg-store.ts), row by row. */
class MemoryStore implements CounterStore {
  readonly key = 'pg'
  readonly rows = new Map<string, { value: number; reserved: number }>()
  statements = 0
  async flush (rows: readonly FlushRow[]): Promise<FlushResult[]> {
    this.statements++
    await new Promise((resolve) => setTimeout(resolve, 1))
    return rows.map((r) => {
      const id = `${r.key.identifier}|${r.key.period}|${r.key.windowStart}`
      const m = this.rows.get(id) ?? { value: 0, reserved: 0 }
      m.value += r.delta
      const base = Math.max(m.reserved, m.value)
      const granted = r.want >= 0 ? Math.min(r.want, Math.max(0, r.lim - base)) : r.want
      m.reserved = Math.max(m.value, base + granted)
      this.rows.set(id, m)
      return { value: m.value, reserved: m.reserved, granted, lim: r.lim }
    })
  }

  async close (): Promise<void> {}
}

const windowStart = Math.floor(Date.now() / 3_600_000) * 3600

function key (): CounterKey {
  return {
    table: 'rl', store: 'pg', identifier: 'k', period: 'hour', periodIndex: 2, windowStart, windowEnd: windowStart + 3600,
    prevStart: null, serviceId: '0', routeId: '0', ttl: 3600, redisKey: '', redisPrevKey: null, syncMs: 0,
  }
}

interface Node { w: RateLimitWriter; slot: number; admitted: number }

function startNode (store: MemoryStore, lim: number): Node {
  const w = new RateLimitWriter({ pg: null, tickMs: 10, waitMs: 1000, slots: 1024, createStore: () => store })
  hashString('k')
  hashFinish(lanes[0]!, lanes[1]!, 2, windowStart)
  const slot = w.table.findOrInsert(0, windowStart + 4000, windowStart, 2, lim)
  w.onDeltas({ type: 'rl-deltas', workerId: 0, slots: [slot], gens: [w.table.load(slot, S_GEN)], keys: [key()], stores: [], wake: true })
  return { w, slot, admitted: 0 }
}

/** `perMs` requests per millisecond on each node while `active(node, elapsed)`, for `ms`. */
async function drive (nodes: Node[], perMs: number, ms: number, active: (i: number, elapsed: number) => boolean): Promise<void> {
  const t0 = Date.now()
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const el = Date.now() - t0
      if (el > ms) { clearInterval(timer); resolve(); return }
      nodes.forEach((n, i) => {
        if (!active(i, el)) return
        for (let k = 0; k < perMs; k++) {
          if (n.w.table.acquireHeld(n.slot) >= 0) n.admitted++
          else n.w.table.add(n.slot, S_DEMAND, 1)
        }
      })
    }, 1)
  })
}

test('reservation: 3 nodes hammering one counter never pass more than the limit, and pass ~all of it', async () => {
  const store = new MemoryStore()
  const L = 5000
  const nodes = [startNode(store, L), startNode(store, L), startNode(store, L)]
  try {
    await drive(nodes, 5, 1500, () => true)
    const total = nodes.reduce((a, n) => a + n.admitted, 0)
    assert.ok(total <= L, `admitted ${total}`)
    assert.ok(total >= 0.98 * L, `admitted ${total}`)
    assert.ok(store.rows.get(`k|hour|${windowStart}`)!.reserved <= L)
  } finally {
    for (const n of nodes) await n.w.close()
  }
})

test('reservation: a node whose clients stop gives its quota back, the others use it', async () => {
  const store = new MemoryStore()
  const L = 3000
  const nodes = [startNode(store, L), startNode(store, L), startNode(store, L)]
  try {
    // node 0 is busy for the first 150 ms, then stops at a moment it holds quota; the others go on
    let heldWhenStopped = -1
    await drive(nodes, 4, 2500, (i, el) => {
      if (i !== 0) return true
      if (heldWhenStopped >= 0) return false
      const avail = nodes[0]!.w.table.load(nodes[0]!.slot, S_AVAIL)
      if (el >= 150 && avail >= 0.02 * L) { heldWhenStopped = avail; return false }
      return true
    })
    assert.ok(heldWhenStopped > 0, 'node 0 never held quota to give back')
    assert.equal(nodes[0]!.w.table.load(nodes[0]!.slot, S_AVAIL), 0, 'node 0 gave its quota back')
    const total = nodes.reduce((a, n) => a + n.admitted, 0)
    assert.ok(total <= L, `admitted ${total}`)
    assert.ok(total >= 0.98 * L, `admitted ${total} (${nodes.map((n) => n.admitted).join(', ')})`)
    // statements: at most one per node per tick
    assert.ok(store.statements <= 3 * (2500 / 10 + 5), `statements ${store.statements}`)
  } finally {
    for (const n of nodes) await n.w.close()
  }
})

test('reservation: provisional quota is never given back, and grants leave room for every ticket holder', () => {
  const r = newReservation()
  // An idle node holding 10 units, 6 of them provisional, while quota is scarce: only 4 go back.
  r.reserved = 950; r.lim = 1000
  for (let i = 0; i < IDLE_TICKS; i++) planWant(r, 0, 10, 0, 1000, true, 6)
  assert.equal(planWant(r, 0, 10, 0, 1000, true, 6), -4)
  assert.equal(planWant(r, 0, 6, 0, 1000, true, 6), 0)
  // Room: 16 holders x share never exceeds lim / 64, and small limits keep none.
  for (const lim of [1, 1023, 1024, 2048, 10_000_000, 2_000_000_000]) {
    assert.ok(lim - grantLimit(lim) <= lim / 64)
    assert.equal(lim - grantLimit(lim), PROVISIONAL_NODES * provisionalShare(lim))
  }
  assert.equal(provisionalShare(1023), 0)
})

test('reservation: lazy deltas: with plentiful quota a busy counter is written about once per DELTA_TICKS, drain() puts every admission in the store', async () => {
  const store = new MemoryStore()
  const L = 10_000_000
  const node = startNode(store, L)
  const rows = (): number => store.statements
  try {
    // Steady load: 2 admissions per ms for 1 s at a 10 ms tick (100 ticks).
    await drive([node], 2, 1000, () => true)
    const written = rows()
    const row = store.rows.get(`k|hour|${windowStart}`)!
    // Without lazy deltas every tick with admissions writes the row (~100 statements); with them,
    // the row goes out when quota is asked for (every ~BLOCK_TICKS_PLENTIFUL - PREFETCH_TICKS
    // ticks) or its delta has waited DELTA_TICKS.
    assert.ok(written <= 100 / Math.min(DELTA_TICKS, BLOCK_TICKS_PLENTIFUL - PREFETCH_TICKS) + 8, `statements ${written}`)
    assert.ok(row.value < node.admitted, `value ${row.value} is already every admission (${node.admitted}): nothing was lazy`)
    assert.ok(row.reserved >= node.admitted, 'reserved covers every admission')
    await node.w.drain()
    assert.equal(store.rows.get(`k|hour|${windowStart}`)!.value, node.admitted)
  } finally {
    await node.w.close()
  }
})

test('reservation: how long a delta-only row may wait (deltaWaitMs)', () => {
  const r = newReservation()
  const k = key()
  // No answer from the store yet: written at the next tick.
  assert.equal(deltaWaitMs(k, r, 100), 0)
  // Plentiful: DELTA_TICKS.
  r.reserved = 100; r.lim = 1000
  assert.equal(deltaWaitMs(k, r, 100), DELTA_TICKS * 100)
  // Scarce (less than a quarter left to hand out): the next tick.
  r.reserved = 800
  assert.equal(deltaWaitMs(k, r, 100), 0)
  // Kong's sync_rate (redis) wins either way; response-ratelimiting rows (no reservation) are never lazy.
  assert.equal(deltaWaitMs({ ...k, syncMs: 2000 }, r, 100), 2000)
  r.reserved = 100
  assert.equal(deltaWaitMs({ ...k, table: 'rrl' }, r, 100), 0)
})
