import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Worker } from 'node:worker_threads'
import { CounterTable, S_AVAIL, S_USED } from './counter-table.ts'
import { hashFinish, hashString, lanes } from './hash.ts'

const FIXTURE = new URL('./counter-table.fixture.ts', import.meta.url)
const EXEC_ARGV = ['--import', new URL('../../worker/ts-loader.mjs', import.meta.url).href]

function key (id: string, period = 1, window = 1000): void {
  hashString(id)
  hashFinish(lanes[0]!, lanes[1]!, period, window)
}

function run (buffer: SharedArrayBuffer, mode: 'local' | 'held', attempts: number, limit: number, keys: number): Promise<{ admitted: number; created: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(FIXTURE, { workerData: { buffer, mode, attempts, limit, keys }, execArgv: EXEC_ARGV })
    w.once('message', resolve)
    w.once('error', reject)
  })
}

test('counter table: one slot per key, found again; a new window is a new slot', () => {
  const t = CounterTable.create(1024)
  key('a')
  const s = t.findOrInsert(0, 2000, 1000, 1, 5)
  assert.ok(s >= 0)
  assert.equal(t.created, true)
  key('a')
  assert.equal(t.findOrInsert(0, 2000, 1000, 1, 5), s)
  assert.equal(t.created, false)
  key('a', 1, 1060)
  const s2 = t.findOrInsert(0, 2000, 1060, 1, 5)
  assert.notEqual(s2, s)
  key('b')
  assert.equal(t.find(lanes[0]!, lanes[1]!), -1)
})

test('counter table: acquire stops at the limit and release gives one back', () => {
  const t = CounterTable.create(1024)
  key('x')
  const s = t.findOrInsert(0, 2000, 1000, 1, 3)
  assert.deepEqual([t.acquire(s, 3), t.acquire(s, 3), t.acquire(s, 3), t.acquire(s, 3)], [1, 2, 3, -1])
  t.release(s)
  assert.equal(t.acquire(s, 3), 3)
  // a fractional limit passes ceil(limit), as Kong's `limit - usage > 0`
  key('y')
  const f = t.findOrInsert(0, 2000, 1000, 1, 3)
  assert.deepEqual([t.acquire(f, 2.5), t.acquire(f, 2.5), t.acquire(f, 2.5), t.acquire(f, 2.5)], [1, 2, 3, -1])
})

test('counter table: held quota is spent exactly and taken back atomically', () => {
  const t = CounterTable.create(1024)
  key('q')
  const s = t.findOrInsert(0, 2000, 1000, 1, 100)
  assert.equal(t.acquireHeld(s), -1)
  t.grant(s, 2)
  assert.equal(t.acquireHeld(s), 1)
  assert.equal(t.takeBack(s, 5), 1)
  assert.equal(t.acquireHeld(s), -1)
  t.grant(s, 1)
  assert.equal(t.acquireHeld(s), 2)
  t.releaseHeld(s)
  assert.equal(t.load(s, S_AVAIL), 1)
  assert.equal(t.load(s, S_USED), 1)
})

test('counter table: an expired slot is reused in place, later keys of its chain stay reachable', () => {
  const t = CounterTable.create(1024)
  const slots: number[] = []
  for (let i = 0; i < 50; i++) { key(`k${i}`); slots.push(t.findOrInsert(0, 10, 1000, 1, 5)) }
  for (let i = 0; i < 50; i++) { key(`k${i}`); assert.equal(t.find(lanes[0]!, lanes[1]!), slots[i]) }
  // now = 20 > expires = 10: new keys reuse expired slots
  for (let i = 0; i < 50; i++) { key(`n${i}`); assert.ok(t.findOrInsert(20, 30, 1001, 1, 5) >= 0) }
  assert.equal(t.stats().reuses > 0, true)
  for (let i = 0; i < 50; i++) { key(`n${i}`); assert.ok(t.find(lanes[0]!, lanes[1]!) >= 0) }
})

test('counter table: exact under contention from 4 threads (local limit and held quota)', async () => {
  for (const mode of ['local', 'held'] as const) {
    const t = CounterTable.create(1024)
    const limit = 20_000
    if (mode === 'held') { key('id-0'); const s = t.findOrInsert(0, 2000, 1000, 1, limit); t.grant(s, limit) }
    const results = await Promise.all([0, 1, 2, 3].map(() => run(t.buffer, mode, 10_000, limit, 1)))
    assert.equal(results.reduce((a, r) => a + r.admitted, 0), mode === 'local' ? 20_000 : 20_000)
    const results2 = await Promise.all([0, 1, 2, 3].map(() => run(t.buffer, mode, 10_000, limit, 1)))
    assert.equal(results2.reduce((a, r) => a + r.admitted, 0), 0, `${mode}: nothing more once the limit is reached`)
  }
})

test('counter table: concurrent inserts of the same keys create each key once', async () => {
  const t = CounterTable.create(4096)
  const results = await Promise.all([0, 1, 2, 3].map(() => run(t.buffer, 'local', 20_000, 1_000_000, 500)))
  assert.equal(results.reduce((a, r) => a + r.created, 0), 500)
  let total = 0
  for (let i = 0; i < 500; i++) { key(`id-${i}`); total += t.load(t.find(lanes[0]!, lanes[1]!), S_USED) }
  assert.equal(total, 80_000)
})
