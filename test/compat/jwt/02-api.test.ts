/**
 * Cases of Kong's spec/03-plugins/16-jwt/02-api_spec.lua over the real Admin API and PostgreSQL:
 * generated key and secret (kong.tools.rand random_string: 32 letters and digits), RS256 key
 * checks and their field errors, key uniqueness, /jwts and /jwts/{key}/consumer.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { startTestAdmin, type Admin } from '../../integration/admin-harness.ts'

let a: Admin
let bob: { id: string }
before(async () => {
  a = await startTestAdmin()
  bob = (await a.json('POST', '/consumers', { username: 'bob' })).json
})
after(async () => { await a.close() })

test('generated key and secret are 32 letters and digits, different each time', async () => {
  const seen = new Set<string>()
  for (let i = 0; i < 20; i++) {
    const r = await a.json('POST', '/consumers/bob/jwt/', {})
    assert.equal(r.status, 201)
    assert.equal(r.json.consumer.id, bob.id)
    assert.match(r.json.key, /^[A-Za-z0-9]{32}$/)
    assert.match(r.json.secret, /^[A-Za-z0-9]{32}$/)
    assert.ok(!seen.has(r.json.key))
    seen.add(r.json.key)
  }
})

test('RS256: a missing or invalid rsa_public_key is a field error; a valid one (form encoded, CRLF) is taken', async () => {
  let r = await a.json('POST', '/consumers/bob/jwt/', { key: 'bob5', algorithm: 'RS256' })
  assert.equal(r.status, 400)
  assert.deepEqual(r.json.fields, { rsa_public_key: 'required field missing', '@entity': ["failed conditional validation given value of field 'algorithm'"] })
  r = await a.json('POST', '/consumers/bob/jwt/', { key: 'bob5', algorithm: 'RS256', rsa_public_key: 'test' })
  assert.equal(r.status, 400)
  assert.deepEqual(r.json.fields, { rsa_public_key: 'invalid key', '@entity': ["failed conditional validation given value of field 'algorithm'"] })
  const pem = (generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string).replace(/\n/g, '\r\n')
  r = await a.form('POST', '/consumers/bob/jwt/', new URLSearchParams({ key: 'bob3', algorithm: 'RS256', rsa_public_key: pem }).toString())
  assert.equal(r.status, 201)
  assert.equal(r.json.key, 'bob3')
})

test('a duplicate key is 409; /jwts lists and finds the consumer by key', async () => {
  assert.equal((await a.json('POST', '/consumers/bob/jwt/', { key: 'dup' })).status, 201)
  const r = await a.json('POST', '/consumers/bob/jwt/', { key: 'dup' })
  assert.equal(r.status, 409)
  assert.deepEqual(r.json, { code: 5, name: 'unique constraint violation', message: 'UNIQUE violation detected on \'{key="dup"}\'', fields: { key: 'dup' } })
  assert.equal((await a.json('GET', '/jwts/dup/consumer')).json.id, bob.id)
  assert.equal((await a.json('POST', '/jwts', { key: 'x' })).json.message, 'schema violation (consumer: required field missing)')
})
