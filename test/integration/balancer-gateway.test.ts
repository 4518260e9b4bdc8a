/**
 * The balancer behind the whole gateway: upstream and targets created through the Admin API on a
 * real PostgreSQL reach the workers in the snapshot and are balanced over; a target deleted
 * through the Admin API leaves the rotation (Kong spec 10-balancer/04-round-robin_spec.lua).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

let db: TestDb
let gw: Gateway
const hits = { a: 0, b: 0 }
const hosts: string[] = []
const servers: Array<ReturnType<typeof createServer>> = []
const ports: Record<'a' | 'b', number> = { a: 0, b: 0 }

before(async () => {
  for (const name of ['a', 'b'] as const) {
    const s = createServer((req, res) => { hits[name]++; hosts.push(req.headers.host ?? ''); req.resume(); res.end(name) })
    s.listen(0, '127.0.0.1')
    await once(s, 'listening')
    ports[name] = (s.address() as { port: number }).port
    servers.push(s)
  }
  db = await createTestDb()
  gw = await startGateway(db.settings)
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  for (const s of servers) { s.closeAllConnections(); s.close() }
})

async function admin (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await request(`${gw.admin}${path}`, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.body.text()
  return { status: r.statusCode, json: text === '' ? null : JSON.parse(text) }
}

async function proxy (path: string): Promise<{ status: number; body: string }> {
  const r = await request(`${gw.proxy}${path}`)
  return { status: r.statusCode, body: await r.body.text() }
}

test('Admin API upstream + targets: a service named after the upstream balances over the targets; a deleted target leaves', async () => {
  assert.equal((await admin('POST', '/upstreams', { name: 'gw.upstream' })).status, 201)
  assert.equal((await admin('POST', '/upstreams/gw.upstream/targets', { target: `127.0.0.1:${ports.a}` })).status, 201)
  assert.equal((await admin('POST', '/upstreams/gw.upstream/targets', { target: `localhost:${ports.b}` })).status, 201)
  assert.equal((await admin('POST', '/services', { name: 'lb', host: 'gw.upstream', port: 9 })).status, 201)
  assert.equal((await admin('POST', '/services/lb/routes', { paths: ['/lb'] })).status, 201)
  // The change reaches every worker through the snapshot: wait until the route answers.
  const deadline = Date.now() + 20_000
  let r = await proxy('/lb')
  while (r.status === 404 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    r = await proxy('/lb')
  }
  assert.equal(r.status, 200)
  hits.a = 0
  hits.b = 0
  for (let i = 0; i < 20; i++) assert.equal((await proxy('/lb')).status, 200)
  // Two workers, each its own wheel turning a, b: each target gets 10 +/- 2.
  assert.ok(hits.a >= 8 && hits.b >= 8, `a=${hits.a} b=${hits.b}`)
  assert.ok(hosts.includes(`localhost:${ports.b}`))
  assert.ok(hosts.includes(`127.0.0.1:${ports.a}`))

  assert.equal((await admin('DELETE', `/upstreams/gw.upstream/targets/127.0.0.1:${ports.a}`)).status, 204)
  let streak = 0
  while (streak < 10 && Date.now() < deadline + 20_000) {
    const before = hits.a
    assert.equal((await proxy('/lb')).status, 200)
    streak = hits.a === before ? streak + 1 : 0
  }
  assert.equal(streak, 10, 'only the remaining target is used')
})
