/**
 * /consumers and the auth plugins' credentials over real HTTP and PostgreSQL (ported from Kong's
 * spec/02-integration/04-admin_api/03-consumers_routes_spec.lua and
 * spec/03-plugins/{09-key-auth,10-basic-auth,16-jwt,18-acl,19-hmac-auth}/*api_spec.lua).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { startTestAdmin, type Admin } from './admin-harness.ts'
import { RSA_CERT, RSA_KEY } from './admin-fixtures.ts'

let a: Admin
before(async () => { a = await startTestAdmin() })
after(async () => { await a.close() })

let n = 0
const uniq = (p: string): string => `${p}-${++n}`
const consumer = async (username = uniq('user')): Promise<any> => (await a.json('POST', '/consumers', { username })).json

describe('consumers', () => {
  test('POST creates a consumer with Kong\'s fields; username or custom_id is required', async () => {
    const r = await a.form('POST', '/consumers', 'username=alice&custom_id=a-1&tags[]=t1')
    assert.equal(r.status, 201)
    assert.deepEqual(Object.keys(r.json).sort(), ['created_at', 'custom_id', 'id', 'tags', 'updated_at', 'username'])
    assert.deepEqual([r.json.username, r.json.custom_id, r.json.tags], ['alice', 'a-1', ['t1']])
    const bad = await a.json('POST', '/consumers', { tags: ['x'] })
    assert.equal(bad.status, 400)
    assert.equal(bad.json.message, "schema violation (at least one of these fields must be non-empty: 'custom_id', 'username')")
  })

  test('duplicate username or custom_id is a 409 naming the field', async () => {
    await a.json('POST', '/consumers', { username: 'dup', custom_id: 'dup-c' })
    const u = await a.json('POST', '/consumers', { username: 'dup' })
    assert.equal(u.status, 409)
    assert.deepEqual(u.json, { code: 5, name: 'unique constraint violation', message: 'UNIQUE violation detected on \'{username="dup"}\'', fields: { username: 'dup' } })
    const c = await a.json('POST', '/consumers', { custom_id: 'dup-c' })
    assert.equal(c.status, 409)
    assert.deepEqual(c.json.fields, { custom_id: 'dup-c' })
  })

  test('GET ?custom_id= finds one consumer or none; an empty custom_id is a 400', async () => {
    const uuidLike = randomUUID()
    const c = (await a.json('POST', '/consumers', { custom_id: uuidLike })).json
    assert.deepEqual((await a.json('GET', `/consumers?custom_id=${uuidLike}`)).json, { data: [c], next: null })
    const none = await a.json('GET', '/consumers?custom_id=does-not-exist')
    assert.equal(none.text, '{"data":[],"next":null}')
    for (const q of ['custom_id=', 'custom_id']) {
      assert.deepEqual((await a.json('GET', `/consumers?${q}`)).json, { message: 'custom_id must be an unempty string' })
    }
  })

  test('GET, PATCH and PUT by username; PUT by name creates', async () => {
    const c = await consumer('by-name')
    assert.equal((await a.json('GET', '/consumers/by-name')).json.id, c.id)
    const p = await a.json('PATCH', '/consumers/by-name', { custom_id: 'patched' })
    assert.equal(p.json.custom_id, 'patched')
    const put = await a.json('PUT', '/consumers/new-by-put', { custom_id: 'np' })
    assert.equal(put.status, 200)
    assert.equal(put.json.username, 'new-by-put')
    assert.equal((await a.json('GET', '/consumers/nobody')).status, 404)
  })

  test('plugins under a consumer: 409 on a second instance names every cache key field', async () => {
    const c = await consumer()
    const first = await a.json('POST', `/consumers/${c.id}/plugins`, { name: 'rate-limiting', config: { minute: 10 } })
    assert.equal(first.status, 201)
    assert.deepEqual(first.json.consumer, { id: c.id })
    const again = await a.json('POST', `/consumers/${c.username}/plugins`, { name: 'rate-limiting', config: { minute: 10 } })
    assert.equal(again.status, 409)
    assert.deepEqual(again.json, {
      code: 5,
      name: 'unique constraint violation',
      message: `UNIQUE violation detected on '{consumer={id="${c.id as string}"},name="rate-limiting",route=null,service=null}'`,
      fields: { name: 'rate-limiting', consumer: { id: c.id }, route: null, service: null },
    })
    const missing = await a.json('POST', `/consumers/${c.id}/plugins`, {})
    assert.deepEqual(missing.json, { code: 2, name: 'schema violation', message: 'schema violation (name: required field missing)', fields: { name: 'required field missing' } })
  })

  test('deleting a consumer deletes its credentials and plugins, each with a cluster event', async () => {
    const c = await consumer()
    const k = (await a.json('POST', `/consumers/${c.id}/key-auth`, {})).json
    const b = (await a.json('POST', `/consumers/${c.id}/basic-auth`, { username: uniq('ba'), password: 'pw' })).json
    const acl = (await a.json('POST', `/consumers/${c.id}/acls`, { group: 'g' })).json
    const p = (await a.json('POST', `/consumers/${c.id}/plugins`, { name: 'request-termination' })).json
    const seq = Number((await a.db.pool.query('select coalesce(max(seq), 0) as s from cluster_events')).rows[0].s)
    assert.equal((await a.json('DELETE', `/consumers/${c.id}`)).status, 204)
    const ev = (await a.db.pool.query('select data from cluster_events where seq > $1 order by seq', [seq])).rows.map((r) => JSON.parse(r.data))
    assert.deepEqual(ev[0], { entity: 'consumers', op: 'delete', id: c.id })
    assert.deepEqual(new Set(ev.slice(1).map((e: any) => `${e.entity as string}:${e.op as string}:${e.id as string}`)), new Set([
      `keyauth_credentials:delete:${k.id as string}`, `basicauth_credentials:delete:${b.id as string}`,
      `acls:delete:${acl.id as string}`, `plugins:delete:${p.id as string}`,
    ]))
    for (const path of [`/key-auths/${k.id as string}`, `/basic-auths/${b.id as string}`, `/acls/${acl.id as string}`, `/plugins/${p.id as string}`]) {
      assert.equal((await a.json('GET', path)).status, 404, path)
    }
  })
})

describe('key-auth credentials', () => {
  test('a key is generated when none is given; keys are unique', async () => {
    const c = await consumer()
    const r = await a.json('POST', `/consumers/${c.id}/key-auth`, {})
    assert.equal(r.status, 201)
    assert.match(r.json.key, /^[A-Za-z0-9]{32}$/)
    assert.deepEqual(r.json.consumer, { id: c.id })
    assert.equal(r.json.ttl, null)
    const mine = await a.json('POST', '/key-auths', { key: 'k-fixed', consumer: { username: c.username } })
    assert.equal(mine.status, 201)
    assert.equal((await a.json('POST', `/consumers/${c.id}/key-auth`, { key: 'k-fixed' })).status, 409)
  })

  test('by key, under the consumer, and the credential\'s consumer', async () => {
    const c = await consumer()
    const k = (await a.json('POST', `/consumers/${c.id}/key-auth`, { key: uniq('kk') })).json
    assert.equal((await a.json('GET', `/key-auths/${k.key as string}`)).json.id, k.id)
    assert.equal((await a.json('GET', `/consumers/${c.username as string}/key-auth/${k.id as string}`)).json.key, k.key)
    assert.deepEqual((await a.json('GET', `/key-auths/${k.key as string}/consumer`)).json, c)
    const other = await consumer()
    assert.equal((await a.json('GET', `/consumers/${other.id as string}/key-auth/${k.id as string}`)).status, 404)
    const put = await a.json('PUT', `/consumers/${c.id as string}/key-auth/put-key`, {})
    assert.equal(put.status, 200)
    assert.equal(put.json.key, 'put-key')
  })

  test('ttl: the row shows seconds left, then disappears, and is deleted on the next write', async () => {
    const c = await consumer()
    const k = (await a.json('POST', `/consumers/${c.id}/key-auth`, { ttl: 1 })).json
    assert.ok(k.ttl === 0 || k.ttl === 1, String(k.ttl))
    const long = (await a.form('POST', `/consumers/${c.id}/key-auth`, 'ttl=100')).json
    assert.ok(long.ttl >= 99 && long.ttl <= 100)
    // expire the first one now rather than sleeping
    await a.db.pool.query("update keyauth_credentials set ttl = now() - interval '1 second' where id = $1", [k.id])
    assert.equal((await a.json('GET', `/key-auths/${k.id as string}`)).status, 404)
    const list = (await a.json('GET', `/consumers/${c.id}/key-auth`)).json.data.map((x: any) => x.id)
    assert.deepEqual(list, [long.id])
    const seq = Number((await a.db.pool.query('select coalesce(max(seq), 0) as s from cluster_events')).rows[0].s)
    await a.json('POST', `/consumers/${c.id}/key-auth`, {})
    assert.equal((await a.db.pool.query('select count(*)::int as n from keyauth_credentials where id = $1', [k.id])).rows[0].n, 0)
    const ev = (await a.db.pool.query('select data from cluster_events where seq > $1', [seq])).rows.map((r) => JSON.parse(r.data))
    assert.ok(ev.some((e: any) => e.op === 'delete' && e.id === k.id), 'the expired row\'s deletion is an event')
  })

  test('ttl is refused where rows do not expire, and out of range', async () => {
    const c = await consumer()
    const bad = await a.json('POST', `/consumers/${c.id}/key-auth`, { ttl: -1 })
    assert.deepEqual(bad.json, {
      code: 11, name: 'invalid options', message: 'invalid option (ttl: must be an integer between 0 and 100000000)',
      options: { ttl: 'must be an integer between 0 and 100000000' },
    })
    assert.equal((await a.json('POST', `/consumers/${c.id}/key-auth`, { ttl: 'x' })).status, 400)
    const notTtl = await a.json('POST', `/consumers/${c.id}/acls`, { group: 'g', ttl: 5 })
    assert.equal(notTtl.json.message, 'schema violation (ttl: unknown field)')
  })
})

describe('basic-auth credentials', () => {
  const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex')

  test('the password is stored and shown as sha1(password .. consumer_id), never in plain text', async () => {
    const c = await consumer()
    const r = await a.json('POST', `/consumers/${c.id}/basic-auth`, { username: uniq('bob'), password: ' kong ' })
    assert.equal(r.status, 201)
    assert.equal(r.json.password, sha1(' kong ' + (c.id as string)))
    const row = (await a.db.pool.query('select password from basicauth_credentials where id = $1', [r.json.id])).rows[0]
    assert.equal(row.password, sha1(' kong ' + (c.id as string)))
    assert.ok(!JSON.stringify((await a.json('GET', `/basic-auths/${r.json.id as string}`)).json).includes(' kong '))
  })

  test('PATCH re-hashes a new password, keeps the hash otherwise, and refuses a move without the password', async () => {
    const c = await consumer()
    const cred = (await a.json('POST', `/consumers/${c.id}/basic-auth`, { username: uniq('p'), password: 'one' })).json
    const kept = await a.json('PATCH', `/basic-auths/${cred.id as string}`, { tags: ['x'] })
    assert.equal(kept.json.password, cred.password)
    const changed = await a.json('PATCH', `/basic-auths/${cred.username as string}`, { password: 'two' })
    assert.equal(changed.json.password, sha1('two' + (c.id as string)))
    const other = await consumer()
    const moved = await a.json('PATCH', `/basic-auths/${cred.id as string}`, { consumer: { id: other.id } })
    assert.equal(moved.status, 400)
    assert.equal(moved.json.message, "schema violation (all or none of these fields must be set: 'password', 'consumer.id')")
    const missing = await a.json('POST', '/basic-auths', { username: uniq('m') })
    assert.equal(missing.json.message, '2 schema violations (consumer: required field missing; password: required field missing)')
  })
})

describe('jwt, hmac-auth and acl credentials', () => {
  test('jwt: key and secret are generated; HS256 by default; RS256 needs a valid rsa_public_key', async () => {
    const c = await consumer()
    const j = (await a.json('POST', `/consumers/${c.id}/jwt`, {})).json
    assert.match(j.key, /^.{32}$/)
    assert.match(j.secret, /^.{32}$/)
    assert.equal(j.algorithm, 'HS256')
    const rs = await a.json('POST', `/consumers/${c.id}/jwt`, { algorithm: 'RS256' })
    assert.equal(rs.status, 400)
    assert.deepEqual(rs.json.fields, { rsa_public_key: 'required field missing', '@entity': ["failed conditional validation given value of field 'algorithm'"] })
    const junk = await a.json('POST', `/consumers/${c.id}/jwt`, { algorithm: 'RS256', rsa_public_key: 'nope' })
    assert.equal(junk.json.fields.rsa_public_key, 'invalid key')
    const { createPublicKey } = await import('node:crypto')
    const pub = createPublicKey(RSA_KEY).export({ type: 'spki', format: 'pem' }) as string
    const ok = await a.json('POST', `/consumers/${c.id}/jwt`, { algorithm: 'RS256', rsa_public_key: pub, key: 'iss-1' })
    assert.equal(ok.status, 201)
    assert.equal((await a.json('GET', '/jwts/iss-1/consumer')).json.id, c.id)
    assert.equal((await a.json('POST', `/consumers/${c.id}/jwt`, { algorithm: 'XX' })).json.fields.algorithm.startsWith('expected one of: HS256'), true)
    void RSA_CERT
  })

  test('hmac-auth: username required and unique, secret generated', async () => {
    const c = await consumer()
    const h = await a.json('POST', `/consumers/${c.id}/hmac-auth`, { username: 'hmac-user' })
    assert.equal(h.status, 201)
    assert.match(h.json.secret, /^.{32}$/)
    assert.equal((await a.json('POST', `/consumers/${c.id}/hmac-auth`, { username: 'hmac-user' })).status, 409)
    assert.equal((await a.json('GET', '/hmac-auths/hmac-user')).json.id, h.json.id)
  })

  test('acls: addressed by group name under the consumer; PUT by name creates; one group per consumer', async () => {
    const c = await consumer()
    const g = await a.json('POST', `/consumers/${c.id}/acls`, { group: 'admins' })
    assert.equal(g.status, 201)
    assert.equal((await a.json('GET', `/consumers/${c.username as string}/acls/admins`)).json.id, g.json.id)
    assert.equal((await a.json('GET', `/consumers/${c.id}/acls/${g.json.id as string}`)).json.group, 'admins')
    assert.equal((await a.json('GET', `/consumers/${c.id}/acls/nobody`)).status, 404)
    assert.equal((await a.json('POST', `/consumers/${c.id}/acls`, { group: 'admins' })).status, 409)
    const put = await a.json('PUT', `/consumers/${c.id}/acls/readers`, {})
    assert.equal(put.status, 200)
    assert.equal(put.json.group, 'readers')
    const patched = await a.json('PATCH', `/consumers/${c.id}/acls/readers`, { tags: ['t'] })
    assert.deepEqual(patched.json.tags, ['t'])
    assert.equal((await a.json('DELETE', `/consumers/${c.id}/acls/readers`)).status, 204)
    assert.equal((await a.json('GET', `/consumers/${c.id}/acls/readers`)).status, 404)
    assert.equal((await a.json('GET', `/consumers/nobody-${randomUUID()}/acls/admins`)).status, 404)
    assert.equal((await a.json('GET', `/acls/${g.json.id as string}/consumer`)).json.id, c.id)
  })
})
