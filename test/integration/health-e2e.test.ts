/**
 * Health checks end to end: a real gateway (primary + worker balancers), two real upstream
 * servers behind one upstream. Active probes (run on the primary) take a failing target out of
 * the rotation and put it back once it recovers; passive checks (reported by the workers) take a
 * target out on real traffic, and it stays out until a manual post.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { adminCall, until, type AdminAnswer } from '../helpers/admin-api.ts'
import { healthBackend, type HealthBackend } from '../helpers/health-backend.ts'

let db: TestDb
let gw: Gateway
let b1: HealthBackend
let b2: HealthBackend

before(async () => {
  b1 = await healthBackend('one')
  b2 = await healthBackend('two')
  db = await createTestDb()
  gw = await startGateway(db.settings)
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await b1?.close()
  await b2?.close()
})

const admin = (method: string, path: string, body?: unknown): Promise<AdminAnswer> => adminCall(gw.admin, method, path, body)

/** `n` proxied requests to `path`; which backend answered each (its body), and their statuses. */
async function spread (path: string, n: number): Promise<{ names: Record<string, number>; statuses: number[] }> {
  const names: Record<string, number> = {}
  const statuses: number[] = []
  for (let i = 0; i < n; i++) {
    const r = await request(gw.proxy + path)
    const text = await r.body.text()
    statuses.push(r.statusCode)
    names[text] = (names[text] ?? 0) + 1
  }
  return { names, statuses }
}

test('active checks: a target failing its probes gets no traffic, and gets it back when it recovers', async () => {
  assert.equal((await admin('POST', '/upstreams', {
    name: 'active-e2e.test',
    healthchecks: { active: { http_path: '/health', healthy: { interval: 0.1, successes: 1 }, unhealthy: { interval: 0.1, http_failures: 1 } } },
  })).status, 201)
  await admin('POST', '/upstreams/active-e2e.test/targets', { target: `127.0.0.1:${b1.port}` })
  await admin('POST', '/upstreams/active-e2e.test/targets', { target: `127.0.0.1:${b2.port}` })
  await admin('POST', '/services', { name: 'active-e2e', host: 'active-e2e.test', path: '/' })
  await admin('POST', '/services/active-e2e/routes', { paths: ['/active'] })
  await until('both backends serve', async () => { const s = await spread('/active', 10); return (s.names.one ?? 0) > 0 && (s.names.two ?? 0) > 0 })

  b1.health = 500
  await until('the primary marks one UNHEALTHY', async () => {
    const h = await admin('GET', '/upstreams/active-e2e.test/health')
    return (h.json.data as any[]).some((t) => t.target === `127.0.0.1:${b1.port}` && t.health === 'UNHEALTHY')
  })
  // the verdict reaches every worker: from now on only "two" answers
  await until('traffic leaves one', async () => (await spread('/active', 6)).names.one === undefined)
  const after = await spread('/active', 20)
  assert.deepEqual(after.names, { two: 20 })
  assert.ok(after.statuses.every((s) => s === 200))

  b1.health = 200
  await until('one serves again', async () => ((await spread('/active', 10)).names.one ?? 0) > 0)
})

test('passive checks: a target answering 500 on real traffic is taken out and stays out until a manual post', async () => {
  b1.status = 200
  b2.status = 200
  assert.equal((await admin('POST', '/upstreams', {
    name: 'passive-e2e.test',
    healthchecks: { passive: { unhealthy: { http_failures: 1 } } },
  })).status, 201)
  await admin('POST', '/upstreams/passive-e2e.test/targets', { target: `127.0.0.1:${b1.port}` })
  await admin('POST', '/upstreams/passive-e2e.test/targets', { target: `127.0.0.1:${b2.port}` })
  await admin('POST', '/services', { name: 'passive-e2e', host: 'passive-e2e.test', path: '/' })
  await admin('POST', '/services/passive-e2e/routes', { paths: ['/passive'] })
  await until('both backends serve', async () => { const s = await spread('/passive', 10); return (s.names.one ?? 0) > 0 && (s.names.two ?? 0) > 0 })

  b1.status = 500 // a 500 is in passive.unhealthy.http_statuses: one is enough
  await until('one is out', async () => {
    await spread('/passive', 4) // real traffic: the workers report what they see
    const h = await admin('GET', '/upstreams/passive-e2e.test/health')
    return (h.json.data as any[]).some((t) => t.target === `127.0.0.1:${b1.port}` && t.health === 'UNHEALTHY')
  })
  await until('traffic leaves one', async () => (await spread('/passive', 6)).names.one === undefined)
  b1.status = 200 // healthy again, but passive checks alone never bring it back
  assert.deepEqual((await spread('/passive', 20)).names, { two: 20 })

  assert.equal((await admin('PUT', `/upstreams/passive-e2e.test/targets/127.0.0.1:${b1.port}/healthy`)).status, 204)
  await until('one serves after the manual post', async () => ((await spread('/passive', 10)).names.one ?? 0) > 0)
})
