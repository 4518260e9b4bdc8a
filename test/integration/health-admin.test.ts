/**
 * Upstream health on one node, against real PostgreSQL, real upstream servers and a real gateway
 * (ports of Kong's spec/02-integration/04-admin_api/08-targets_routes_spec.lua health parts):
 * active probes flip targets, manual posts, Kong's status codes, and what the workers are sent.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { adminCall, until, type AdminAnswer } from '../helpers/admin-api.ts'
import { healthBackend, type HealthBackend } from '../helpers/health-backend.ts'
import type { UpstreamHealthMessage } from '../../src/common/health.ts'
import type { PrimaryToWorker } from '../../src/common/protocol.ts'

let db: TestDb
let gw: Gateway
const sent: UpstreamHealthMessage[] = []

let s1: HealthBackend
let s2: HealthBackend

before(async () => {
  s1 = await healthBackend('one')
  s2 = await healthBackend('two')
  db = await createTestDb()
  gw = await startGateway(db.settings)
  // Observe what the primary posts to its workers (the real posts still happen).
  const sup = gw.primary.supervisor
  const bm = sup.broadcastMessage.bind(sup)
  const st = sup.sendTo.bind(sup)
  sup.broadcastMessage = (m: PrimaryToWorker) => { if (m.type === 'upstream-health') sent.push(m); bm(m) }
  sup.sendTo = (id: number, m: PrimaryToWorker) => { if (m.type === 'upstream-health') sent.push(m); st(id, m) }
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await s1?.close()
  await s2?.close()
})

const call = (method: string, path: string, body?: unknown): Promise<AdminAnswer> => adminCall(gw.admin, method, path, body)

const healthOf = async (u: string): Promise<Record<string, any>> => {
  const r = await call('GET', `/upstreams/${u}/health`)
  assert.equal(r.status, 200)
  return Object.fromEntries((r.json.data as any[]).map((t) => [t.target, t]))
}

test('active http checks: a failing /health turns the target UNHEALTHY, recovery turns it HEALTHY', async () => {
  const u = (await call('POST', '/upstreams', {
    name: 'active.test',
    host_header: 'probe.example',
    healthchecks: {
      active: {
        http_path: '/health',
        timeout: 2,
        healthy: { interval: 0.1, successes: 1 },
        unhealthy: { interval: 0.1, http_failures: 2 },
      },
    },
  })).json
  assert.equal((await call('POST', '/upstreams/active.test/targets', { target: `127.0.0.1:${s1.port}` })).status, 201)
  assert.equal((await call('POST', '/upstreams/active.test/targets', { target: `127.0.0.1:${s2.port}` })).status, 201)
  const t1 = `127.0.0.1:${s1.port}`
  const t2 = `127.0.0.1:${s2.port}`
  let h = await healthOf('active.test')
  assert.equal(h[t1].health, 'HEALTHY')
  assert.deepEqual(h[t1].data.addresses, [{ ip: '127.0.0.1', port: s1.port, weight: 100, health: 'HEALTHY' }])
  assert.deepEqual(h[t1].data.weight, { total: 100, available: 100, unavailable: 0 })
  assert.equal(h[t1].data.dns, 'A')

  // probes run once per node (the primary), with the upstream's host_header
  await until('probes', async () => (s1.probes >= 2 ? true : undefined))
  assert.ok(s1.hosts.every((x) => x === 'probe.example'), s1.hosts.join())

  s1.health = 500
  h = await until('target 1 UNHEALTHY', async () => { const x = await healthOf('active.test'); return x[t1].health === 'UNHEALTHY' ? x : undefined })
  assert.equal(h[t2].health, 'HEALTHY')
  assert.deepEqual(h[t1].data.weight, { total: 100, available: 0, unavailable: 100 })
  const delta = sent.find((m) => !m.full && m.entries.some((e) => e.address === t1 && !e.healthy))
  assert.ok(delta, 'workers were told the address is down')
  assert.equal(delta.entries.find((e) => e.address === t1)!.upstreamId, u.id)

  const b = await call('GET', '/upstreams/active.test/health?balancer_health=1')
  assert.equal(b.json.data.health, 'HEALTHY')
  assert.deepEqual(b.json.data.details.weight, { total: 200, available: 100, unavailable: 100 })

  // the unhealthy timer keeps probing it; one healthy answer brings it back (successes = 1)
  s1.health = 200
  await until('target 1 HEALTHY again', async () => ((await healthOf('active.test'))[t1].health === 'HEALTHY' ? true : undefined))
  assert.ok(sent.some((m) => !m.full && m.entries.some((e) => e.address === t1 && e.healthy)))
})

test('active type tcp does not probe (Kong runs tcp checks in its stream subsystem only); http does', async () => {
  const closed = await healthBackend()
  const port = closed.port
  await closed.close()
  const active = { healthy: { interval: 0.1, successes: 1 }, unhealthy: { interval: 0.1, tcp_failures: 1 } }
  await call('POST', '/upstreams', { name: 'tcp.test', healthchecks: { active: { ...active, type: 'tcp' } } })
  await call('POST', '/upstreams', { name: 'http.test', healthchecks: { active: { ...active, type: 'http', http_path: '/health' } } })
  for (const u of ['tcp.test', 'http.test']) await call('POST', `/upstreams/${u}/targets`, { target: `127.0.0.1:${port}` })
  // the http upstream's probes of the closed port take it out; by then the tcp one had as many rounds
  await until('http: closed port UNHEALTHY', async () => ((await healthOf('http.test'))[`127.0.0.1:${port}`].health === 'UNHEALTHY' ? true : undefined))
  const tcp = await healthOf('tcp.test')
  assert.equal(tcp[`127.0.0.1:${port}`].health, 'HEALTHY') // a checked upstream (not HEALTHCHECKS_OFF), never probed
})

test('manual posts: 204, the target flips, per-address form, Kong\'s 404s and a 400 without health checks', async () => {
  const u = (await call('POST', '/upstreams', {
    name: 'manual.test',
    healthchecks: { passive: { healthy: { successes: 1 }, unhealthy: { tcp_failures: 1, http_failures: 1, timeouts: 1 } } },
  })).json
  const other = (await call('POST', '/upstreams', { name: 'other.test' })).json
  const wrong = (await call('POST', '/upstreams/other.test/targets', { target: '127.0.0.1:8192' })).json
  const t = (await call('POST', '/upstreams/manual.test/targets', { target: '127.0.0.1:8192' })).json
  assert.equal((await healthOf('manual.test'))['127.0.0.1:8192'].health, 'HEALTHY')

  // every combination of valid and invalid upstream and target (08-targets_routes_spec.lua)
  const ups = ['c2a6e4e4-5f8e-4d2a-9c1a-1b2b3c4d5e6f', 'invalid', 'manual.test', u.id]
  const tgs = ['f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b', 'invalid:1234', wrong.id, t.target, t.id]
  for (let i = 0; i < ups.length; i++) {
    for (let j = 0; j < tgs.length; j++) {
      for (const e of ['healthy', 'unhealthy']) {
        const r = await call('PUT', `/upstreams/${ups[i]!}/targets/${tgs[j]!}/${e}`)
        assert.equal(r.status, i >= 2 && j >= 3 ? 204 : 404, `${ups[i]!} ${tgs[j]!} ${e}`)
      }
    }
  }

  const before = sent.length
  assert.equal((await call('PUT', '/upstreams/manual.test/targets/127.0.0.1:8192/unhealthy')).status, 204)
  assert.equal((await healthOf('manual.test'))['127.0.0.1:8192'].health, 'UNHEALTHY')
  await until('a delta to the workers', async () => (sent.slice(before).some((m) => !m.full && m.entries.some((e) => e.upstreamId === u.id && !e.healthy)) ? true : undefined))
  assert.equal((await call('POST', `/upstreams/${u.id as string}/targets/${t.id as string}/healthy`)).status, 204)
  assert.equal((await healthOf('manual.test'))['127.0.0.1:8192'].health, 'HEALTHY')

  // the per-address form; an address the target does not have is accepted and changes nothing
  assert.equal((await call('PUT', '/upstreams/manual.test/targets/127.0.0.1:8192/127.0.0.1:8192/unhealthy')).status, 204)
  assert.equal((await healthOf('manual.test'))['127.0.0.1:8192'].data.addresses[0].health, 'UNHEALTHY')
  assert.equal((await call('PUT', '/upstreams/manual.test/targets/127.0.0.1:8192/10.9.9.9:8192/healthy')).status, 204)
  assert.equal((await healthOf('manual.test'))['127.0.0.1:8192'].health, 'UNHEALTHY')
  assert.equal((await call('PUT', '/upstreams/manual.test/targets/127.0.0.1:8192/127.0.0.1:8192/healthy')).status, 204)
  assert.equal((await healthOf('manual.test'))['127.0.0.1:8192'].health, 'HEALTHY')

  // the cluster event other nodes read
  const ev = await db.pool.query("select node_id, data from cluster_events where channel = 'balancer:post_health' order by seq desc limit 1")
  assert.equal(ev.rows[0].data, `127.0.0.1|127.0.0.1|8192|1|${u.id as string}|manual.test`)
  assert.equal(ev.rows[0].node_id, gw.primary.nodeId)

  // health checks off: HEALTHCHECKS_OFF, and a post is a 400
  assert.equal((await healthOf('other.test'))['127.0.0.1:8192'].health, 'HEALTHCHECKS_OFF')
  const off = await call('PUT', '/upstreams/other.test/targets/127.0.0.1:8192/unhealthy')
  assert.equal(off.status, 400)
  assert.deepEqual(off.json, { message: `no healthchecker found for ${other.name as string}` })
})

test('/health: DNS_ERROR for a name that does not resolve, HEALTHCHECKS_OFF for weight 0, a full table after a change', async () => {
  const fullBefore = sent.filter((m) => m.full).length
  await call('POST', '/upstreams', { name: 'dns.test', healthchecks: { passive: { unhealthy: { http_failures: 1 } } } })
  await call('POST', '/upstreams/dns.test/targets', { target: 'bad-health-target.invalid:80' })
  await call('POST', '/upstreams/dns.test/targets', { target: '127.0.0.1:81', weight: 0 })
  const h = await healthOf('dns.test')
  assert.equal(h['bad-health-target.invalid:80'].health, 'DNS_ERROR')
  assert.deepEqual(h['bad-health-target.invalid:80'].data.addresses, [])
  assert.equal(h['127.0.0.1:81'].health, 'HEALTHCHECKS_OFF')
  assert.equal(h['127.0.0.1:81'].data.addresses[0].health, 'HEALTHCHECKS_OFF')
  await until('a full table after the change', async () => (sent.filter((m) => m.full).length > fullBefore ? true : undefined))
  assert.equal((await call('GET', '/upstreams/nope.test/health')).status, 404)
  const endpoints = (await call('GET', '/endpoints')).json.data as string[]
  for (const e of ['/upstreams/{upstreams}/targets/{targets}/healthy', '/upstreams/{upstreams}/targets/{targets}/{address}/unhealthy']) assert.ok(endpoints.includes(e), e)
})

test('passive reports from workers count against healthchecks.passive (consecutive counts); a manual post clears them', async () => {
  const u = (await call('POST', '/upstreams', {
    name: 'passive.test',
    healthchecks: { passive: { healthy: { successes: 2 }, unhealthy: { http_failures: 2, tcp_failures: 1 } } },
  })).json
  await call('POST', '/upstreams/passive.test/targets', { target: '127.0.0.1:9001' })
  assert.equal((await healthOf('passive.test'))['127.0.0.1:9001'].health, 'HEALTHY')
  const report = (kind: 'status' | 'tcp_failure' | 'timeout', status = 0): void => {
    gw.primary.supervisor.emit('passive-health', { type: 'passive-health', workerId: 0, reports: [{ upstreamId: u.id, target: '127.0.0.1:9001', address: '127.0.0.1:9001', kind, status }] })
  }
  report('status', 500)
  report('status', 200) // a success resets the failure count
  report('status', 500)
  report('status', 404) // not in passive.unhealthy.http_statuses: ignored
  assert.equal((await healthOf('passive.test'))['127.0.0.1:9001'].health, 'HEALTHY')
  report('status', 503)
  assert.equal((await healthOf('passive.test'))['127.0.0.1:9001'].health, 'UNHEALTHY')
  report('status', 200)
  report('status', 200)
  // passive successes bring it back (successes = 2)
  assert.equal((await healthOf('passive.test'))['127.0.0.1:9001'].health, 'HEALTHY')
  report('tcp_failure')
  assert.equal((await healthOf('passive.test'))['127.0.0.1:9001'].health, 'UNHEALTHY')
  assert.equal((await call('PUT', '/upstreams/passive.test/targets/127.0.0.1:9001/healthy')).status, 204)
  assert.equal((await healthOf('passive.test'))['127.0.0.1:9001'].health, 'HEALTHY')
})
