/**
 * Cases of Kong's spec/03-plugins/09-key-auth/01-api_spec.lua not covered by
 * test/integration/admin-consumers.test.ts: the generated key is kong.tools.rand random_string
 * (32 letters and digits), on POST and on PUT by id; a PUT by key keeps that key.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { startTestAdmin, type Admin } from '../../integration/admin-harness.ts'

let a: Admin
before(async () => {
  a = await startTestAdmin()
  await a.json('POST', '/consumers', { username: 'bob' })
})
after(async () => { await a.close() })

test('generated keys are 32 letters and digits (POST, PUT by id); PUT by key keeps it', async () => {
  for (let i = 0; i < 20; i++) {
    const r = await a.json('POST', '/consumers/bob/key-auth', {})
    assert.equal(r.status, 201)
    assert.match(r.json.key, /^[A-Za-z0-9]{32}$/)
  }
  const id = randomUUID()
  const put = await a.json('PUT', `/consumers/bob/key-auth/${id}`, {})
  assert.equal(put.status, 200)
  assert.equal(put.json.id, id)
  assert.match(put.json.key, /^[A-Za-z0-9]{32}$/)
  const byKey = await a.json('PUT', '/consumers/bob/key-auth/1234', {})
  assert.equal(byKey.json.key, '1234')
})

test('hmac-auth generated secrets are letters and digits too (the same generator)', async () => {
  for (let i = 0; i < 10; i++) {
    const h = await a.json('POST', '/consumers/bob/hmac-auth', { username: `h${i}` })
    assert.equal(h.status, 201)
    assert.match(h.json.secret, /^[A-Za-z0-9]{32}$/)
  }
})
