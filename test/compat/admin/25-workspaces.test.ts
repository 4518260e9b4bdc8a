/**
 * Port of Kong's spec/02-integration/04-admin_api/25-workspaces_spec.lua: workspaces have no
 * Admin API in Kong's open-source edition (nor in Sluice): 404 Not found for any method.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { adminCall } from '../../helpers/admin-api.ts'

let db: TestDb
let g: Gateway

before(async () => {
  db = await createTestDb()
  g = await startGateway(db.settings)
})

after(async () => {
  await g?.stop()
  await db?.drop()
})

test('has no admin api', async () => {
  const r = await adminCall(g.admin, 'POST', '/workspaces', { name: 'jim' })
  assert.deepEqual([r.status, r.json], [404, { message: 'Not found' }])
  for (const path of ['/workspaces', '/workspaces/default', '/workspaces/default/services']) {
    const x = await adminCall(g.admin, 'GET', path)
    assert.deepEqual([x.status, x.json], [404, { message: 'Not found' }], path)
  }
})

test('disallow deletion', async () => {
  const r = await adminCall(g.admin, 'DELETE', '/workspaces/default')
  assert.deepEqual([r.status, r.json], [404, { message: 'Not found' }])
})
