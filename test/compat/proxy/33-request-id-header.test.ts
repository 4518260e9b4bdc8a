/**
 * Port of Kong's spec/02-integration/05-proxy/33-request-id-header_spec.lua: X-Kong-Request-Id on
 * responses (`headers`) and on upstream requests (`headers_upstream`), with real nodes on one
 * PostgreSQL database (the entities are created through the first node's Admin API; the others
 * load them at start) in front of a real echo upstream.
 *
 * Kong's spec sets the header from plugins with post-function (Lua in `access` and in
 * `header_filter`); Sluice runs no Lua, so request-transformer (`add.headers`, access) and
 * response-transformer (`add.headers`, header filter) set it instead: the observable part, that
 * Kong's own value replaces a plugin's, is the same. Kong's five configurations are three nodes
 * here: the defaults; `headers = X-Kong-Request-Id` with `headers_upstream = off`; and
 * `headers = off` with `headers_upstream = X-Kong-Request-Id` (the two settings are independent).
 *
 * Cases marked (Sluice) go past the spec on the same rule: Kong's value also replaces one a plugin
 * sets on a short-circuited response and one the upstream sends, and with the header turned off
 * nothing is replaced.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startEcho, type Received, type Upstream } from '../../helpers/upstream.ts'
import { create } from './http-helpers.ts'

const HEX = /^[0-9a-f]+$/

let db: TestDb
let echo: Upstream
/** Answers every request with its own X-Kong-Request-Id response header. */
let idUpstream: Server
let idUpstreamPort: number
const nodes: Gateway[] = []

async function setupDb (admin: string): Promise<void> {
  const svc = await create(admin, '/services', { host: '127.0.0.1', port: echo.port, protocol: 'http' })
  const service = { id: svc.id as string }
  await create(admin, '/routes', { protocols: ['http'], hosts: ['request_id'], service })
  const access = await create(admin, '/routes', { protocols: ['http'], hosts: ['post-function-access'], service })
  await create(admin, '/plugins', { name: 'request-transformer', route: { id: access.id }, config: { add: { headers: ['X-Kong-Request-Id:overwritten'] } } })
  const filter = await create(admin, '/routes', { protocols: ['http'], hosts: ['post-function-header-filter'], service })
  await create(admin, '/plugins', { name: 'response-transformer', route: { id: filter.id }, config: { add: { headers: ['X-Kong-Request-Id:overwritten'] } } })
  // (Sluice) a plugin's exit, then a header filter that sets the header on it
  const exit = await create(admin, '/routes', { protocols: ['http'], hosts: ['exit-header-filter'], service })
  await create(admin, '/plugins', { name: 'request-termination', route: { id: exit.id }, config: { status_code: 200, message: 'terminated' } })
  await create(admin, '/plugins', { name: 'response-transformer', route: { id: exit.id }, config: { add: { headers: ['X-Kong-Request-Id:overwritten'] } } })
  // (Sluice) an upstream that answers with the header itself
  const own = await create(admin, '/services', { host: '127.0.0.1', port: idUpstreamPort, protocol: 'http' })
  await create(admin, '/routes', { protocols: ['http'], hosts: ['upstream-sets-id'], service: { id: own.id } })
}

async function node (overrides: Record<string, string> = {}): Promise<Gateway> {
  const gw = await startGateway(db.settings, { nginx_worker_processes: '1', ...overrides })
  nodes.push(gw)
  return gw
}

before(async () => {
  echo = await startEcho()
  idUpstream = createServer((req, res) => {
    req.resume()
    res.writeHead(200, { 'x-kong-request-id': 'from-upstream', 'content-type': 'text/plain', 'content-length': '2' })
    res.end('ok')
  })
  idUpstream.listen(0, '127.0.0.1')
  await once(idUpstream, 'listening')
  idUpstreamPort = (idUpstream.address() as { port: number }).port
  db = await createTestDb()
})

after(async () => {
  for (const gw of nodes) await gw.stop()
  await db?.drop()
  await echo?.close()
  idUpstream?.close()
})

interface Answer { status: number; id: unknown; body: string }

async function send (gw: Gateway, host: string, path = '/', headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(gw.proxy + path, { headers: { host, ...headers } })
  return { status: res.statusCode, id: res.headers['x-kong-request-id'], body: await res.body.text() }
}

