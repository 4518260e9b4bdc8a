/**
 * Port of Kong's spec/03-plugins/44-standard-webhooks/02-integration_spec.lua, for each of its
 * strategies: a real node on PostgreSQL configured through the Admin API, and a DB-less node
 * started from a declarative file; a route on `/` to a real echo upstream with the plugin on it.
 * Cases: missing headers, a timestamp that is not a number, no body, a correct signature, and a
 * timestamp older than the tolerance; plus the first-value rule for repeated headers and the
 * 400 body Kong's `kong.response.error` gives.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb } from '../../helpers/pg.ts'
import { startGateway } from '../../helpers/gateway.ts'
import { startDblessGateway } from '../../helpers/dbless.ts'
import { adminCall } from '../../helpers/admin-api.ts'
import { startEcho, type Upstream } from '../../helpers/upstream.ts'
import { sign } from '../../../src/plugins/standard-webhooks/signature.ts'

const SECRET = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const MESSAGE_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek'
const BODY = '{"foo":"bar"}'

async function postgresNode (t: TestContext, echo: Upstream): Promise<string> {
  const db = await createTestDb()
  const gw = await startGateway(db.settings, { nginx_worker_processes: '1' })
  t.after(async () => { await gw.stop(); await db.drop() })
  const svc = await adminCall(gw.admin, 'POST', '/services', { name: 'echo', url: echo.url })
  assert.equal(svc.status, 201, JSON.stringify(svc.json))
  const route = await adminCall(gw.admin, 'POST', '/services/echo/routes', { paths: ['/'] })
  assert.equal(route.status, 201, JSON.stringify(route.json))
  const p = await adminCall(gw.admin, 'POST', `/routes/${route.json.id as string}/plugins`, { name: 'standard-webhooks', config: { secret_v1: SECRET } })
  assert.equal(p.status, 201, JSON.stringify(p.json))
  assert.deepEqual(p.json.config, { secret_v1: SECRET, tolerance_second: 300 })
  await gw.primary.sync()
  return gw.proxy
}

async function dblessNode (t: TestContext, echo: Upstream): Promise<string> {
  const declarative = [
    '_format_version: "3.0"',
    'services:',
    '- name: echo',
    `  url: ${echo.url}`,
    '  routes:',
    '  - name: webhooks',
    '    paths: ["/"]',
    '    plugins:',
    '    - name: standard-webhooks',
    '      config:',
    `        secret_v1: ${SECRET}`,
  ].join('\n')
  const gw = await startDblessGateway({ declarative, overrides: { nginx_worker_processes: '1' } })
  t.after(() => gw.stop())
  return gw.proxy
}

const now = (): number => Math.floor(Date.now() / 1000)

for (const strategy of ['postgres', 'off'] as const) {
  test(`standard-webhooks: (Access) [#${strategy}]`, { timeout: 60_000 }, async (t) => {
    const echo = await startEcho()
    t.after(() => echo.close())
    const proxy = strategy === 'postgres' ? await postgresNode(t, echo) : await dblessNode(t, echo)
    const post = (headers: Record<string, string | string[]>, body?: string) =>
      request(proxy + '/', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })

    await t.test('rejects missing headers', async () => {
      const res = await post({ 'webhook-id': MESSAGE_ID, 'webhook-timestamp': String(now()) }, BODY)
      assert.equal(res.statusCode, 400)
      assert.equal((await res.body.json() as { message: string }).message, 'Bad request')
    })

    await t.test('rejects invalid timestamp', async () => {
      const res = await post({ 'webhook-id': MESSAGE_ID, 'webhook-signature': 'asdf', 'webhook-timestamp': 'XYZ' }, BODY)
      assert.equal(res.statusCode, 400)
      await res.body.dump()
    })

    await t.test('rejects missing body', async () => {
      const res = await post({ 'webhook-id': MESSAGE_ID, 'webhook-signature': 'asdf', 'webhook-timestamp': String(now()) })
      assert.equal(res.statusCode, 400)
      await res.body.dump()
    })

    await t.test('accepts correct signature', async () => {
      const ts = now()
      const before = echo.received.length
      const res = await post({ 'webhook-id': MESSAGE_ID, 'webhook-signature': sign(SECRET, MESSAGE_ID, ts, BODY), 'webhook-timestamp': String(ts) }, BODY)
      assert.equal(res.statusCode, 200)
      await res.body.dump()
      assert.equal(echo.received.length, before + 1)
      assert.equal(echo.received.at(-1)!.body, BODY, 'the body reaches the upstream unchanged')
    })

    await t.test('fails because the timestamp tolerance is exceeded', async () => {
      const ts = now() - 6 * 60
      const res = await post({ 'webhook-id': MESSAGE_ID, 'webhook-signature': sign(SECRET, MESSAGE_ID, ts, BODY), 'webhook-timestamp': String(ts) }, BODY)
      assert.equal(res.statusCode, 400)
      await res.body.dump()
    })

    await t.test('rejects a signature over another body, id or secret', async () => {
      const ts = now()
      for (const signature of [sign(SECRET, MESSAGE_ID, ts, '{"foo":"baz"}'), sign(SECRET, 'msg_other', ts, BODY), sign('other', MESSAGE_ID, ts, BODY)]) {
        const res = await post({ 'webhook-id': MESSAGE_ID, 'webhook-signature': signature, 'webhook-timestamp': String(ts) }, BODY)
        assert.equal(res.statusCode, 400)
        await res.body.dump()
      }
    })

    await t.test('repeated headers: the first value counts; the timestamp is signed as the number it reads as', async () => {
      const ts = now()
      const good = sign(SECRET, MESSAGE_ID, ts, BODY)
      let res = await post({ 'webhook-id': MESSAGE_ID, 'webhook-signature': [good, 'v1,other'], 'webhook-timestamp': `${ts}.0` }, BODY)
      assert.equal(res.statusCode, 200)
      await res.body.dump()
      res = await post({ 'webhook-id': MESSAGE_ID, 'webhook-signature': ['v1,other', good], 'webhook-timestamp': String(ts) }, BODY)
      assert.equal(res.statusCode, 400)
      await res.body.dump()
    })

    await t.test('a timestamp in the future passes the tolerance check', async () => {
      const ts = now() + 3600
      const res = await post({ 'webhook-id': MESSAGE_ID, 'webhook-signature': sign(SECRET, MESSAGE_ID, ts, BODY), 'webhook-timestamp': String(ts) }, BODY)
      assert.equal(res.statusCode, 200)
      await res.body.dump()
    })
  })
}
