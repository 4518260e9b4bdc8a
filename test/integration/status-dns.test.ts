/**
 * GET /status/dns (kong/api/routes/dns.lua; ported from Kong's
 * spec/02-integration/08-status_api/05-dns_client_spec.lua): with new_dns_client on, the node's
 * DNS statistics in the shape of Kong's new DNS client (kong/dns/client.lua), on the Status API
 * and on the Admin API; with it off (Kong's default), 501. Real gateways: PostgreSQL with two
 * workers, pointed at a real DNS server on loopback (test/helpers/dns-server.ts); a DB-less node
 * for the 501 case. The counting itself is checked on a DnsCache against the same server.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket, type Socket } from 'node:dgram'
import { once } from 'node:events'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startDblessGateway, type DblessGateway } from '../helpers/dbless.ts'
import { freePort } from '../helpers/ports.ts'
import { startEcho, type Upstream } from '../helpers/upstream.ts'
import { startDnsServer, type DnsServer } from '../helpers/dns-server.ts'
import { adminCall, until, type AdminAnswer } from '../helpers/admin-api.ts'
import { DnsCache, DnsError, mergeDnsStats, type DnsStatsEntry } from '../../src/common/dns.ts'

let db: TestDb
let gw: Gateway
let echo: Upstream
let dns: DnsServer
let status: string

interface DnsAnswer { status: number; json: { worker: { id: number; count: number }; stats: Record<string, DnsStatsEntry> } }

const get = async (base: string, path: string): Promise<AdminAnswer> => adminCall(base, 'GET', path)
const statusDns = async (base: string): Promise<DnsAnswer> => await get(base, '/status/dns') as DnsAnswer

before(async () => {
  echo = await startEcho()
  dns = await startDnsServer({
    '_service._proto.srv.test': { srv: [{ target: 'srv-target.test', port: echo.port, ttl: 300 }] },
    'srv-target.test': { a: [{ ip: '127.0.0.1', ttl: 300 }] },
  })
  db = await createTestDb()
  const port = await freePort()
  status = `http://127.0.0.1:${port}`
  gw = await startGateway(db.settings, { status_listen: `127.0.0.1:${port}`, new_dns_client: 'on', dns_resolver: `127.0.0.1:${dns.port}` })
  const admin = (method: string, path: string, body: unknown): Promise<AdminAnswer> => adminCall(gw.admin, method, path, body)
  // Kong's spec: an upstream whose target is an SRV name; plus a service on an IP literal and a
  // target no server knows.
  assert.equal((await admin('POST', '/upstreams', { name: 'srv-upstream.test' })).status, 201)
  assert.equal((await admin('POST', '/upstreams/srv-upstream.test/targets', { target: '_service._proto.srv.test' })).status, 201)
  assert.equal((await admin('POST', '/upstreams', { name: 'missing-upstream.test' })).status, 201)
  assert.equal((await admin('POST', '/upstreams/missing-upstream.test/targets', { target: 'missing.test:80' })).status, 201)
  assert.equal((await admin('POST', '/services', { name: 'local', url: `http://127.0.0.1:${echo.port}` })).status, 201)
  assert.equal((await admin('POST', '/services/local/routes', { paths: ['/local'] })).status, 201)
  await gw.primary.sync()
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await echo?.close()
  await dns?.close()
})

test('/status/dns: 200 with worker id and count and Kong\'s stats keys (05-dns_client_spec, new_dns_client = on)', async () => {
  const r = await statusDns(status)
  assert.equal(r.status, 200)
  assert.equal(typeof r.json.worker.id, 'number')
  assert.equal(r.json.worker.count, 2)
  assert.equal(typeof r.json.stats, 'object')
  // The service host, an IP literal, resolved by each worker's balancer: both workers' counts add up.
  const local = r.json.stats['127.0.0.1|A/AAAA']
  assert.equal(typeof local?.runs, 'number')
  assert.ok(local!.runs! >= 2, `runs summed over the workers: ${JSON.stringify(local)}`)
  assert.equal(local!.query, undefined, 'an IP literal needs no query')
  // The SRV target, resolved by the health registry in the background (Kong waits for it too).
  const srv = await until('the SRV target answered', async () => {
    const s = (await statusDns(status)).json.stats['_service._proto.srv.test|SRV']
    return s?.query_succ !== undefined ? s : undefined
  })
  assert.ok(srv.runs! >= 1)
  assert.ok(srv.miss! >= 1)
  assert.ok(srv.query! >= 1)
  assert.equal(typeof srv.query_last_time, 'number')
  // The SRV record's target is a lookup of its own; its A record answers after an empty SRV answer.
  const after = (await statusDns(status)).json.stats
  assert.ok(after['srv-target.test|A/AAAA']!.runs! >= 1)
  assert.ok(after['srv-target.test|A']!.query_succ! >= 1)
  assert.ok(after['srv-target.test|SRV']!['query_fail:empty record received']! >= 1)
  // A name the server does not know: a name error on every record type tried.
  const missing = await until('missing.test answered', async () => (await statusDns(status)).json.stats['missing.test|SRV'])
  assert.ok(missing['query_fail:name error']! >= 1)
  const missingRun = (await statusDns(status)).json.stats['missing.test|A/AAAA']!
  assert.ok(missingRun.runs! >= 1)
  assert.equal(missingRun.fail, undefined, 'a name error is an answer, not a resolver failure')
})

test('/status/dns on the Admin API too (kong/api/routes/dns.lua is an Admin API module)', async () => {
  const r = await statusDns(gw.admin)
  assert.equal(r.status, 200)
  assert.equal(r.json.worker.count, 2)
  assert.equal(typeof r.json.stats['127.0.0.1|A/AAAA']?.runs, 'number')
  const post = await adminCall(gw.admin, 'POST', '/status/dns', {})
  assert.equal(post.status, 405)
  assert.equal((await adminCall(status, 'POST', '/status/dns', {})).status, 405)
  // a proxied request still goes where the statistics say the name resolved
  const p = await request(`${gw.proxy}/local`)
  assert.equal(p.statusCode, 200)
  await p.body.dump()
})

test('database mode: the Status API serves no upstream routes (kong/status/init.lua attaches them when DB-less only)', async () => {
  const r = await get(status, '/upstreams/srv-upstream.test/targets')
  assert.equal(r.status, 404)
  assert.deepEqual(r.json, { message: 'Not found' })
})

test('/status/dns: 501 with the legacy DNS client (new_dns_client = off, Kong\'s default)', async (t) => {
  const port = await freePort()
  const node: DblessGateway = await startDblessGateway({ overrides: { status_listen: `127.0.0.1:${port}` } })
  t.after(() => node.stop())
  for (const base of [`http://127.0.0.1:${port}`, node.admin]) {
    const r = await get(base, '/status/dns')
    assert.equal(r.status, 501)
    assert.deepEqual(r.json, { message: 'not implemented with the legacy DNS client' })
  }
})

test('DnsCache statistics: runs and how each lookup was answered, one entry per query type sent', async (t) => {
  const srv = await startDnsServer({
    'svc.test': { a: [{ ip: '10.0.0.1', ttl: 300 }] },
    'zero.test': { a: [{ ip: '10.0.0.2', ttl: 0 }] },
    'broken.test': { fail: true },
    '_ldap._tcp.srv.test': { srv: [{ target: 'svc.test', port: 389, ttl: 300 }] },
  })
  t.after(() => srv.close())
  const c = new DnsCache({ resolvers: [`127.0.0.1:${srv.port}`], hostsFile: '', order: ['SRV', 'A'], staleTtl: 60, errorTtl: 0, tries: 1 })
  await c.resolve('svc.test')
  await c.resolve('SVC.test')
  assert.ok(Array.isArray(c.peek('svc.test')))
  await c.resolve('127.0.0.1')
  c.peek('127.0.0.1')
  await c.resolve('zero.test') // TTL 0: the next lookup gets the stale answer and refreshes it
  await c.resolve('zero.test')
  await assert.rejects(c.resolve('broken.test'), (e: unknown) => e instanceof DnsError && !e.notFound)
  await assert.rejects(c.resolve('nowhere.test'), (e: unknown) => e instanceof DnsError && e.notFound)
  await c.resolve('_ldap._tcp.srv.test')
  const s = c.stats().stats
  // two resolves (a query, then the cache), a peek (the cache), the SRV record's target (a query)
  assert.deepEqual(s['svc.test|A/AAAA'], { runs: 4, miss: 2, hit_lru: 2 })
  assert.deepEqual(s['svc.test|SRV'], { query: 2, query_last_time: s['svc.test|SRV']!.query_last_time, 'query_fail:empty record received': 2 })
  assert.equal(typeof s['svc.test|SRV']!.query_last_time, 'number')
  assert.equal(s['svc.test|A']!.query_succ, 2)
  assert.deepEqual(s['127.0.0.1|A/AAAA'], { runs: 2, miss: 1, hit_lru: 1 })
  assert.equal(s['zero.test|A/AAAA']!.hit_stale, 1)
  assert.equal(s['zero.test|A/AAAA']!.stale, 1)
  assert.equal(s['broken.test|A/AAAA']!.fail, 1)
  assert.equal(s['broken.test|SRV']!['query_fail:server failure'], 1)
  assert.equal(s['nowhere.test|A/AAAA']!.miss, 1)
  assert.equal(s['nowhere.test|A']!['query_fail:name error'], 1)
  assert.deepEqual([s['_ldap._tcp.srv.test|SRV']!.runs, s['_ldap._tcp.srv.test|SRV']!.miss, s['_ldap._tcp.srv.test|SRV']!.query_succ], [1, 1, 1], 'an SRV name: its run and its SRV query share one key, as in Kong')
  assert.equal(s['_ldap._tcp.srv.test|A/AAAA'], undefined)
})

test('DnsCache statistics: a nameserver that never answers is query_fail_nameserver and a failed run', async (t) => {
  const mute: Socket = createSocket('udp4')
  mute.bind(0, '127.0.0.1')
  await once(mute, 'listening')
  t.after(() => new Promise<void>((resolve) => { mute.close(() => { resolve() }) }))
  const c = new DnsCache({ resolvers: [`127.0.0.1:${mute.address().port}`], hostsFile: '', order: ['A'], timeoutMs: 100, tries: 1, errorTtl: 0 })
  await assert.rejects(c.resolve('quiet.test'), (e: unknown) => e instanceof DnsError && !e.notFound)
  const s = c.stats().stats
  assert.deepEqual(s['quiet.test|A/AAAA'], { runs: 1, fail: 1 })
  assert.equal(s['quiet.test|A']!.query_fail_nameserver, 1)
})

test('mergeDnsStats: counters add up; query_last_time is the latest measurement', () => {
  const merged = mergeDnsStats([
    { stats: { 'a.test|A': { query: 2, query_succ: 2, query_last_time: 5 }, 'a.test|A/AAAA': { runs: 3 } }, lastAt: { 'a.test|A': 2000 } },
    { stats: { 'a.test|A': { query: 1, query_succ: 1, query_last_time: 9 } }, lastAt: { 'a.test|A': 1000 } },
  ])
  assert.deepEqual(merged, { 'a.test|A': { query: 3, query_succ: 3, query_last_time: 5 }, 'a.test|A/AAAA': { runs: 3 } })
})
