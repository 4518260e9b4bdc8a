/**
 * response-ratelimiting through whole gateways (ported from
 * spec/03-plugins/24-response-rate-limiting/04-access_spec.lua): the upstream reports usage in
 * `X-Kong-Limit`, the gateway returns X-RateLimit-Limit/Remaining-<name>-<period>, strips the
 * header, sends X-RateLimit-Remaining-<name> upstream, answers 429 with no body once a limit is
 * used up, block_on_first_violation refuses in access; and the cluster policy across two nodes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { get, node, ready, routeWithPlugin, testDb, upstream } from './ratelimit-harness.ts'

test('response-ratelimiting', async (t) => {
  const db = await testDb(t)
  const up = await upstream(t)
  const a = await node(t, db)
  const b = await node(t, db)
  const byHeader = { limit_by: 'ip' }

  await t.test('local: headers, the header stripped, 429 without a body once used up', async () => {
    await routeWithPlugin(a, up.port, '/videos', { name: 'response-ratelimiting', config: { ...byHeader, limits: { videos: { day: 3, year: 100 } } } })
    await ready(a, '/videos?limit=other=1', {}, (r) => r.headers['x-ratelimit-limit-videos-day'] !== undefined)
    // the probe reported no `videos`: nothing counted yet
    for (let i = 1; i <= 3; i++) {
      const r = await get(a, '/videos?limit=videos=1')
      assert.equal(r.status, 200)
      assert.equal(r.headers['x-ratelimit-limit-videos-day'], '3')
      assert.equal(r.headers['x-ratelimit-remaining-videos-day'], String(3 - i))
      assert.equal(r.headers['x-ratelimit-limit-videos-year'], '100')
      assert.equal(r.headers['x-ratelimit-remaining-videos-year'], String(100 - i))
      assert.equal(r.headers['x-kong-limit'], undefined)
      // what went upstream: the lowest remaining over the periods, before this response
      assert.equal(r.headers['x-seen-remaining-videos'], String(4 - i))
    }
    const r = await get(a, '/videos?limit=videos=1')
    assert.equal(r.status, 429)
    assert.equal(r.body, '')
    // a response that reports nothing for the limit still passes
    const free = await get(a, '/videos')
    assert.equal(free.status, 200)
    assert.equal(free.headers['x-ratelimit-remaining-videos-day'], '0')
  })

  await t.test('block_on_first_violation: refused in access once remaining is 0', async () => {
    await routeWithPlugin(a, up.port, '/images', { name: 'response-ratelimiting', config: { ...byHeader, block_on_first_violation: true, limits: { images: { day: 2 } } } })
    await ready(a, '/images', {}, (r) => r.headers['x-ratelimit-limit-images-day'] !== undefined)
    assert.equal((await get(a, '/images?limit=images=2')).status, 200)
    const r = await get(a, '/images')
    assert.equal(r.status, 429)
    assert.equal(JSON.parse(r.body).message, "API rate limit exceeded for 'images'")
  })

  await t.test('cluster: usage reported on one node is seen by the other after a sync', async () => {
    await routeWithPlugin(a, up.port, '/cvideos', { name: 'response-ratelimiting', config: { limit_by: 'consumer', policy: 'cluster', limits: { videos: { hour: 5 } } } })
    await ready(a, '/cvideos', {}, (r) => r.headers['x-ratelimit-limit-videos-hour'] !== undefined)
    await ready(b, '/cvideos', {}, (r) => r.headers['x-ratelimit-limit-videos-hour'] !== undefined)
    assert.equal((await get(a, `/cvideos?limit=videos=5&n=${randomUUID()}`)).status, 200)
    // b learns a's usage when its next flush of the counter returns the total
    const end = Date.now() + 5000
    let seen = ''
    while (Date.now() < end) {
      const r = await get(b, '/cvideos')
      seen = String(r.headers['x-ratelimit-remaining-videos-hour'])
      if (seen === '0') break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.equal(seen, '0')
    const r = await get(b, '/cvideos?limit=videos=1')
    assert.equal(r.status, 429)
  })
})
