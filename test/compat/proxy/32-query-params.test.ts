/**
 * Port of Kong's spec/02-integration/05-proxy/32-query-params_spec.lua: a plugin that sets query
 * arguments (request-transformer `add.querystring`) on a request whose target ends in a bare `?`
 * sends them upstream. A real node on PostgreSQL configured through its Admin API, a real echo
 * upstream; the request goes over a raw socket so that the bare `?` is sent as it is.
 *
 * The one case of the spec is ported, plus the same request without the plugin (the bare `?` is
 * kept, as Kong's handler.lua access.after keeps it) and one with arguments of its own.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startEcho, type Received, type Upstream } from '../../helpers/upstream.ts'
import { create, rawRequest } from './http-helpers.ts'

let db: TestDb
let gw: Gateway
let echo: Upstream

before(async () => {
  echo = await startEcho()
  db = await createTestDb()
  gw = await startGateway(db.settings, { nginx_worker_processes: '1' })
  const svc = await create(gw.admin, '/services', { url: echo.url })
  const route = await create(gw.admin, '/routes', { service: { id: svc.id }, paths: ['/set-query-arg'] })
  await create(gw.admin, '/plugins', { name: 'request-transformer', route: { id: route.id }, config: { add: { querystring: ['dummy:1'] } } })
  await create(gw.admin, '/routes', { service: { id: svc.id }, paths: ['/plain'] })
  await gw.primary.sync()
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await echo?.close()
})

async function upstreamGot (target: string): Promise<Received> {
  const res = await rawRequest(gw.proxyPort, 'GET', target, [['Host', 'mock_upstream']])
  assert.equal(res.status, 200, res.body)
  return JSON.parse(res.body) as Received
}

test('32-query-params [postgres]', async (t) => {
  await t.test('does proxy set query args if URI does not contain arguments', async () => {
    const got = await upstreamGot('/set-query-arg?')
    assert.equal(got.url, '/?dummy=1')
    assert.equal(new URLSearchParams(got.url.slice(2)).get('dummy'), '1')
  })

  await t.test('(Sluice) arguments of the request are kept beside the added one', async () => {
    assert.equal((await upstreamGot('/set-query-arg?a=1')).url, '/?a=1&dummy=1')
  })

  await t.test('(Sluice) without a plugin a bare ? goes upstream as sent', async () => {
    assert.equal((await upstreamGot('/plain?')).url, '/?')
  })
})
