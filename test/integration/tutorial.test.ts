/**
 * Kong's getting-started tutorial, unchanged, against the real gateway (primary + 2 workers, real
 * PostgreSQL, a real upstream on loopback): form-encoded service with `url`, a route with
 * `paths[]=`, and the proxied request answered by the upstream at the stripped path.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

let db: TestDb
let gw: Gateway
let upstream: Server
let upstreamPort: number

before(async () => {
  upstream = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }))
    })
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  upstreamPort = (upstream.address() as { port: number }).port
  db = await createTestDb()
  gw = await startGateway(db.settings)
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await new Promise((resolve) => upstream?.close(resolve))
})

function form (fields: Array<[string, string]>): string {
  return fields.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
}

test('tutorial: create a service and a route with form data, then proxy /httpbin/get to the upstream /get', async () => {
  const svc = await request(`${gw.admin}/services/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form([['name', 'httpbin-service'], ['url', `http://127.0.0.1:${upstreamPort}`]]),
  })
  assert.equal(svc.statusCode, 201)
  const service = await svc.body.json() as Record<string, unknown>
  assert.equal(service.name, 'httpbin-service')
  assert.equal(service.host, '127.0.0.1')
  assert.equal(service.port, upstreamPort)
  assert.equal(service.protocol, 'http')
  assert.equal(service.path, null)

  const rt = await request(`${gw.admin}/services/httpbin-service/routes`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form([['paths[]', '/httpbin'], ['name', 'httpbin-route']]),
  })
  assert.equal(rt.statusCode, 201)
  const route = await rt.body.json() as Record<string, unknown>
  assert.deepEqual(route.paths, ['/httpbin'])
  assert.deepEqual(route.service, { id: service.id })

  await gw.primary.sync()
  const res = await request(`${gw.proxy}/httpbin/get?x=1`)
  assert.equal(res.statusCode, 200)
  const seen = await res.body.json() as { method: string; url: string; headers: Record<string, string> }
  assert.equal(seen.url, '/get?x=1')
  assert.equal(seen.method, 'GET')
  assert.equal(seen.headers['x-forwarded-prefix'], '/httpbin')
  assert.match(seen.headers['via'] ?? '', /kong\//)
  assert.match(String(res.headers['via']), /1\.1 kong\//)
  assert.ok(res.headers['x-kong-upstream-latency'] !== undefined)
  assert.ok(res.headers['x-kong-proxy-latency'] !== undefined)
})

test('tutorial: an unknown path gets Kong\'s 404 with a request id', async () => {
  const res = await request(`${gw.proxy}/nothing-here`)
  assert.equal(res.statusCode, 404)
  const body = await res.body.json() as { message: string; request_id: string }
  assert.equal(body.message, 'no Route matched with those values')
  assert.match(body.request_id, /^[0-9a-f]{32}$/)
  assert.equal(res.headers['x-kong-request-id'], body.request_id)
})

test('tutorial: a changed route is served after the Admin API write, and a deleted one is gone', async () => {
  const patch = await request(`${gw.admin}/routes/httpbin-route`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ paths: ['/bin'] }),
  })
  assert.equal(patch.statusCode, 200)
  await patch.body.dump()
  await gw.primary.sync()
  const moved = await request(`${gw.proxy}/bin/anything`)
  assert.equal(moved.statusCode, 200)
  assert.equal((await moved.body.json() as { url: string }).url, '/anything')
  const old = await request(`${gw.proxy}/httpbin/get`)
  assert.equal(old.statusCode, 404)
  await old.body.dump()

  const del = await request(`${gw.admin}/routes/httpbin-route`, { method: 'DELETE' })
  assert.equal(del.statusCode, 204)
  await del.body.dump()
  await gw.primary.sync()
  const gone = await request(`${gw.proxy}/bin/anything`)
  assert.equal(gone.statusCode, 404)
  await gone.body.dump()
})
