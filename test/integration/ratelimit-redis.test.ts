/**
 * rate-limiting, policy redis, against the Redis of the machine (127.0.0.1:6379; skipped with a
 * message when none answers): the same batching and quota reservation as the cluster policy, on
 * Kong's keys. Two whole gateways share the Redis: the bound, the headers, Kong's key holding the
 * usage, and a Redis that does not answer (fault_tolerant true / false).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { RespClient } from '../../src/primary/ratelimit/resp-client.ts'
import { freePort } from '../helpers/ports.ts'
import { clearOfEdge, count, fire, get, hasRateLimitHeader, node, ready, routeWithPlugin, testDb, upstream } from './ratelimit-harness.ts'

const REDIS = { host: '127.0.0.1', port: 6379, username: null, password: null, database: 0, timeout: 1000, ssl: false, sslVerify: false, serverName: null }

async function redisAnswers (): Promise<boolean> {
  const c = new RespClient(REDIS)
  try { return (await c.command(['PING'])) === 'PONG' } catch { return false } finally { c.close() }
}

test('rate-limiting redis: 2 nodes on one Redis', async (t) => {
  if (!(await redisAnswers())) {
    t.skip('no Redis answers on 127.0.0.1:6379: the redis policy is not tested here')
    return
  }
  const redis = new RespClient(REDIS)
  t.after(() => redis.close())
  const db = await testDb(t)
  const up = await upstream(t)
  const a = await node(t, db)
  const b = await node(t, db)
  const conf = { policy: 'redis', redis: { host: REDIS.host, port: REDIS.port }, limit_by: 'header', header_name: 'x-id' }

  await t.test('the bound: admitted <= L and >= 98% of L with 3x L over both nodes; Kong\'s key holds the usage', async () => {
    const L = 200
    const ids = await routeWithPlugin(a, up.port, '/rbound', { name: 'rate-limiting', config: { ...conf, hour: L } })
    for (const g of [a, b]) await ready(g, '/rbound', { 'x-id': `probe-${randomUUID()}` })
    const id = randomUUID()
    const results = await Promise.all([a, b].map((g) => fire(g.proxy, '/rbound', 300, 16, { 'x-id': id })))
    const admitted = results.map((r) => count(r, 200))
    const total = admitted[0]! + admitted[1]!
    t.diagnostic(`admitted ${admitted.join(' + ')} = ${total} of L = ${L}`)
    assert.deepEqual(results.flat().filter((s) => s !== 200 && s !== 429), [])
    assert.ok(total <= L && total >= Math.ceil(0.98 * L), `admitted ${total}`)
    await Promise.all([a, b].map((g) => g.primary.rateLimit.drain()))
    const hourStart = Math.floor(Date.now() / 3_600_000) * 3_600_000
    const key = `ratelimit:${ids.route}:00000000-0000-0000-0000-000000000000:${id}:${hourStart}:hour`
    assert.equal(Number(await redis.command(['GET', key])), total)
    assert.ok(Number(await redis.command(['GET', `${key}:sluice-reserved`])) <= L)
    const ttl = Number(await redis.command(['TTL', key]))
    assert.ok(ttl > 0 && ttl <= 3600, `ttl ${ttl}`)
  })

  await t.test('headers: minute = 6, the 7th request is the 429', async () => {
    await routeWithPlugin(a, up.port, '/rheaders', { name: 'rate-limiting', config: { ...conf, minute: 6 } })
    await ready(a, '/rheaders', { 'x-id': 'probe' })
    await clearOfEdge()
    const h = { 'x-id': randomUUID() }
    for (let i = 1; i <= 6; i++) {
      const r = await get(a, '/rheaders', h)
      assert.equal(r.status, 200)
      assert.equal(r.headers['x-ratelimit-remaining-minute'], String(6 - i))
    }
    assert.equal((await get(a, '/rheaders', h)).status, 429)
  })

  await t.test('a Redis that does not answer: fault_tolerant proxies without headers, otherwise 500', async () => {
    const dead = { host: '127.0.0.1', port: await freePort(), timeout: 500 }
    await routeWithPlugin(a, up.port, '/rdead', { name: 'rate-limiting', config: { ...conf, redis: dead, minute: 100 } })
    await routeWithPlugin(a, up.port, '/rdeadstrict', { name: 'rate-limiting', config: { ...conf, redis: dead, minute: 100, fault_tolerant: false } })
    // Both plugins are in the snapshot once the strict one answers 500.
    await ready(a, '/rdeadstrict', { 'x-id': 'probe' }, (r) => r.status === 500)
    const r = await get(a, '/rdead', { 'x-id': randomUUID() })
    assert.equal(r.status, 200)
    assert.equal(hasRateLimitHeader(r), false)
    const s = await get(a, '/rdeadstrict', { 'x-id': randomUUID() })
    assert.equal(s.status, 500)
    assert.equal(JSON.parse(s.body).message, 'An unexpected error occurred')
    assert.ok(a.primary.rateLimit.stats().stores_down.some((k) => k.startsWith('redis:')))
  })
})
