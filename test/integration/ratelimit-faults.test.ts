/**
 * rate-limiting, policy cluster (day windows: a test never straddles one), with the database going away under a running gateway and coming
 * back (spec/03-plugins/23-rate-limiting/04-access_spec.lua "fault tolerance"): the database stops
 * accepting connections and every connection to it is terminated (pg_terminate_backend), then it
 * is opened again.
 *
 * While it is away: fault_tolerant = true proxies without rate-limit headers and counts locally
 * against the limit; fault_tolerant = false answers 500 `An unexpected error occurred`; no worker
 * dies. Once it is back: the counts made meanwhile reach the table, headers return, a limit used
 * up during the outage stays used up (no burst), and fault_tolerant = false serves again.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { testServer } from '../helpers/pg.ts'
import { count, fire, get, hasRateLimitHeader, node, ready, routeWithPlugin, testDb, until, upstream } from './ratelimit-harness.ts'

async function adminClient (): Promise<pg.Client> {
  const s = await testServer()
  const c = new pg.Client({ ...s, password: s.password || undefined, database: 'postgres' })
  await c.connect()
  return c
}

test('rate-limiting cluster: the database goes away and comes back', async (t) => {
  const db = await testDb(t)
  const up = await upstream(t)
  const gw = await node(t, db)
  const dbName = db.settings.database
  const id = randomUUID()
  const h = { 'x-id': id }

  await routeWithPlugin(gw, up.port, '/tolerant', { name: 'rate-limiting', config: { day: 1000, policy: 'cluster', limit_by: 'header', header_name: 'x-id' } })
  await routeWithPlugin(gw, up.port, '/strict', { name: 'rate-limiting', config: { day: 1000, policy: 'cluster', limit_by: 'header', header_name: 'x-id', fault_tolerant: false } })
  await routeWithPlugin(gw, up.port, '/small', { name: 'rate-limiting', config: { day: 3, policy: 'cluster', limit_by: 'header', header_name: 'x-id' } })
  await ready(gw, '/tolerant', { 'x-id': 'probe' })
  await ready(gw, '/strict', { 'x-id': 'probe' })
  await ready(gw, '/small', { 'x-id': 'probe' })

  const warm = await fire(gw.proxy, '/tolerant', 10, 4, h)
  assert.equal(count(warm, 200), 10)
  assert.equal((await get(gw, '/strict', h)).status, 200)

  const admin = await adminClient()
  t.after(() => admin.end())
  let down = false
  const reopen = async (): Promise<void> => {
    if (!down) return
    down = false
    await admin.query(`alter database "${dbName}" allow_connections true`)
  }
  t.after(reopen)

  await t.test('database unreachable: tolerant proxies without headers, strict answers 500', async () => {
    await admin.query(`alter database "${dbName}" allow_connections false`)
    down = true
    await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [dbName])
    // A counter the node holds no quota for makes it go to the store at once and find it gone.
    const first = await get(gw, '/tolerant', { 'x-id': randomUUID() })
    assert.equal(first.status, 200)
    assert.equal(hasRateLimitHeader(first), false)
    await until(() => gw.primary.rateLimit.stats().stores_down.includes('pg'), 5000, 'the store reported down')
    const during = await fire(gw.proxy, '/tolerant', 20, 4, h)
    assert.equal(count(during, 200), 20)
    const one = await get(gw, '/tolerant', h)
    assert.equal(one.status, 200)
    assert.equal(hasRateLimitHeader(one), false, JSON.stringify(one.headers))
    const strict = await get(gw, '/strict', h)
    assert.equal(strict.status, 500)
    assert.equal(JSON.parse(strict.body).message, 'An unexpected error occurred')
    assert.equal(hasRateLimitHeader(strict), false)
    // Counting goes on locally: day = 3 still refuses the 4th.
    const small = await fire(gw.proxy, '/small', 5, 1, h)
    assert.deepEqual(small, [200, 200, 200, 429, 429])
    const stats = gw.primary.rateLimit.stats()
    assert.ok(stats.degraded_admissions >= 24, `degraded admissions ${stats.degraded_admissions}`)
    assert.ok(stats.flush_errors_total > 0)
    assert.ok(gw.primary.supervisor.summary().every((w) => w.state === 'serving' && w.restarts === 0))
  })

  await t.test('database back: counts made meanwhile are written, headers return, no burst', async () => {
    await reopen()
    await until(async () => {
      await get(gw, '/tolerant', { 'x-id': randomUUID() })
      return gw.primary.rateLimit.stats().stores_down.length === 0
    }, 10_000, 'the store back up')
    const r = await get(gw, '/tolerant', h)
    assert.equal(r.status, 200)
    assert.equal(hasRateLimitHeader(r), true)
    // 10 before + 20 + 1 during + this one: the degraded admissions were counted.
    assert.equal(r.headers['x-ratelimit-remaining-day'], String(1000 - 32))
    const strict = await get(gw, '/strict', h)
    assert.equal(strict.status, 200)
    // The 3 admitted during the outage used the limit up: no fresh quota after recovery.
    const small = await get(gw, '/small', h)
    assert.equal(small.status, 429)
    await gw.primary.rateLimit.drain()
    const rows = await db.pool.query<{ value: number; reserved: number; lim: number }>(
      "select value, reserved, lim from ratelimiting_metrics where identifier = $1 and period = 'day' order by lim", [id])
    assert.deepEqual(rows.rows.map((x) => x.value).sort((x, y) => x - y), [2, 3, 32])
    assert.ok(gw.primary.supervisor.summary().every((w) => w.state === 'serving' && w.restarts === 0))
  })
})
