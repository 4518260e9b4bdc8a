/**
 * rate-limiting, policy local, through a whole gateway (primary + 2 real worker threads) on a real
 * PostgreSQL: the exact count across workers under concurrency, Kong's headers (ported from
 * spec/03-plugins/23-rate-limiting/04-access_spec.lua: validate_headers, hide_client_headers,
 * custom error code and message, limit_by header / path / IP fallback), the `second` window
 * rolling over, and the sliding window.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { admin, clearOfEdge, count, fire, get, node, ready, routeWithPlugin, testDb, upstream } from './ratelimit-harness.ts'

const PROBE = { 'x-id': 'probe' }

/** Sleeps to just after the next second boundary: a burst then stays inside one `second` window. */
async function nextSecond (offsetMs = 20): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + offsetMs))
}

test('rate-limiting local: exact count across workers, headers, windows', async (t) => {
  const db = await testDb(t)
  const up = await upstream(t)
  const gw = await node(t, db)

  await t.test('exactly the limit passes: 400 concurrent requests, 64 connections, 2 workers', async () => {
    await routeWithPlugin(gw, up.port, '/exact', { name: 'rate-limiting', config: { minute: 150, hour: 100000, limit_by: 'header', header_name: 'x-id' } })
    await ready(gw, '/exact', PROBE)
    await clearOfEdge()
    const before = gw.primary.supervisor.summary().map((w) => w.requests)
    const statuses = await fire(gw.proxy, '/exact', 400, 64, { 'x-id': 'exact' })
    assert.equal(count(statuses, 200), 150)
    assert.equal(count(statuses, 429), 250)
    // Both workers served part of the burst (their request counters are posted once a second).
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const served = gw.primary.supervisor.summary().map((w, i) => w.requests - (before[i] ?? 0))
    assert.equal(served.length, 2)
    assert.ok(served.every((n) => n > 0), `requests per worker: ${served.join(', ')}`)
  })

  await t.test("headers as Kong's validate_headers: minute=6, hour=99999; the 7th request is the 429", async () => {
    await routeWithPlugin(gw, up.port, '/headers', { name: 'rate-limiting', config: { minute: 6, hour: 99999, limit_by: 'header', header_name: 'x-id' } })
    await ready(gw, '/headers', PROBE)
    await clearOfEdge()
    const h = { 'x-id': randomUUID() }
    for (let i = 1; i <= 6; i++) {
      const r = await get(gw, '/headers', h)
      assert.equal(r.status, 200)
      assert.equal(r.headers['x-ratelimit-limit-minute'], '6')
      assert.equal(r.headers['x-ratelimit-remaining-minute'], String(6 - i))
      assert.equal(r.headers['x-ratelimit-limit-hour'], '99999')
      assert.equal(r.headers['x-ratelimit-remaining-hour'], String(99999 - i))
      assert.equal(r.headers['ratelimit-limit'], '6')
      assert.equal(r.headers['ratelimit-remaining'], String(6 - i))
      const reset = Number(r.headers['ratelimit-reset'])
      assert.ok(reset >= 1 && reset <= 60, `reset ${reset}`)
      assert.equal(r.headers['retry-after'], undefined)
    }
    const r = await get(gw, '/headers', h)
    assert.equal(r.status, 429)
    assert.equal(JSON.parse(r.body).message, 'API rate limit exceeded')
    assert.equal(r.headers['x-ratelimit-remaining-minute'], '0')
    assert.equal(r.headers['x-ratelimit-remaining-hour'], String(99999 - 6))
    assert.equal(r.headers['ratelimit-limit'], '6')
    assert.equal(r.headers['ratelimit-remaining'], '0')
    const retry = Number(r.headers['retry-after'])
    assert.ok(retry >= 1 && retry <= 60)
    assert.equal(r.headers['ratelimit-reset'], r.headers['retry-after'])
  })

  await t.test('hide_client_headers: no rate-limit header on the 200s nor on the 429', async () => {
    await routeWithPlugin(gw, up.port, '/hide', { name: 'rate-limiting', config: { minute: 1, limit_by: 'header', header_name: 'x-id', hide_client_headers: true } })
    await ready(gw, '/hide', PROBE, (r) => r.status === 429)
    await clearOfEdge()
    const h = { 'x-id': randomUUID() }
    const names = ['x-ratelimit-limit-minute', 'x-ratelimit-remaining-minute', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after']
    const ok = await get(gw, '/hide', h)
    assert.equal(ok.status, 200)
    for (const n of names) assert.equal(ok.headers[n], undefined, n)
    const no = await get(gw, '/hide', h)
    assert.equal(no.status, 429)
    for (const n of names) assert.equal(no.headers[n], undefined, n)
  })

  await t.test('error_code and error_message', async () => {
    await routeWithPlugin(gw, up.port, '/custom', { name: 'rate-limiting', config: { minute: 1, limit_by: 'header', header_name: 'x-id', error_code: 404, error_message: 'Fake Not Found' } })
    await ready(gw, '/custom', PROBE)
    await clearOfEdge()
    const h = { 'x-id': randomUUID() }
    assert.equal((await get(gw, '/custom', h)).status, 200)
    const r = await get(gw, '/custom', h)
    assert.equal(r.status, 404)
    assert.equal(JSON.parse(r.body).message, 'Fake Not Found')
  })

  await t.test('limit_by header and path; without the header, or off the path, the client IP', async () => {
    await routeWithPlugin(gw, up.port, '/byheader', { name: 'rate-limiting', config: { minute: 2, limit_by: 'header', header_name: 'x-tenant' } })
    await routeWithPlugin(gw, up.port, '/bypath', { name: 'rate-limiting', config: { minute: 2, limit_by: 'path', path: '/bypath/a' } })
    await ready(gw, '/byheader', { 'x-tenant': 'probe' })
    await ready(gw, '/bypath/a')
    await clearOfEdge()
    for (const tenant of ['a', 'b']) {
      assert.deepEqual([
        (await get(gw, '/byheader', { 'x-tenant': tenant })).status,
        (await get(gw, '/byheader', { 'x-tenant': tenant })).status,
        (await get(gw, '/byheader', { 'x-tenant': tenant })).status,
      ], [200, 200, 429])
    }
    assert.deepEqual([(await get(gw, '/byheader')).status, (await get(gw, '/byheader')).status, (await get(gw, '/byheader')).status], [200, 200, 429])
    // the probe took one of /bypath/a's two
    assert.deepEqual([(await get(gw, '/bypath/a')).status, (await get(gw, '/bypath/a')).status], [200, 429])
    assert.deepEqual([(await get(gw, '/bypath/b')).status, (await get(gw, '/bypath/c')).status, (await get(gw, '/bypath/b')).status], [200, 200, 429])
  })

  await t.test('second window: refused inside the second, admitted again once it rolls over', async () => {
    await routeWithPlugin(gw, up.port, '/second', { name: 'rate-limiting', config: { second: 3, limit_by: 'header', header_name: 'x-id' } })
    await ready(gw, '/second', PROBE)
    const h = { 'x-id': randomUUID() }
    await nextSecond()
    const first = await fire(gw.proxy, '/second', 6, 6, h)
    assert.equal(count(first, 200), 3)
    assert.equal(count(first, 429), 3)
    await nextSecond()
    const second = await fire(gw.proxy, '/second', 6, 6, h)
    assert.equal(count(second, 200), 3)
  })
})

test('rate-limiting local: window_type = sliding weighs the previous window', async (t) => {
  const db = await testDb(t)
  const up = await upstream(t)
  const gw = await node(t, db)
  const { plugin } = await routeWithPlugin(gw, up.port, '/sliding', { name: 'rate-limiting', config: { second: 10, limit_by: 'header', header_name: 'x-id' } })
  const patched = await admin(gw, 'PATCH', `/plugins/${plugin}`, { config: { window_type: 'sliding' } })
  assert.equal(patched.status, 200, JSON.stringify(patched.json))
  // Sliding is in force once a full burst in one second, after a full one in the previous
  // second, is cut (fixed windows would pass all 10 again).
  const h = { 'x-id': randomUUID() }
  let passed = 10
  for (let i = 0; i < 20 && passed >= 10; i++) {
    await nextSecond(5)
    passed = count(await fire(gw.proxy, '/sliding', 10, 10, h), 200)
  }
  assert.ok(passed < 10, 'the sliding window never took effect')
  // The previous second admitted 10 (or what the weight let through): 250 ms into the next one
  // it still weighs 3/4, so about 10 - prev * 0.75 pass. The bound allows the burst to run until
  // mid-second on a loaded machine (weight 1/2); a fixed window would pass all 10.
  await nextSecond(5)
  const prev = count(await fire(gw.proxy, '/sliding', 10, 10, h), 200)
  await nextSecond(250)
  const now = count(await fire(gw.proxy, '/sliding', 10, 10, h), 200)
  assert.ok(now <= 10 - Math.floor(prev * 0.5) && now < 10, `previous ${prev}, now ${now}`)
})
