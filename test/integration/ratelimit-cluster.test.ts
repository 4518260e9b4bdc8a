/**
 * rate-limiting, policy cluster: three whole gateways (primary + 2 real workers each) on one real
 * PostgreSQL database. The bound of primary/ratelimit/reservation.ts: with load spread over every
 * node at several times the limit, the requests admitted in the window never exceed the limit and
 * at least 98% of it pass; the database sees at most one statement per node per tick; the table
 * holds Kong's usage (`value`) and the quota handed out (`reserved` <= limit).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { count, fire, get, node, ready, routeWithPlugin, testDb, upstream } from './ratelimit-harness.ts'

test('rate-limiting cluster: 3 nodes x 2 workers, one database', async (t) => {
  const db = await testDb(t)
  const up = await upstream(t)
  const a = await node(t, db)
  const b = await node(t, db)
  const c = await node(t, db)
  const nodes = [a, b, c]

  await t.test('the bound: admitted <= L and >= 98% of L with 4x L spread over the 3 nodes', async () => {
    const L = 300
    await routeWithPlugin(a, up.port, '/bound', { name: 'rate-limiting', config: { hour: L, policy: 'cluster', limit_by: 'header', header_name: 'x-id' } })
    for (const g of nodes) await ready(g, '/bound', { 'x-id': `probe-${randomUUID()}` })
    const id = randomUUID()
    const statementsBefore = nodes.map((g) => g.primary.rateLimit.stats().statements_total)
    const t0 = Date.now()
    const results = await Promise.all(nodes.map((g) => fire(g.proxy, '/bound', 400, 16, { 'x-id': id })))
    const seconds = (Date.now() - t0) / 1000
    const admitted = results.map((r) => count(r, 200))
    const total = admitted.reduce((x, y) => x + y, 0)
    const other = results.flat().filter((s) => s !== 200 && s !== 429)
    t.diagnostic(`admitted per node ${admitted.join(' + ')} = ${total} of L = ${L} (${(100 * total / L).toFixed(1)}%), ${1200} requests in ${seconds.toFixed(2)} s`)
    assert.deepEqual(other, [])
    assert.ok(total <= L, `admitted ${total} > ${L}`)
    assert.ok(total >= Math.ceil(0.98 * L), `admitted ${total} < 98% of ${L}`)
    // What the table says once every node flushed its last delta.
    await new Promise((resolve) => setTimeout(resolve, 400))
    const row = (await db.pool.query<{ value: number; reserved: number; lim: number }>(
      "select value, reserved, lim from ratelimiting_metrics where identifier = $1 and period = 'hour'", [id])).rows[0]!
    assert.equal(row.value, total)
    assert.ok(row.reserved <= L && row.lim === L, JSON.stringify(row))
    const stats = nodes.map((g) => g.primary.rateLimit.stats())
    for (const s of stats) assert.equal(s.overshoot.current, 0)
    const statements = stats.map((s, i) => s.statements_total - statementsBefore[i]!)
    const perNodePerSecond = statements.map((n) => n / (seconds + 0.4))
    t.diagnostic(`statements per node: ${statements.join(', ')} (${perNodePerSecond.map((x) => x.toFixed(1)).join(', ')} /s; tick ${stats[0]!.tick_ms} ms); ` +
      `flush latency mean ${stats.map((s) => s.flush_latency_ms.mean).join(', ')} ms; quota waits ${stats.map((s) => s.quota_waits).join(', ')}`)
    for (const x of perNodePerSecond) assert.ok(x <= 1000 / stats[0]!.tick_ms + 1, `${x} statements/s`)
  })

  await t.test('headers and the 7th request on one node: day = 6', async () => {
    await routeWithPlugin(a, up.port, '/cheaders', { name: 'rate-limiting', config: { day: 6, policy: 'cluster', limit_by: 'header', header_name: 'x-id' } })
    await ready(a, '/cheaders', { 'x-id': 'probe' })
    const h = { 'x-id': randomUUID() }
    for (let i = 1; i <= 6; i++) {
      const r = await get(a, '/cheaders', h)
      assert.equal(r.status, 200)
      assert.equal(r.headers['x-ratelimit-limit-day'], '6')
      assert.equal(r.headers['x-ratelimit-remaining-day'], String(6 - i))
      assert.equal(r.headers['ratelimit-remaining'], String(6 - i))
    }
    const r = await get(a, '/cheaders', h)
    assert.equal(r.status, 429)
    assert.equal(r.headers['x-ratelimit-remaining-day'], '0')
    assert.ok(Number(r.headers['retry-after']) >= 1)
    assert.equal(JSON.parse(r.body).message, 'API rate limit exceeded')
  })

  await t.test('window rollover: the next window\'s quota is fetched before it starts (no waits after the first)', async () => {
    await routeWithPlugin(a, up.port, '/roll', { name: 'rate-limiting', config: { second: 1000000, policy: 'cluster', limit_by: 'header', header_name: 'x-id' } })
    await ready(a, '/roll', { 'x-id': 'probe' })
    const h = { 'x-id': randomUUID() }
    const t0 = Date.now()
    let waitsAfterFirst = -1
    let requests = 0
    while (Date.now() - t0 < 3500) {
      if (waitsAfterFirst < 0 && Date.now() - t0 > 1100) waitsAfterFirst = a.primary.rateLimit.stats().quota_waits
      const r = await fire(a.proxy, '/roll', 100, 8, h)
      assert.equal(count(r, 200), 100)
      if (waitsAfterFirst >= 0) requests += 100
    }
    const waits = a.primary.rateLimit.stats().quota_waits - waitsAfterFirst
    t.diagnostic(`${requests} requests over ~2 rollovers after the first second: ${waits} waited for quota`)
    assert.ok(waits <= requests * 0.02, `${waits} of ${requests} waited`)
  })

  await t.test('the other nodes see the usage: a node that never served the key refuses once the quota is gone', async () => {
    await routeWithPlugin(a, up.port, '/cshare', { name: 'rate-limiting', config: { day: 5, policy: 'cluster', limit_by: 'header', header_name: 'x-id' } })
    for (const g of nodes) await ready(g, '/cshare', { 'x-id': `probe-${randomUUID()}` })
    const h = { 'x-id': randomUUID() }
    const onA = await fire(a.proxy, '/cshare', 8, 4, h)
    assert.equal(count(onA, 200), 5)
    const onB = await get(b, '/cshare', h)
    assert.equal(onB.status, 429)
    assert.equal(onB.headers['x-ratelimit-remaining-day'], '0')
  })
})
