/**
 * Port of Kong's spec/02-integration/04-admin_api/25-max_safe_integer_spec.lua: a route's
 * `regex_priority` of 2^53 (9007199254740992) is written back as that decimal number, not in
 * exponent form, from PostgreSQL and from a DB-less configuration.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startDblessGateway } from '../../helpers/dbless.ts'

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

async function text (url: string, init: Parameters<typeof request>[1] = {}): Promise<{ status: number; body: string }> {
  const r = await request(url, init)
  return { status: r.statusCode, body: await r.body.text() }
}

test('postgres: the maximum safe integer is written as a decimal number', async () => {
  const created = await text(g.admin + '/routes', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"paths":["/route_with_max_safe_integer_priority"],"regex_priority":9007199254740992}',
  })
  assert.equal(created.status, 201, created.body)
  assert.match(created.body, /"regex_priority":9007199254740992[,}]/)
  const id = (JSON.parse(created.body) as { id: string }).id
  const r = await text(`${g.admin}/routes/${id}`)
  assert.equal(r.status, 200)
  assert.match(r.body, /9007199254740992/)
  const list = await text(g.admin + '/routes')
  assert.match(list.body, /"regex_priority":9007199254740992[,}]/)
})

test('off: the maximum safe integer is written as a decimal number', async (t) => {
  const d = await startDblessGateway()
  t.after(() => d.stop())
  const config = [
    '_format_version: "1.1"',
    'services:',
    '- name: my-service',
    '  id: 0855b320-0dd2-547d-891d-601e9b38647f',
    '  url: https://localhost',
    '  routes:',
    '  - name: my-route',
    '    id: 481a9539-f49c-51b6-b2e2-fe99ee68866c',
    '    paths:',
    '    - /',
    '    regex_priority: 9007199254740992',
  ].join('\n')
  const posted = await text(d.admin + '/config', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ config }) })
  assert.equal(posted.status, 201, posted.body)
  const r = await text(d.admin + '/routes/481a9539-f49c-51b6-b2e2-fe99ee68866c')
  assert.equal(r.status, 200)
  assert.match(r.body, /"regex_priority":9007199254740992[,}]/)
})
