/**
 * The PostgreSQL counter store (src/primary/ratelimit/pg-store.ts) on a real database: the grant
 * arithmetic of the one statement (insert and update paths, give-back, admissions made while the
 * store was away, the sliding window's lowered limit), rate-limiting and response-ratelimiting
 * rows in the same statement, concurrent nodes never granted more than the limit in total, and
 * expired rows deleted by the next write.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PgCounterStore } from '../../src/primary/ratelimit/pg-store.ts'
import type { FlushRow } from '../../src/primary/ratelimit/store.ts'
import type { CounterKey } from '../../src/common/ratelimit/keys.ts'
import { EMPTY_UUID } from '../../src/common/ratelimit/keys.ts'
import { defer, testDb } from './ratelimit-harness.ts'

const HOUR = Math.floor(Date.now() / 3_600_000) * 3600

function key (identifier: string, over: Partial<CounterKey> = {}): CounterKey {
  return {
    table: 'rl', store: 'pg', identifier, period: 'hour', periodIndex: 2, windowStart: HOUR, windowEnd: HOUR + 3600,
    prevStart: null, serviceId: EMPTY_UUID, routeId: EMPTY_UUID, ttl: 3600, redisKey: '', redisPrevKey: null, syncMs: 0, ...over,
  }
}

function row (k: CounterKey, delta: number, want: number, lim: number, weight = 0): FlushRow {
  return { key: k, delta, want, lim, weight }
}

test('pg counter store', async (t) => {
  const db = await testDb(t)
  const store = (): PgCounterStore => {
    const s = new PgCounterStore({ ...db.settings, timeoutMs: 5000 })
    defer(t, () => s.close())
    return s
  }
  const s = store()

  await t.test('grants: insert, update, exhausted, give back, admissions made while away', async () => {
    const k = key('a')
    assert.deepEqual(await s.flush([row(k, 3, 10, 25)]), [{ value: 3, reserved: 13, granted: 10, lim: 25 }])
    assert.deepEqual(await s.flush([row(k, 2, 20, 25)]), [{ value: 5, reserved: 25, granted: 12, lim: 25 }])
    assert.deepEqual(await s.flush([row(k, 0, 5, 25)]), [{ value: 5, reserved: 25, granted: 0, lim: 25 }])
    assert.deepEqual(await s.flush([row(k, 0, -4, 25)]), [{ value: 5, reserved: 21, granted: -4, lim: 25 }])
    // 30 admitted while the store was unreachable: reserved follows usage, nothing more is granted
    assert.deepEqual(await s.flush([row(k, 30, 5, 25)]), [{ value: 35, reserved: 35, granted: 0, lim: 25 }])
  })

  await t.test('sliding: the limit is lowered by the weighted previous window', async () => {
    const prev = key('s', { windowStart: HOUR - 3600, windowEnd: HOUR })
    await s.flush([row(prev, 20, 0, 25)])
    const cur = key('s', { prevStart: HOUR - 3600 })
    assert.deepEqual(await s.flush([row(cur, 0, 100, 25, 0.5)]), [{ value: 0, reserved: 15, granted: 15, lim: 15 }])
  })

  await t.test('rate-limiting and response-ratelimiting rows in one statement', async () => {
    const before = s.statements
    const out = await s.flush([
      row(key('m1'), 1, 2, 10),
      row(key('m2', { table: 'rrl', period: 'videos_hour' }), 4, 0, 0),
      row(key('m3'), 2, 0, 10),
    ])
    assert.equal(s.statements, before + 1)
    assert.deepEqual(out.map((r) => r.value), [1, 4, 2])
    const rrl = await db.pool.query("select value from response_ratelimiting_metrics where identifier = 'm2' and period = 'videos_hour'")
    assert.equal(rrl.rows[0].value, 4)
  })

  await t.test('20 nodes asking at once are never granted more than the limit in total', async () => {
    const nodes = Array.from({ length: 20 }, () => store())
    const k = key('race')
    const grants = (await Promise.all(nodes.map((n) => n.flush([row(k, 1, 10, 100)])))).map((r) => r[0]!.granted)
    // the first write's delta was never granted (made while away): it takes 1 of the 100
    assert.equal(grants.reduce((a, b) => a + b, 0), 99)
    const r = (await db.pool.query("select value, reserved from ratelimiting_metrics where identifier = 'race'")).rows[0]
    assert.deepEqual(r, { value: 20, reserved: 100 })
  })

  await t.test('expired rows are deleted by the next write (Kong\'s ttl trigger)', async () => {
    await db.pool.query(`insert into ratelimiting_metrics (identifier, period, period_date, value, ttl)
      values ('old', 'second', now() - interval '1 hour', 1, now() - interval '1 minute')`)
    await s.flush([row(key('trigger'), 1, 0, 10)])
    const left = await db.pool.query("select 1 from ratelimiting_metrics where identifier = 'old'")
    assert.equal(left.rowCount, 0)
  })
})
