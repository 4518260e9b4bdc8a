/**
 * Manual health posts across nodes (Kong's `balancer:post_health` cluster event): two nodes on one
 * PostgreSQL; a post on node A reaches node B's registry, and B's own post reaches A.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { adminCall, until, type AdminAnswer } from '../helpers/admin-api.ts'

let db: TestDb
let a: Gateway
let b: Gateway

before(async () => {
  db = await createTestDb()
  a = await startGateway(db.settings)
  b = await startGateway(db.settings)
})

after(async () => {
  await a?.stop()
  await b?.stop()
  await db?.drop()
})

const call = (gw: Gateway, method: string, path: string, body?: unknown): Promise<AdminAnswer> => adminCall(gw.admin, method, path, body)

async function healthOn (gw: Gateway, target: string, want: string): Promise<void> {
  await until(`${gw.admin}: ${target} ${want}`, async () => {
    const r = await call(gw, 'GET', '/upstreams/shared.test/health')
    return (r.json.data as any[]).find((x) => x.target === target)?.health === want
  })
}

test('cluster: a manual post on one node is applied by the other through balancer:post_health', async () => {
  assert.equal((await call(a, 'POST', '/upstreams', {
    name: 'shared.test',
    healthchecks: { passive: { unhealthy: { http_failures: 1 } } },
  })).status, 201)
  assert.equal((await call(a, 'POST', '/upstreams/shared.test/targets', { target: '127.0.0.1:9101' })).status, 201)
  assert.equal((await call(a, 'POST', '/upstreams/shared.test/targets', { target: '127.0.0.1:9102' })).status, 201)
  await healthOn(b, '127.0.0.1:9101', 'HEALTHY')

  assert.equal((await call(a, 'PUT', '/upstreams/shared.test/targets/127.0.0.1:9101/unhealthy')).status, 204)
  await healthOn(a, '127.0.0.1:9101', 'UNHEALTHY')
  await healthOn(b, '127.0.0.1:9101', 'UNHEALTHY')
  // only the target posted about
  await healthOn(b, '127.0.0.1:9102', 'HEALTHY')

  // the other way round, with the per-address form
  assert.equal((await call(b, 'PUT', '/upstreams/shared.test/targets/127.0.0.1:9101/127.0.0.1:9101/healthy')).status, 204)
  await healthOn(b, '127.0.0.1:9101', 'HEALTHY')
  await healthOn(a, '127.0.0.1:9101', 'HEALTHY')
})
