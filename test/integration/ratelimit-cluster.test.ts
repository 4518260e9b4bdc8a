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
import { Pool } from 'undici'
import { count, fire, get, node, ready, routeWithPlugin, testDb, upstream } from './ratelimit-harness.ts'
import { grantLimit, provisionalShare } from '../../src/primary/ratelimit/reservation.ts'

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
    await Promise.all(nodes.map((g) => g.primary.rateLimit.drain()))
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

  await t.test('the bound with provisional quota (L = 2048: every node starts a new key with some): admitted <= L and >= 98% of L', async () => {
    const L = 2048
    assert.ok(provisionalShare(L) > 0)
    await routeWithPlugin(a, up.port, '/pbound', { name: 'rate-limiting', config: { hour: L, policy: 'cluster', limit_by: 'header', header_name: 'x-id' } })
    // The probes also take each node's ticket for this hour.
    for (const g of nodes) await ready(g, '/pbound', { 'x-id': `probe-${randomUUID()}` })
    const id = randomUUID()
    const results = await Promise.all(nodes.map((g) => fire(g.proxy, '/pbound', 2 * L, 16, { 'x-id': id })))
    const admitted = results.map((r) => count(r, 200))
    const total = admitted.reduce((x, y) => x + y, 0)
    t.diagnostic(`admitted per node ${admitted.join(' + ')} = ${total} of L = ${L} (${(100 * total / L).toFixed(1)}%)`)
    assert.deepEqual(results.flat().filter((s) => s !== 200 && s !== 429), [])
    assert.ok(total <= L, `admitted ${total} > ${L}`)
    assert.ok(total >= Math.ceil(0.98 * L), `admitted ${total} < 98% of ${L}`)
    await Promise.all(nodes.map((g) => g.primary.rateLimit.drain()))
    const row = (await db.pool.query<{ value: number; reserved: number; lim: number }>(
      "select value, reserved, lim from ratelimiting_metrics where identifier = $1 and period = 'hour'", [id])).rows[0]!
    assert.equal(row.value, total)
    // Grants stop short of L by the room kept for the provisional quota of every ticket holder.
    assert.equal(row.lim, grantLimit(L))
    assert.ok(row.reserved <= L, JSON.stringify(row))
  })

  await t.test('1,000 new keys at a low rate each are served without waiting a tick (provisional quota)', async () => {
    await routeWithPlugin(a, up.port, '/many', { name: 'rate-limiting', config: { minute: 10_000_000, policy: 'cluster', limit_by: 'header', header_name: 'x-id' } })
    // The first key of the window waits for the flush that takes the node's ticket; the keys after it do not.
    await ready(a, '/many', { 'x-id': `probe-${randomUUID()}` })
    const tick = a.primary.rateLimit.tickMs
    const waits0 = a.primary.rateLimit.stats().quota_waits
    const statements0 = a.primary.rateLimit.stats().statements_total
    const pool = new Pool(a.proxy, { connections: 16, pipelining: 1 })
    const latencies: number[] = []
    const prefix = randomUUID()
    const t0 = Date.now()
    try {
      // 1,000 keys, 3 requests each, every key's requests far apart (one pass over all keys each
      // round); 16 sequential lanes, so that a latency is the gateway's, not a queue in the client.
      for (let round = 0; round < 3; round++) {
        await Promise.all(Array.from({ length: 16 }, async (_, lane) => {
          for (let k = lane; k < 1000; k += 16) {
            const s = performance.now()
            const res = await pool.request({ path: '/many', method: 'GET', headers: { 'x-id': `${prefix}-${k}` } })
            await res.body.dump()
            latencies.push(performance.now() - s)
            assert.equal(res.statusCode, 200)
          }
        }))
      }
    } finally {
      await pool.close()
    }
    const seconds = (Date.now() - t0) / 1000
    const st = a.primary.rateLimit.stats()
    const waits = st.quota_waits - waits0
    latencies.sort((x, y) => x - y)
    const p50 = latencies[latencies.length >> 1]!
    const p90 = latencies[Math.floor(latencies.length * 0.9)]!
    const perSecond = (st.statements_total - statements0) / seconds
    t.diagnostic(`3,000 requests over 1,000 keys in ${seconds.toFixed(2)} s: ${waits} waited for quota, p50 ${p50.toFixed(2)} ms, p90 ${p90.toFixed(2)} ms (tick ${tick} ms), ${perSecond.toFixed(1)} statements/s`)
    // A minute rollover during the run makes the first key of the new window wait once (per worker at most).
    assert.ok(waits <= 4, `${waits} requests waited for quota`)
    assert.ok(p90 < tick / 2, `p90 ${p90} ms against a ${tick} ms tick`)
    assert.ok(perSecond <= 1000 / tick + 1, `${perSecond} statements/s`)
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
