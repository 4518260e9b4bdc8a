/**
 * HTTPS through real worker threads (the harness: no primary, hand-built snapshots with
 * certificates made by openssl): certificates chosen by SNI as Kong chooses them, the default
 * certificate, routes' `protocols` and `snis` over TLS, X-Forwarded-Proto/Port, certificates
 * added, replaced and deleted at runtime while a keep-alive TLS connection stays up.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, rmSync, statSync } from 'node:fs'
import { Agent } from 'node:https'
import { join } from 'node:path'
import { request } from 'undici'
import type { GenericRow, RouteRow, ServiceRow, Snapshot } from '../../src/common/snapshot.ts'
import { startEcho } from '../helpers/upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'
import { certRows, makeCert, tlsRequest, type TestCert } from '../helpers/tls.ts'

const A = makeCert('a.test')
const B = makeCert('b.test', { rsa: true })
const WILD = makeCert('wild.example.test', { names: ['*.example.test'] })
const SUFFIX = makeCert('shop suffix', { names: ['shop.example.com'] })
const STAR = makeCert('star')

function withCerts (services: ServiceRow[], routes: RouteRow[], certs: Array<[TestCert, string[]]>): Snapshot {
  const s = snapshot(services, routes)
  const rows = certs.map(([c, names]) => certRows(c, names, `00000000-0000-4000-8000-${c.cn.replace(/[^a-z]/g, '').padEnd(12, '0').slice(0, 12)}`))
  s.entities = { certificates: rows.map((r) => r.cert) as GenericRow[], snis: rows.flatMap((r) => r.snis) }
  return s
}

async function setup (t: { after (fn: () => Promise<void> | void): void }, certs: Array<[TestCert, string[]]>, routes?: (svc: ServiceRow) => RouteRow[]): Promise<{ h: Harness; svc: ServiceRow; publish (certs: Array<[TestCert, string[]]>, routes?: RouteRow[]): Promise<void>; routes: RouteRow[] }> {
  const echo = await startEcho()
  t.after(() => echo.close())
  const svc = service({ host: '127.0.0.1', port: echo.port })
  const rs = routes?.(svc) ?? [route({ paths: ['/'] }, svc)]
  const h = await startWorkers({ snapshot: withCerts([svc], rs, certs), ssl: true, workers: 2 })
  t.after(async () => { await h.stop(); rmSync(h.prefix, { recursive: true, force: true }) })
  return {
    h,
    svc,
    routes: rs,
    async publish (next, nextRoutes = rs) {
      const answers = await h.publish(withCerts([svc], nextRoutes, next))
      for (const a of answers) assert.equal(a.type, 'snapshot-ack')
    },
  }
}

test('two certificates chosen by SNI; wildcards as Kong; the default certificate without SNI or for an unknown name', async (t) => {
  const { h } = await setup(t, [[A, ['a.test']], [B, ['b.test']], [WILD, ['*.example.test']], [SUFFIX, ['shop.example.*']]])
  const cn = async (servername?: string): Promise<string> => (await tlsRequest(h.tlsPort, { servername })).cn
  assert.equal(await cn('a.test'), 'a.test')
  assert.equal(await cn('b.test'), 'b.test')
  assert.equal(await cn('api.example.test'), 'wild.example.test')
  assert.equal(await cn('shop.example.com'), 'shop suffix')
  assert.equal(await cn('shop.example.org'), 'shop suffix')
  // Both wildcards match shop.example.test: Kong takes the prefix wildcard.
  assert.equal(await cn('shop.example.test'), 'wild.example.test')
  // `*` is one label, as in Kong.
  assert.equal(await cn('a.b.example.test'), 'localhost')
  assert.equal(await cn(undefined), 'localhost')
  assert.equal(await cn('unknown.test'), 'localhost')
})

test('the `*` SNI certificate is served for names no other certificate has', async (t) => {
  const { h } = await setup(t, [[A, ['a.test']], [STAR, ['*']]])
  assert.equal((await tlsRequest(h.tlsPort, { servername: 'a.test' })).cn, 'a.test')
  assert.equal((await tlsRequest(h.tlsPort, { servername: 'other.test' })).cn, 'star')
})

test('X-Forwarded-Proto is https and X-Forwarded-Port the TLS listener port; plain HTTP is unchanged', async (t) => {
  const { h } = await setup(t, [[A, ['a.test']]])
  const r = await tlsRequest(h.tlsPort, { servername: 'a.test', path: '/x?y=1' })
  assert.equal(r.status, 200)
  const got = JSON.parse(r.body) as { url: string; headers: Record<string, string> }
  assert.equal(got.url, '/x?y=1')
  assert.equal(got.headers['x-forwarded-proto'], 'https')
  assert.equal(got.headers['x-forwarded-port'], String(h.tlsPort))
  assert.equal(got.headers['x-forwarded-host'], 'a.test')
  const plain = await request(`${h.url}/x`)
  const p = await plain.body.json() as { headers: Record<string, string> }
  assert.equal(p.headers['x-forwarded-proto'], 'http')
  assert.equal(p.headers['x-forwarded-port'], String(h.port))
})

test('https-only routes: 426 or the redirect over HTTP, served over HTTPS', async (t) => {
  const { h } = await setup(t, [[A, ['a.test']]], (svc) => [
    route({ paths: ['/secure'], protocols: ['https'] }, svc),
    route({ paths: ['/moved'], protocols: ['https'], https_redirect_status_code: 301 }, svc),
  ])
  const up = await request(`${h.url}/secure`, { headers: { host: 'a.test' } })
  assert.equal(up.statusCode, 426)
  assert.equal(up.headers.connection, 'Upgrade')
  assert.equal(up.headers.upgrade, 'TLS/1.2, HTTP/1.1')
  assert.equal((await up.body.json() as { message: string }).message, 'Please use HTTPS protocol')
  const moved = await request(`${h.url}/moved/x?q=1`, { headers: { host: 'a.test' } })
  assert.equal(moved.statusCode, 301)
  assert.equal(moved.headers.location, 'https://a.test/moved/x?q=1')
  await moved.body.dump()
  assert.equal((await tlsRequest(h.tlsPort, { servername: 'a.test', path: '/secure' })).status, 200)
  assert.equal((await tlsRequest(h.tlsPort, { servername: 'a.test', path: '/moved/x' })).status, 200)
})

test('route snis: matched over TLS by the client SNI (certificate or not), not enforced over HTTP', async (t) => {
  const { h } = await setup(t, [[A, ['a.test']], [B, ['b.test']], [WILD, ['*.example.test']]], (svc) => [
    route({ name: 'only-a', paths: ['/r'], snis: ['a.test'] }, svc),
    route({ name: 'nocert', paths: ['/n'], snis: ['nocert.test'] }, svc),
    route({ name: 'wild', paths: ['/w'], snis: ['*.example.test'] }, svc),
  ])
  const get = async (servername: string | undefined, path: string, host?: string): Promise<number> => (await tlsRequest(h.tlsPort, { servername, path, host })).status
  assert.equal(await get('a.test', '/r'), 200)
  assert.equal(await get('b.test', '/r'), 404)
  assert.equal(await get(undefined, '/r', 'a.test'), 404)
  // A route SNI without a certificate: the default certificate, and the route matches.
  const n = await tlsRequest(h.tlsPort, { servername: 'nocert.test', path: '/n' })
  assert.equal(n.cn, 'localhost')
  assert.equal(n.status, 200)
  assert.equal(await get('unknown.test', '/n'), 404)
  assert.equal(await get('api.example.test', '/w'), 200)
  assert.equal(await get('a.test', '/w'), 404)
  // Over plain HTTP, SNIs do not constrain (Kong #6425).
  const plain = await request(`${h.url}/r`)
  assert.equal(plain.statusCode, 200)
  await plain.body.dump()
})

test('certificates added, replaced and deleted at runtime, while a keep-alive TLS connection stays up', async (t) => {
  const A2 = makeCert('a.test renewed', { names: ['a.test'] })
  const ctx = await setup(t, [[A, ['a.test']]])
  const port = ctx.h.tlsPort
  // One keep-alive connection (SNI a.test), reused for every request below.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  const first = await tlsRequest(port, { servername: 'a.test', agent })
  assert.equal(first.cn, 'a.test')
  const same = async (): Promise<void> => {
    const r = await tlsRequest(port, { servername: 'a.test', agent })
    assert.equal(r.status, 200)
    assert.equal(r.localPort, first.localPort, 'the keep-alive connection was reused')
  }

  // Added: served at once.
  assert.equal((await tlsRequest(port, { servername: 'b.test' })).cn, 'localhost')
  await ctx.publish([[A, ['a.test']], [B, ['b.test']]])
  assert.equal((await tlsRequest(port, { servername: 'b.test' })).cn, 'b.test')
  await same()

  // Replaced (same SNI, renewed certificate): new connections get the new one.
  await ctx.publish([[A2, ['a.test']], [B, ['b.test']]])
  assert.equal((await tlsRequest(port, { servername: 'a.test' })).cn, 'a.test renewed')
  await same()

  // Deleted: its name falls back to the default certificate.
  await ctx.publish([[A2, ['a.test']]])
  assert.equal((await tlsRequest(port, { servername: 'b.test' })).cn, 'localhost')
  assert.equal((await tlsRequest(port, { servername: 'a.test' })).cn, 'a.test renewed')
  await same()

  // No key file stays on disk; the default key is 0600.
  const ssl = join(ctx.h.prefix, 'ssl')
  assert.deepEqual(readdirSync(ssl).sort(), ['run', 'sluice-default.crt', 'sluice-default.key'])
  assert.deepEqual(readdirSync(join(ssl, 'run')), [])
  assert.equal(statSync(join(ssl, 'sluice-default.key')).mode & 0o777, 0o600)
  assert.equal(statSync(ssl).mode & 0o777, 0o700)
})

test('a certificate that cannot be served is left out: the worker keeps serving, its names get the default certificate', async (t) => {
  const bad = { ...A, key: B.key } // does not match
  const ctx = await setup(t, [[B, ['b.test']]])
  await ctx.publish([[B, ['b.test']], [bad, ['bad.test']]])
  assert.equal((await tlsRequest(ctx.h.tlsPort, { servername: 'bad.test' })).cn, 'localhost')
  assert.equal((await tlsRequest(ctx.h.tlsPort, { servername: 'b.test' })).cn, 'b.test')
})
