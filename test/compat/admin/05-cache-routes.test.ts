/**
 * Port of Kong's spec/02-integration/04-admin_api/05-cache_routes_spec.lua. Kong's `/cache`
 * endpoints show and purge values in its Lua caches (kong.cache, kong.core_cache); Sluice has no
 * such cache (workers hold the whole configuration, compiled), so every key is a miss and purges
 * succeed with nothing to purge (src/admin/routes/cache.ts). Kong's spec fills the cache through a
 * test-only `cache` plugin; its "200 and value if cache hit" case has no Sluice counterpart. The
 * cases that hold for an empty cache run here, in both modes, with the methods each route allows.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startDblessGateway, type DblessGateway } from '../../helpers/dbless.ts'
import { adminCall } from '../../helpers/admin-api.ts'

let db: TestDb
let g: Gateway
let d: DblessGateway

before(async () => {
  db = await createTestDb()
  g = await startGateway(db.settings)
  d = await startDblessGateway()
})

after(async () => {
  await g?.stop()
  await d?.stop()
  await db?.drop()
})

for (const mode of ['postgres', 'off'] as const) {
  test(`/cache [${mode}]`, async (t) => {
    const admin = mode === 'off' ? d.admin : g.admin

    await t.test('GET /cache/{key}: 404 on a cache miss', async () => {
      for (const key of ['_inexistent_', 'my_key', 'routes%3A00000000-0000-0000-0000-000000000000%3A%3A%3A%3A%3A']) {
        const r = await adminCall(admin, 'GET', `/cache/${key}`)
        assert.deepEqual([r.status, r.json], [404, { message: 'Not found' }], key)
      }
    })

    await t.test('DELETE /cache/{key}: 204, and the key is a miss', async () => {
      const r = await adminCall(admin, 'DELETE', '/cache/purge_me')
      assert.deepEqual([r.status, r.json], [204, null])
      const after = await adminCall(admin, 'GET', '/cache/purge_me')
      assert.equal(after.status, 404)
    })

    await t.test('DELETE /cache: 204, and every key is a miss', async () => {
      const r = await adminCall(admin, 'DELETE', '/cache')
      assert.deepEqual([r.status, r.json], [204, null])
      for (const key of ['key_1', 'key_2']) assert.equal((await adminCall(admin, 'GET', `/cache/${key}`)).status, 404)
    })

    await t.test('methods: /cache takes DELETE only, /cache/{key} GET and DELETE', async () => {
      for (const [method, path] of [['GET', '/cache'], ['POST', '/cache'], ['PUT', '/cache/k'], ['PATCH', '/cache/k']]) {
        const r = await adminCall(admin, method!, path!)
        assert.deepEqual([r.status, r.json], [405, { message: 'Method not allowed' }], `${method} ${path}`)
      }
      for (const [path, allow] of [['/cache', 'DELETE, OPTIONS'], ['/cache/k', 'DELETE, GET, HEAD, OPTIONS']]) {
        const r = await request(admin + path!, { method: 'OPTIONS' })
        await r.body.dump()
        assert.equal(r.statusCode, 204)
        assert.equal(r.headers.allow, allow)
      }
      assert.equal((await adminCall(admin, 'GET', '/cache/a/b')).status, 404)
    })
  })
}
