/**
 * Port of Kong's spec/02-integration/04-admin_api/21-truncated_arguments_spec.lua: more than
 * 1,000 form or query arguments (nginx's limit, which Kong turns into an error) is a 400
 * `Too many arguments`, never a request served on a truncated list; 1,000 are read.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'

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

const items = (name: string, n: number): string => Array.from({ length: n }, (_, i) => `${name}=${i + 1}`).join('&')

test('400 when a form body reaches the maximum number of arguments', async () => {
  const r = await request(g.admin + '/plugins', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'name=ip-restriction&' + items('config.allow', 1001),
  })
  assert.equal(r.statusCode, 400)
  assert.deepEqual(await r.body.json(), { message: 'Too many arguments' })
  const n = await db.pool.query('select count(*)::int as n from plugins')
  assert.equal(n.rows[0].n, 0)
})

test('400 when a query string reaches the maximum number of arguments', async () => {
  const r = await request(g.admin + '/plugins?' + items('a', 1001))
  assert.equal(r.statusCode, 400)
  assert.deepEqual(await r.body.json(), { message: 'Too many arguments' })
})

test('1,000 arguments are read', async () => {
  const q = await request(g.admin + '/plugins?' + items('a', 1000))
  assert.equal(q.statusCode, 200)
  await q.body.dump()
  // name + 999 addresses: all of them stored
  const allow = Array.from({ length: 999 }, (_, i) => `10.0.${Math.floor(i / 250)}.${i % 250}`)
  const r = await request(g.admin + '/plugins', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'name=ip-restriction&' + allow.map((a) => `config.allow=${a}`).join('&'),
  })
  const body = await r.body.json() as { config: { allow: string[] } }
  assert.equal(r.statusCode, 201, JSON.stringify(body))
  assert.deepEqual(body.config.allow, allow)
})
