/**
 * TLS through the whole gateway (primary, real PostgreSQL, two workers): the default certificate
 * generated into the prefix, certificates stored through the Admin API and served by SNI,
 * added / replaced / deleted without a restart while a keep-alive TLS connection stays up, and
 * an https-only route over both listeners.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { Agent } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { freePort } from '../helpers/ports.ts'
import { startEcho, type Upstream } from '../helpers/upstream.ts'
import { makeCert, tlsRequest } from '../helpers/tls.ts'

let db: TestDb
let gw: Gateway
let echo: Upstream
let prefix: string
let httpPort: number
let tlsPort: number

before(async () => {
  echo = await startEcho()
  db = await createTestDb()
  prefix = mkdtempSync(join(tmpdir(), 'sluice-gw-tls-'))
  httpPort = await freePort()
  tlsPort = await freePort()
  gw = await startGateway(db.settings, { prefix, proxy_listen: `127.0.0.1:${httpPort}, 127.0.0.1:${tlsPort} ssl` })
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await echo?.close()
  if (prefix !== undefined) rmSync(prefix, { recursive: true, force: true })
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

test('the default certificate is generated into <prefix>/ssl (key 0600) and served without SNI', async () => {
  const ssl = join(prefix, 'ssl')
  assert.equal(statSync(ssl).mode & 0o777, 0o700)
  assert.equal(statSync(join(ssl, 'sluice-default.key')).mode & 0o777, 0o600)
  const r = await tlsRequest(tlsPort, {})
  assert.equal(r.cn, 'localhost')
  assert.equal(r.status, 404) // no route yet
})

test('certificates from the Admin API, by SNI; added, replaced and deleted while a keep-alive connection stays up', async () => {
  const svc = await admin('POST', '/services', { name: 'echo', url: `http://127.0.0.1:${echo.port}` })
  assert.equal(svc.status, 201)
  assert.equal((await admin('POST', '/services/echo/routes', { paths: ['/'] })).status, 201)
  const a = makeCert('a.test')
  const b = makeCert('b.test', { rsa: true })
  const ca = await admin('POST', '/certificates', { cert: a.cert, key: a.key, snis: ['a.test'] })
  assert.equal(ca.status, 201)
  const cb = await admin('POST', '/certificates', { cert: b.cert, key: b.key, snis: ['b.test'] })
  assert.equal(cb.status, 201)
  await gw.primary.sync()

  assert.equal((await tlsRequest(tlsPort, { servername: 'a.test' })).cn, 'a.test')
  assert.equal((await tlsRequest(tlsPort, { servername: 'b.test' })).cn, 'b.test')
  assert.equal((await tlsRequest(tlsPort, {})).cn, 'localhost')

  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  try {
    const first = await tlsRequest(tlsPort, { servername: 'a.test', agent })
    assert.equal(first.status, 200)
    const got = JSON.parse(first.body) as { headers: Record<string, string> }
    assert.equal(got.headers['x-forwarded-proto'], 'https')
    assert.equal(got.headers['x-forwarded-port'], String(tlsPort))
    const same = async (): Promise<void> => {
      const r = await tlsRequest(tlsPort, { servername: 'a.test', agent })
      assert.equal(r.status, 200)
      assert.equal(r.localPort, first.localPort, 'the keep-alive connection was reused')
    }

    // Added.
    const c = makeCert('c.test')
    assert.equal((await admin('POST', '/certificates', { cert: c.cert, key: c.key, snis: ['c.test'] })).status, 201)
    await gw.primary.sync()
    assert.equal((await tlsRequest(tlsPort, { servername: 'c.test' })).cn, 'c.test')
    await same()

    // Replaced: PATCH the certificate of a.test.
    const a2 = makeCert('a.test renewed', { names: ['a.test'] })
    assert.equal((await admin('PATCH', `/certificates/${ca.json.id as string}`, { cert: a2.cert, key: a2.key })).status, 200)
    await gw.primary.sync()
    assert.equal((await tlsRequest(tlsPort, { servername: 'a.test' })).cn, 'a.test renewed')
    await same()

    // Deleted: b.test gets the default certificate.
    assert.equal((await admin('DELETE', `/certificates/${cb.json.id as string}`)).status, 204)
    await gw.primary.sync()
    assert.equal((await tlsRequest(tlsPort, { servername: 'b.test' })).cn, 'localhost')
    await same()
  } finally {
    agent.destroy()
  }

  // Only the default certificate is on disk; no worker left a key file behind.
  const ssl = join(prefix, 'ssl')
  assert.deepEqual(readdirSync(ssl).sort(), ['run', 'sluice-default.crt', 'sluice-default.key'])
  assert.deepEqual(readdirSync(join(ssl, 'run')), [])
})

test('an https-only route: 426 over HTTP, served over HTTPS; route snis over TLS', async () => {
  assert.equal((await admin('POST', '/services/echo/routes', { name: 'secure', paths: ['/secure'], protocols: ['https'] })).status, 201)
  assert.equal((await admin('POST', '/services/echo/routes', { name: 'by-sni', paths: ['/sni'], protocols: ['https'], snis: ['c.test'] })).status, 201)
  await gw.primary.sync()
  const up = await request(`http://127.0.0.1:${httpPort}/secure`)
  assert.equal(up.statusCode, 426)
  assert.equal((await up.body.json() as { message: string }).message, 'Please use HTTPS protocol')
  assert.equal((await tlsRequest(tlsPort, { servername: 'c.test', path: '/secure' })).status, 200)
  const bySni = await tlsRequest(tlsPort, { servername: 'c.test', path: '/sni' })
  assert.equal(bySni.status, 200)
  assert.equal(JSON.parse(bySni.body).url, '/') // by-sni, its path stripped
  // Another SNI: the catch-all route `/` answers instead of by-sni.
  const other = await tlsRequest(tlsPort, { servername: 'a.test', path: '/sni' })
  assert.equal(JSON.parse(other.body).url, '/sni')
})