/** The X-Kong-Request-Id value(s) the upstream received. */
function upstreamId (a: Answer): string | undefined {
  assert.equal(a.status, 200, a.body)
  return (JSON.parse(a.body) as Received).headers['x-kong-request-id']
}

describe('X-Kong-Request-Id header', () => {
  describe('with default configuration', () => {
    let gw: Gateway
    before(async () => {
      gw = await node()
      await setupDb(gw.admin)
      await gw.primary.sync()
    })

    test('(downstream) contains the expected value', async () => {
      const a = await send(gw, 'request_id')
      assert.equal(a.status, 200)
      assert.match(String(a.id), HEX)
    })

    test('(downstream) should be populated when no API matched', async () => {
      const a = await send(gw, '404.test')
      assert.equal(a.status, 404)
      assert.equal((JSON.parse(a.body) as { message: string }).message, 'no Route matched with those values')
      assert.match(String(a.id), HEX)
    })

    test('(downstream) overwrites value set by plugin', async () => {
      const a = await send(gw, 'post-function-header-filter')
      assert.equal(a.status, 200)
      assert.equal(typeof a.id, 'string', `one field, got ${JSON.stringify(a.id)}`)
      assert.match(a.id as string, HEX)
      assert.notEqual(a.id, 'overwritten')
    })

    test('(downstream, Sluice) overwrites value set by plugin on a short-circuited response', async () => {
      const a = await send(gw, 'exit-header-filter')
      assert.equal(a.status, 200)
      assert.equal(typeof a.id, 'string', `one field, got ${JSON.stringify(a.id)}`)
      assert.match(a.id as string, HEX)
    })

    test('(downstream, Sluice) overwrites value sent by the upstream', async () => {
      const a = await send(gw, 'upstream-sets-id')
      assert.equal(a.status, 200)
      assert.equal(typeof a.id, 'string', `one field, got ${JSON.stringify(a.id)}`)
      assert.match(a.id as string, HEX)
    })

    test('(upstream) contains the expected value', async () => {
      const a = await send(gw, 'request_id', '/anything')
      const id = upstreamId(a)
      assert.match(id ?? '', HEX)
      assert.equal(id, a.id, 'the same id both ways')
    })

    test('(upstream) overwrites client value if any', async () => {
      const id = upstreamId(await send(gw, 'request_id', '/anything', { 'X-Kong-Request-Id': 'client_value' }))
      assert.match(id ?? '', HEX)
      assert.notEqual(id, 'client_value')
    })

    test('(upstream) overwrites value set by plugin', async () => {
      const id = upstreamId(await send(gw, 'post-function-access'))
      assert.match(id ?? '', HEX)
      assert.notEqual(id, 'overwritten')
    })
  })

  describe('with configuration [headers=X-Kong-Request-Id, headers_upstream=off]', () => {
    let gw: Gateway
    before(async () => { gw = await node({ headers: 'X-Kong-Request-Id', headers_upstream: 'off' }) })

    test('(downstream) contains the expected value', async () => {
      const a = await send(gw, 'request_id')
      assert.equal(a.status, 200)
      assert.match(String(a.id), HEX)
    })

    test('(upstream) is not injected: nil', async () => {
      assert.equal(upstreamId(await send(gw, 'request_id')), undefined)
    })

    test('(upstream, Sluice) a client or plugin value goes through untouched', async () => {
      assert.equal(upstreamId(await send(gw, 'request_id', '/', { 'X-Kong-Request-Id': 'client_value' })), 'client_value')
      assert.equal(upstreamId(await send(gw, 'post-function-access')), 'overwritten')
    })
  })

  describe('with configuration [headers=off, headers_upstream=X-Kong-Request-Id]', () => {
    let gw: Gateway
    before(async () => { gw = await node({ headers: 'off', headers_upstream: 'X-Kong-Request-Id' }) })

    test('(downstream) is not injected: nil', async () => {
      const a = await send(gw, 'request_id')
      assert.equal(a.status, 200)
      assert.equal(a.id, undefined)
    })

    test('(upstream) is injected: contains the expected value', async () => {
      assert.match(upstreamId(await send(gw, 'request_id')) ?? '', HEX)
    })

    test('(downstream, Sluice) a plugin or upstream value goes through untouched', async () => {
      assert.equal((await send(gw, 'post-function-header-filter')).id, 'overwritten')
      assert.equal((await send(gw, 'exit-header-filter')).id, 'overwritten')
      assert.equal((await send(gw, 'upstream-sets-id')).id, 'from-upstream')
    })
  })
})
