/**
 * Kong's load balancer in real worker threads (kong.md 3.5; spec 02-integration/05-proxy/10-balancer):
 * services named after an upstream balance over its targets; DNS names resolve through a real
 * loopback DNS server (`dns_resolver`); health messages from the primary take addresses out;
 * passive outcomes are reported back. Real upstream HTTP servers, no mocks.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import { request } from 'undici'
import type { GenericRow, Snapshot } from '../../src/common/snapshot.ts'
import type { WorkerToPrimary } from '../../src/common/protocol.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'
import { startDnsServer } from '../helpers/dns-server.ts'

interface Backend { name: string; port: number; hits: number; hosts: string[]; close (): Promise<void> }

async function backend (name: string, host = '127.0.0.1', port = 0): Promise<Backend> {
  const b: Backend = { name, port: 0, hits: 0, hosts: [], close: async () => {} }
  const server: Server = createServer((req, res) => {
    b.hits++
    b.hosts.push(req.headers.host ?? '')
    req.resume()
    req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(name) })
  })
  server.keepAliveTimeout = 1000
  server.listen(port, host)
  await once(server, 'listening')
  b.port = (server.address() as { port: number }).port
  b.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) })
  return b
}

function upstream (name: string, fields: Record<string, unknown> = {}): GenericRow {
  return {
    id: randomUUID(),
    name,
    algorithm: 'round-robin',
    hash_on: 'none',
    hash_fallback: 'none',
    hash_on_cookie_path: '/',
    slots: 10000,
    host_header: null,
    healthchecks: {
      threshold: 0,
      passive: { type: 'http', healthy: { successes: 0, http_statuses: [200] }, unhealthy: { tcp_failures: 0, timeouts: 0, http_failures: 0, http_statuses: [500] } },
    },
    ...fields,
  }
}

function target (u: GenericRow, t: string, weight = 100): GenericRow {
  return { id: randomUUID(), upstream: { id: u.id }, target: t, weight }
}

function withEntities (snap: Snapshot, upstreams: GenericRow[], targets: GenericRow[]): Snapshot {
  snap.entities = { upstreams, targets }
  return snap
}

async function get (h: Harness, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const res = await request(`${h.url}${path}`, { headers })
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers }
}

test('round-robin: weights split traffic exactly per wheel turn, weight 0 is out, Host is the target (host_header when set)', async (t) => {
  const a = await backend('a')
  const b = await backend('b')
  const c = await backend('c')
  t.after(async () => { await a.close(); await b.close(); await c.close() })
  const u = upstream('rr.upstream')
  const u2 = upstream('rr2.upstream', { host_header: 'custom.example' })
  const svc = service({ host: 'rr.upstream', port: 1 })
  const svc2 = service({ host: 'rr2.upstream', port: 1 })
  const snap = withEntities(snapshot([svc, svc2], [route({ paths: ['/rr'] }, svc), route({ paths: ['/hh'] }, svc2)]),
    [u, u2], [target(u, `localhost:${a.port}`, 100), target(u, `127.0.0.1:${b.port}`, 50), target(u, `127.0.0.1:${c.port}`, 0), target(u2, `127.0.0.1:${c.port}`)])
  const h = await startWorkers({ workers: 1, snapshot: snap })
  t.after(() => h.stop())
  for (let i = 0; i < 30; i++) assert.equal((await get(h, '/rr')).status, 200)
  assert.equal(a.hits, 20)
  assert.equal(b.hits, 10)
  assert.equal(c.hits, 0)
  assert.ok(a.hosts.every((x) => x === `localhost:${a.port}`), a.hosts[0])
  assert.ok(b.hosts.every((x) => x === `127.0.0.1:${b.port}`), b.hosts[0])
  assert.equal((await get(h, '/hh')).body, 'c')
  assert.equal(c.hosts[0], `custom.example:${c.port}`)
})

test('balancer errors: no targets -> 503 failure to get a peer; unknown plain host -> 503 name resolution failed', async (t) => {
  const dns = await startDnsServer({})
  t.after(() => dns.close())
  const u = upstream('empty.upstream')
  const svc = service({ host: 'empty.upstream', port: 80 })
  const svc2 = service({ host: 'nowhere.test', port: 80 })
  const snap = withEntities(snapshot([svc, svc2], [route({ paths: ['/empty'] }, svc), route({ paths: ['/nx'] }, svc2)]), [u], [])
  const h = await startWorkers({ workers: 1, snapshot: snap, conf: { dns_resolver: `127.0.0.1:${dns.port}` } })
  t.after(() => h.stop())
  const r1 = await get(h, '/empty')
  assert.equal(r1.status, 503)
  assert.match(r1.body, /"message":"failure to get a peer from the ring-balancer"/)
  const r2 = await get(h, '/nx')
  assert.equal(r2.status, 503)
  assert.match(r2.body, /"message":"name resolution failed"/)
  assert.ok(dns.queries.some((q) => q.endsWith('nowhere.test')))
})

test('dns: a target name with two A records gives two entries; a changed answer is used once its TTL passed; plain hosts resolve too', async (t) => {
  const one = await backend('one', '127.0.0.1')
  const two = await backend('two', '127.0.0.2', one.port)
  t.after(async () => { await one.close(); await two.close() })
  const dns = await startDnsServer({
    'multi.test': { a: [{ ip: '127.0.0.1', ttl: 1 }, { ip: '127.0.0.2', ttl: 1 }] },
    'plain.test': { a: [{ ip: '127.0.0.2', ttl: 60 }] },
  })
  t.after(() => dns.close())
  const u = upstream('dns.upstream')
  const svc = service({ host: 'dns.upstream', port: 1 })
  const svc2 = service({ host: 'plain.test', port: one.port })
  const snap = withEntities(snapshot([svc, svc2], [route({ paths: ['/d'] }, svc), route({ paths: ['/p'] }, svc2)]), [u], [target(u, `multi.test:${one.port}`)])
  const h = await startWorkers({ workers: 1, snapshot: snap, conf: { dns_resolver: `127.0.0.1:${dns.port}`, dns_stale_ttl: '0' } })
  t.after(() => h.stop())
  for (let i = 0; i < 10; i++) assert.equal((await get(h, '/d')).status, 200)
  assert.equal(one.hits, 5)
  assert.equal(two.hits, 5)
  assert.ok(one.hosts.every((x) => x === `multi.test:${one.port}`))
  const p = await get(h, '/p')
  assert.equal(p.body, 'two')
  assert.equal(two.hosts.at(-1), `plain.test:${one.port}`)
  dns.zone.set('multi.test', { a: [{ ip: '127.0.0.2', ttl: 1 }] })
  // The balancer re-resolves when the 1 s TTL passes (at least 1 s after the last answer).
  const deadline = Date.now() + 15_000
  let streak = 0
  while (streak < 6 && Date.now() < deadline) {
    const before = one.hits
    await get(h, '/d')
    streak = one.hits === before ? streak + 1 : 0
    if (streak === 0) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.equal(streak, 6, 'after the TTL every request goes to the only address left')
})

test('retries: a connection failure goes to the next address; health messages take addresses out; threshold', async (t) => {
  const a = await backend('a')
  const b = await backend('b')
  const dead = await backend('dead')
  await dead.close()
  t.after(async () => { await a.close(); await b.close() })
  const u = upstream('retry.upstream')
  const u2 = upstream('health.upstream', { healthchecks: { threshold: 60 } })
  const svc = service({ host: 'retry.upstream', port: 1 })
  const svc2 = service({ host: 'health.upstream', port: 1 })
  const snap = withEntities(snapshot([svc, svc2], [route({ paths: ['/r'] }, svc), route({ paths: ['/h'] }, svc2)]),
    [u, u2], [target(u, `127.0.0.1:${dead.port}`), target(u, `127.0.0.1:${a.port}`), target(u2, `127.0.0.1:${a.port}`), target(u2, `127.0.0.1:${b.port}`)])
  const h = await startWorkers({ workers: 1, snapshot: snap })
  t.after(() => h.stop())
  for (let i = 0; i < 6; i++) assert.equal((await get(h, '/r')).body, 'a')
  // Health: a's address of health.upstream out -> 50 % healthy, not above the 60 % threshold -> 503.
  const w = h.workers[0]!
  w.post({ type: 'upstream-health', full: false, entries: [{ upstreamId: String(u2.id), target: `127.0.0.1:${a.port}`, address: `127.0.0.1:${a.port}`, healthy: false }] })
  let r = await get(h, '/h')
  assert.equal(r.status, 503)
  assert.match(r.body, /failure to get a peer from the ring-balancer/)
  // Same verdict on the retry upstream (threshold 0): its other address keeps serving.
  w.post({ type: 'upstream-health', full: false, entries: [{ upstreamId: String(u.id), target: `127.0.0.1:${a.port}`, address: `127.0.0.1:${a.port}`, healthy: false }] })
  r = await get(h, '/r')
  assert.equal(r.status, 502, 'only the dead address is left')
  w.post({ type: 'upstream-health', full: true, entries: [] })
  r = await get(h, '/h')
  assert.equal(r.status, 200)
  const seen = new Set<string>()
  for (let i = 0; i < 4; i++) seen.add((await get(h, '/h')).body)
  assert.deepEqual([...seen].sort(), ['a', 'b'])
})

test('passive health: real outcomes go to the primary in passive-health messages, one per turn', async (t) => {
  const a = await backend('a')
  const dead = await backend('dead')
  await dead.close()
  t.after(() => a.close())
  const passive = { threshold: 0, passive: { type: 'http', healthy: { successes: 0, http_statuses: [200] }, unhealthy: { tcp_failures: 1, timeouts: 0, http_failures: 1, http_statuses: [500] } } }
  const u = upstream('passive.upstream', { healthchecks: passive })
  const svc = service({ host: 'passive.upstream', port: 1, retries: 1 })
  const snap = withEntities(snapshot([svc], [route({ paths: ['/'] }, svc)]), [u], [target(u, `127.0.0.1:${dead.port}`), target(u, `127.0.0.1:${a.port}`)])
  const h = await startWorkers({ workers: 1, snapshot: snap })
  t.after(() => h.stop())
  const w = h.workers[0]!
  const reports: Array<Extract<WorkerToPrimary, { type: 'passive-health' }>['reports'][number]> = []
  const got = new Promise<void>((resolve) => {
    w.thread.on('message', (m: WorkerToPrimary) => {
      if (m.type !== 'passive-health') return
      reports.push(...m.reports)
      if (reports.some((x) => x.kind === 'tcp_failure') && reports.some((x) => x.kind === 'status')) resolve()
    })
  })
  for (let i = 0; i < 2; i++) assert.equal((await get(h, '/')).body, 'a')
  await got
  const fail = reports.find((x) => x.kind === 'tcp_failure')!
  assert.equal(fail.upstreamId, u.id)
  assert.equal(fail.address, `127.0.0.1:${dead.port}`)
  const ok = reports.find((x) => x.kind === 'status')!
  assert.equal(ok.status, 200)
  assert.equal(ok.target, `127.0.0.1:${a.port}`)
})

test('consistent-hashing: the same header value always reaches the same target; cookie hashing sets Kong\'s cookie', async (t) => {
  const backs = await Promise.all([backend('a'), backend('b'), backend('c')])
  t.after(async () => { for (const b of backs) await b.close() })
  const u = upstream('hash.upstream', { algorithm: 'consistent-hashing', hash_on: 'header', hash_on_header: 'X-User' })
  const u2 = upstream('cookie.upstream', { algorithm: 'consistent-hashing', hash_on: 'cookie', hash_on_cookie: 'sticky', hash_on_cookie_path: '/app' })
  const svc = service({ host: 'hash.upstream', port: 1 })
  const svc2 = service({ host: 'cookie.upstream', port: 1 })
  const targets = [...backs.map((b) => target(u, `127.0.0.1:${b.port}`)), ...backs.map((b) => target(u2, `127.0.0.1:${b.port}`))]
  const snap = withEntities(snapshot([svc, svc2], [route({ paths: ['/hash'] }, svc), route({ paths: ['/app'] }, svc2)]), [u, u2], targets)
  const h = await startWorkers({ workers: 2, snapshot: snap })
  t.after(() => h.stop())
  const chosen = new Set<string>()
  for (let user = 0; user < 12; user++) {
    const first = (await get(h, '/hash', { 'x-user': `user-${user}` })).body
    chosen.add(first)
    for (let i = 0; i < 3; i++) assert.equal((await get(h, '/hash', { 'x-user': `user-${user}` })).body, first)
  }
  assert.ok(chosen.size >= 2, 'different values spread over targets')
  const r = await get(h, '/app')
  const cookie = String(r.headers['set-cookie'])
  assert.match(cookie, /^sticky=[0-9a-f-]{36}; Path=\/app; Same-Site=Lax; HttpOnly$/)
  const value = cookie.slice(0, cookie.indexOf(';'))
  const first = (await get(h, '/app', { cookie: value })).body
  for (let i = 0; i < 4; i++) {
    const again = await get(h, '/app', { cookie: value })
    assert.equal(again.body, first)
    assert.equal(again.headers['set-cookie'], undefined)
  }
})
