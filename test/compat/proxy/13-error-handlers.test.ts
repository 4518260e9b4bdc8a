/**
 * Port of Kong's spec/02-integration/05-proxy/13-error_handlers_spec.lua: errors nginx raises
 * before any Kong phase, rendered by Kong's error handler (text/plain by default, the request id
 * on its own line, Kong's Server header): a header field over large_client_header_buffers (8k) is
 * 400 `Request header or cookie too large`; a TRACE request is 405 `Method not allowed`.
 * A real gateway on PostgreSQL with no routes, as Kong's spec starts it.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { rawExchange } from '../../helpers/raw-http.ts'

let db: TestDb
let gw: Gateway

before(async () => {
  db = await createTestDb()
  gw = await startGateway(db.settings)
})

after(async () => {
  await gw?.stop()
  await db?.drop()
})

test('HTTP 400', async () => {
  // default large_client_header_buffers is 8k
  const res = await request(`${gw.proxy}/`, { headers: { 'x-large': 'a'.repeat(10 * 1024) } })
  const body = await res.body.text()
  assert.equal(res.statusCode, 400)
  assert.ok(String(res.headers.server).includes('kong/'), String(res.headers.server))
  assert.match(body, /Request header or cookie too large/)
})

test('Request For Routers With Trace Method Not Allowed', async () => {
  const res = await rawExchange(gw.proxyPort, 'TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n')
  assert.equal(res.status, 405)
  assert.ok(res.headers.server!.includes('kong/'), res.headers.server)
  assert.match(res.body, /^Method not allowed\nrequest_id: [0-9a-f]+\n$/)
})

test('TRACE is refused before routing and plugins, on a route that allows it, and the connection stays usable', async () => {
  // Not in Kong's spec: nginx refuses TRACE in ngx_http_process_request_header, so a route listing
  // TRACE in its methods is never reached either.
  const svc = await request(`${gw.admin}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'any', url: 'http://127.0.0.1:9/' }) })
  assert.equal(svc.statusCode, 201)
  await svc.body.text()
  const route = await request(`${gw.admin}/services/any/routes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ paths: ['/trace'], methods: ['TRACE', 'GET'] }) })
  assert.equal(route.statusCode, 201)
  await route.body.text()
  await gw.primary.sync()
  const res = await request(`${gw.proxy}/trace`, { method: 'TRACE' })
  assert.equal(res.statusCode, 405)
  assert.match(await res.body.text(), /^Method not allowed\nrequest_id: /)
  assert.notEqual(res.headers.connection, 'close')
})
