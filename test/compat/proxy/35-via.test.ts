/**
 * Port of Kong's spec/02-integration/05-proxy/35-via_spec.lua: Kong appends itself to the Via
 * header both ways, `1.1 kong/<version>` after the client's Via on the upstream request and after
 * the upstream's Via on the response, and passes the upstream's Server through. For each of
 * Kong's strategies: a node on PostgreSQL configured through its Admin API, and a DB-less node
 * from the spec's declarative file (with `_transform: true`); both hold the spec's gRPC services
 * and routes too. The upstream is a real server that, like the spec's http_mock, answers with the
 * Via it received as JSON, `Server: http-mock` and `Via: 2 nginx, HTTP/1.1 http_mock`.
 *
 * Ported: "HTTP/1.1 in both the inbound and outbound directions". Not portable: the HTTP/2 case
 * (Sluice's proxy listeners speak HTTP/1.1 only) and the two gRPC cases (Sluice does not proxy
 * gRPC: a gRPC route is answered 426/415, kong/runloop/handler.lua's answer to gRPC over HTTP/1.1).
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { request } from 'undici'
import { SERVER_TOKEN } from '../../../src/common/meta.ts'
import { createTestDb } from '../../helpers/pg.ts'
import { startGateway } from '../../helpers/gateway.ts'
import { startDblessGateway } from '../../helpers/dbless.ts'
import { freePort } from '../../helpers/ports.ts'
import { create } from './http-helpers.ts'

/** The spec's http_mock: `/via` echoes the request's Via; its response has a Via and a Server of its own. */
async function startMock (t: TestContext): Promise<number> {
  const server = createServer((req, res) => {
    req.resume()
    if (req.url !== '/via') {
      res.writeHead(404).end()
      return
    }
    const body = JSON.stringify({ via: String(req.headers.via) }) + '\n'
    res.writeHead(200, {
      server: 'http-mock',
      via: '2 nginx, HTTP/1.1 http_mock',
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    })
    res.end(body)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return (server.address() as { port: number }).port
}

async function postgresNode (t: TestContext, mockPort: number, grpcPort: number): Promise<string> {
  const db = await createTestDb()
  const gw = await startGateway(db.settings, { nginx_worker_processes: '1' })
  t.after(async () => { await gw.stop(); await db.drop() })
  const s1 = await create(gw.admin, '/services', { name: 'via_service', url: `http://127.0.0.1:${mockPort}/via` })
  await create(gw.admin, '/routes', { name: 'via_route', hosts: ['test.via'], paths: ['/get'], service: { id: s1.id } })
  const s2 = await create(gw.admin, '/services', { name: 'grpc_service', url: `grpc://127.0.0.1:${grpcPort}` })
  await create(gw.admin, '/routes', { name: 'grpc_route', hosts: ['grpc'], paths: ['/'], service: { id: s2.id } })
  const s3 = await create(gw.admin, '/services', { name: 'grpcs_service', url: `grpcs://127.0.0.1:${grpcPort}` })
  await create(gw.admin, '/routes', { name: 'grpcs_route', hosts: ['grpcs'], paths: ['/'], service: { id: s3.id } })
  await gw.primary.sync()
  return gw.proxy
}

async function dblessNode (t: TestContext, mockPort: number, grpcPort: number): Promise<string> {
  const declarative = `
_format_version: '3.0'
_transform: true
services:
- name: via_service
  url: "http://127.0.0.1:${mockPort}/via"
  routes:
  - name: via_route
    hosts:
    - test.via
    paths:
    - /get
- name: grpc_service
  url: grpc://127.0.0.1:${grpcPort}
  routes:
  - name: grpc_route
    protocols:
    - grpc
    hosts:
    - grpc
    paths:
    - /
- name: grpcs_service
  url: grpcs://127.0.0.1:${grpcPort}
  routes:
  - name: grpcs_route
    protocols:
    - grpc
    hosts:
    - grpcs
    paths:
    - /
`
  const gw = await startDblessGateway({ declarative, overrides: { nginx_worker_processes: '1' } })
  t.after(() => gw.stop())
  return gw.proxy
}

for (const strategy of ['postgres', 'off'] as const) {
  test(`append Kong Gateway info to the 'Via' header [#${strategy}]`, async (t) => {
    const mockPort = await startMock(t)
    // grpcbin stands here only as an address in the configuration: nothing is sent to it.
    const grpcPort = await freePort()
    const proxy = strategy === 'postgres' ? await postgresNode(t, mockPort, grpcPort) : await dblessNode(t, mockPort, grpcPort)

    await t.test('HTTP/1.1 in both the inbound and outbound directions', async () => {
      const res = await request(`${proxy}/get`, { headers: { host: 'test.via', via: '1.1 dev' } })
      const body = await res.body.text()
      assert.equal(res.statusCode, 200, body)
      assert.deepEqual(JSON.parse(body), { via: `1.1 dev, 1.1 ${SERVER_TOKEN}` })
      assert.equal(res.headers.via, `2 nginx, HTTP/1.1 http_mock, 1.1 ${SERVER_TOKEN}`)
      assert.equal(res.headers.server, 'http-mock')
    })
  })
}
