/**
 * Kong's spec/02-integration/04-admin_api/21-admin-api-keys_spec.lua (keys and key sets through
 * the Admin API: create with and without a set, an invalid JWK, list, PATCH by id, the cascade of
 * a key set's delete), in the spec's order, then what the generated endpoints give both entities
 * (kong/api/endpoints.lua over keys.lua and key_sets.lua): reads and writes by id or name, the
 * nested `/key-sets/{set}/keys` endpoints, the set given by id or name, unique names, a kid
 * unique within its set, tags, paging, form bodies and `/schemas`.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { startTestAdmin, type Admin } from '../../integration/admin-harness.ts'
import { ecJwk, okpJwk, pemPair, rsaJwk, type PemPair } from './fixtures.ts'

let a: Admin
let pem: PemPair
let jwk: Record<string, string>

before(async () => {
  a = await startTestAdmin()
  pem = pemPair()
  jwk = rsaJwk('test-jwk-kid')
})
after(async () => { await a.close() })

describe('21-admin-api-keys_spec: setup keys and key-sets', () => {
  let testKeySet: any // eslint-disable-line @typescript-eslint/no-explicit-any
  let testJwkKey: any // eslint-disable-line @typescript-eslint/no-explicit-any
  let testPemKey: any // eslint-disable-line @typescript-eslint/no-explicit-any

  before(async () => {
    const ks = await a.json('POST', '/key-sets', { name: 'test' })
    assert.equal(ks.status, 201, ks.text)
    testKeySet = ks.json
    const j = await a.json('POST', '/keys', { name: 'unique jwk key', set: { id: testKeySet.id }, jwk: JSON.stringify(jwk), kid: jwk.kid })
    assert.equal(j.status, 201, j.text)
    testJwkKey = j.json
    const p = await a.json('POST', '/keys', { name: 'unique pem key', set: { id: testKeySet.id }, pem: { public_key: pem.pub, private_key: pem.priv }, kid: 'test_pem' })
    assert.equal(p.status, 201, p.text)
    testPemKey = p.json
  })

  test('keys as created: Kong\'s fields, the other format null', () => {
    assert.deepEqual(Object.keys(testJwkKey).sort(), ['created_at', 'id', 'jwk', 'kid', 'name', 'pem', 'set', 'tags', 'updated_at'])
    assert.deepEqual(testJwkKey.set, { id: testKeySet.id })
    assert.equal(testJwkKey.jwk, JSON.stringify(jwk))
    assert.equal(testJwkKey.pem, null)
    assert.equal(testPemKey.jwk, null)
    assert.deepEqual(testPemKey.pem, { private_key: pem.priv, public_key: pem.pub })
    assert.deepEqual(Object.keys(testKeySet).sort(), ['created_at', 'id', 'name', 'tags', 'updated_at'])
  })

  test('CREATE: a pem key without set', async () => {
    const r = await a.json('POST', '/keys', { name: 'pemkey no set', pem: { public_key: pem.pub, private_key: pem.priv }, kid: 'test_pem_no_set' })
    assert.equal(r.status, 201, r.text)
    assert.equal(r.json.set, null)
    testPemKey = r.json
  })

  test('CREATE: a jwk key without set', async () => {
    const r = await a.json('POST', '/keys', { name: 'jwk no set', jwk: JSON.stringify(jwk), kid: jwk.kid })
    assert.equal(r.status, 201, r.text)
    testJwkKey = r.json
  })

  test('CREATE: an invalid JWK', async () => {
    const r = await a.json('POST', '/keys', { name: 'jwk invalid', jwk: '{"kid": "36"}', kid: '36' })
    assert.equal(r.status, 400)
    assert.equal(r.json.message, 'schema violation (could not load JWK, likely not a valid key)')
  })

  test('GET retrieves all key-sets and keys configured', async () => {
    const s = await a.json('GET', '/key-sets')
    assert.equal(s.status, 200)
    assert.equal(s.json.data.length, 1)
    const k = await a.json('GET', '/keys')
    assert.equal(k.status, 200)
    assert.equal(k.json.data.length, 4)
  })

  test('PATCH updates a key-set by id', async () => {
    const r = await a.json('PATCH', `/key-sets/${testKeySet.id}`, { name: 'changeme' })
    assert.equal(r.status, 200, r.text)
    assert.equal(r.json.name, 'changeme')
  })

  test('PATCH updates a jwk key by id', async () => {
    const r = await a.json('PATCH', `/keys/${testJwkKey.id}`, { name: 'changeme_jwk' })
    assert.equal(r.status, 200, r.text)
    assert.equal(r.json.name, 'changeme_jwk')
  })

  test('PATCH updates a pem key by id', async () => {
    const r = await a.json('PATCH', `/keys/${testPemKey.id}`, { name: 'changeme_pem' })
    assert.equal(r.status, 200, r.text)
    assert.equal(r.json.name, 'changeme_pem')
  })

  test('DELETE cascade deletes keys when key-set is deleted', async () => {
    const sets = await a.json('GET', '/key-sets/')
    assert.equal(sets.status, 200)
    assert.equal(sets.json.data.length, 1)
    assert.equal((await a.json('GET', '/keys')).json.data.length, 4)
    const seq = (await a.db.pool.query('select coalesce(max(seq), 0)::bigint as s from cluster_events')).rows[0].s
    const setId = sets.json.data[0].id
    const inSet = (await a.json('GET', `/key-sets/${setId as string}/keys`)).json.data.map((k: { id: string }) => k.id).sort()
    assert.equal(inSet.length, 2)
    assert.equal((await a.json('DELETE', `/key-sets/${setId as string}`)).status, 204)
    assert.equal((await a.json('GET', '/keys')).json.data.length, 2)
    assert.equal((await a.json('GET', '/key-sets')).json.data.length, 0)
    // one cluster event per row gone: the set and each of its keys, in one transaction
    const ev = (await a.db.pool.query('select data from cluster_events where seq > $1 order by seq', [seq])).rows.map((r) => JSON.parse(r.data))
    assert.deepEqual(ev[0], { entity: 'key_sets', op: 'delete', id: setId })
    assert.deepEqual(ev.slice(1).map((e) => [e.entity, e.op, e.id]), inSet.map((id: string) => ['keys', 'delete', id]))
  })
})

describe('/key-sets and /keys by id or name', () => {
  let set: any // eslint-disable-line @typescript-eslint/no-explicit-any

  before(async () => {
    const r = await a.json('PUT', '/key-sets/by-name', { tags: ['crud'] })
    assert.equal(r.status, 200, r.text)
    set = r.json
  })

  test('a key set is created by PUT on its name and read by id or name', async () => {
    assert.equal(set.name, 'by-name')
    assert.deepEqual((await a.json('GET', `/key-sets/${set.id}`)).json, set)
    assert.deepEqual((await a.json('GET', '/key-sets/by-name')).json, set)
    assert.equal((await a.json('GET', '/key-sets/nope')).status, 404)
    assert.equal((await a.json('GET', `/key-sets/${randomUUID()}`)).status, 404)
  })

  test('a key\'s set given by name is stored as its id; an unknown name is Kong\'s foreign key error', async () => {
    const k = await a.json('PUT', '/keys/named-ec', { kid: 'ec-1', set: { name: 'by-name' }, jwk: JSON.stringify(ecJwk('ec-1')) })
    assert.equal(k.status, 200, k.text)
    assert.deepEqual(k.json.set, { id: set.id })
    assert.equal(k.json.name, 'named-ec')
    const bad = await a.json('POST', '/keys', { kid: 'ec-2', set: { name: 'no-such-set' }, jwk: JSON.stringify(ecJwk('ec-2')) })
    assert.equal(bad.status, 400, bad.text)
    const msg = "the foreign key cannot be resolved with '{name=\"no-such-set\"}' for an existing 'key_sets' entity"
    assert.deepEqual(bad.json, {
      code: 13,
      name: 'foreign keys unresolved',
      message: `foreign key unresolved (set.name: ${msg})`,
      fields: { set: { name: msg } },
    })
    const missing = await a.json('POST', '/keys', { kid: 'ec-3', set: { id: randomUUID() }, jwk: JSON.stringify(ecJwk('ec-3')) })
    assert.equal(missing.status, 400, missing.text)
    assert.equal(missing.json.name, 'foreign key violation')
  })

  test('GET, PATCH and DELETE a key by name', async () => {
    const g = await a.json('GET', '/keys/named-ec')
    assert.equal(g.status, 200)
    assert.equal(g.json.kid, 'ec-1')
    const p = await a.json('PATCH', '/keys/named-ec', { tags: ['x'] })
    assert.equal(p.status, 200, p.text)
    assert.deepEqual(p.json.tags, ['x'])
    assert.equal(p.json.jwk, g.json.jwk)
    assert.equal((await a.json('DELETE', '/keys/named-ec')).status, 204)
    assert.equal((await a.json('GET', '/keys/named-ec')).status, 404)
    assert.equal((await a.json('DELETE', '/keys/named-ec')).status, 204)
  })

  test('/keys/{key}/set is the key\'s set', async () => {
    const k = await a.json('POST', '/keys', { kid: 'okp-1', name: 'okp', set: { id: set.id }, jwk: JSON.stringify(okpJwk('okp-1')) })
    assert.equal(k.status, 201, k.text)
    const s = await a.json('GET', '/keys/okp/set')
    assert.equal(s.status, 200)
    assert.equal(s.json.id, set.id)
    const loose = await a.json('POST', '/keys', { kid: 'okp-2', name: 'okp-loose', jwk: JSON.stringify(okpJwk('okp-2')) })
    assert.equal(loose.status, 201, loose.text)
    assert.equal((await a.json('GET', '/keys/okp-loose/set')).status, 404)
  })

  test('names are unique: 409 with Kong\'s body', async () => {
    const dup = await a.json('POST', '/key-sets', { name: 'by-name' })
    assert.equal(dup.status, 409)
    assert.deepEqual(dup.json, {
      code: 5,
      name: 'unique constraint violation',
      message: "UNIQUE violation detected on '{name=\"by-name\"}'",
      fields: { name: 'by-name' },
    })
    const k = await a.json('POST', '/keys', { kid: 'okp-3', name: 'okp', jwk: JSON.stringify(okpJwk('okp-3')) })
    assert.equal(k.status, 409)
    assert.deepEqual(k.json.fields, { name: 'okp' })
  })

  test('a kid is unique within its set and among keys of no set, not across sets', async () => {
    const inSet = await a.json('POST', '/keys', { kid: 'okp-1', set: { id: set.id }, jwk: JSON.stringify(okpJwk('okp-1')) })
    assert.equal(inSet.status, 409, inSet.text)
    assert.deepEqual(inSet.json, {
      code: 5,
      name: 'unique constraint violation',
      message: `UNIQUE violation detected on '{kid="okp-1",set={id="${set.id as string}"}}'`,
      fields: { kid: 'okp-1', set: { id: set.id } },
    })
    const noSet = await a.json('POST', '/keys', { kid: 'okp-2', jwk: JSON.stringify(okpJwk('okp-2')) })
    assert.equal(noSet.status, 409, noSet.text)
    assert.deepEqual(noSet.json.fields, { kid: 'okp-2', set: null })
    const other = await a.json('POST', '/key-sets', { name: 'other-set' })
    const across = await a.json('POST', '/keys', { kid: 'okp-1', set: { id: other.json.id }, jwk: JSON.stringify(okpJwk('okp-1')) })
    assert.equal(across.status, 201, across.text)
  })
})

describe('/key-sets/{set}/keys', () => {
  let set: any // eslint-disable-line @typescript-eslint/no-explicit-any
  before(async () => {
    set = (await a.json('POST', '/key-sets', { name: 'nested' })).json
  })

  test('POST creates a key in the set (by set name or id); GET lists only the set\'s keys', async () => {
    const k1 = await a.json('POST', '/key-sets/nested/keys', { kid: 'n1', name: 'nested-1', jwk: JSON.stringify(ecJwk('n1', 'P-384')) })
    assert.equal(k1.status, 201, k1.text)
    assert.deepEqual(k1.json.set, { id: set.id })
    const k2 = await a.json('POST', `/key-sets/${set.id as string}/keys`, { kid: 'n2', name: 'nested-2', pem: { public_key: pem.pub } })
    assert.equal(k2.status, 201, k2.text)
    const list = await a.json('GET', '/key-sets/nested/keys')
    assert.equal(list.status, 200)
    assert.deepEqual(list.json.data.map((k: { kid: string }) => k.kid).sort(), ['n1', 'n2'])
    assert.equal((await a.json('GET', '/key-sets/no-such/keys')).status, 404)
    assert.equal((await a.json('POST', '/key-sets/no-such/keys', { kid: 'n3', jwk: JSON.stringify(ecJwk('n3')) })).status, 404)
  })

  test('/key-sets/{set}/keys/{key}: only the set\'s own keys', async () => {
    const g = await a.json('GET', '/key-sets/nested/keys/nested-1')
    assert.equal(g.status, 200)
    assert.equal(g.json.kid, 'n1')
    assert.equal((await a.json('GET', '/key-sets/nested/keys/okp')).status, 404)
    const p = await a.json('PATCH', '/key-sets/nested/keys/nested-2', { tags: ['patched'] })
    assert.equal(p.status, 200, p.text)
    assert.deepEqual(p.json.tags, ['patched'])
    assert.equal((await a.json('DELETE', '/key-sets/nested/keys/nested-2')).status, 204)
    assert.equal((await a.json('GET', '/keys/nested-2')).status, 404)
  })

  test('paging: size and offset over the set\'s keys and over all keys', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await a.json('POST', '/key-sets/nested/keys', { kid: `page-${i}`, jwk: JSON.stringify(ecJwk(`page-${i}`)), tags: ['paged'] })
      assert.equal(r.status, 201, r.text)
    }
    const seen: string[] = []
    let next: string | null = '/keys?size=2&tags=paged'
    while (next !== null) {
      const r = await a.json('GET', next)
      assert.equal(r.status, 200, r.text)
      assert.ok(r.json.data.length <= 2)
      seen.push(...r.json.data.map((k: { kid: string }) => k.kid))
      next = r.json.next
    }
    assert.deepEqual(seen.sort(), ['page-0', 'page-1', 'page-2'])
    const first = await a.json('GET', '/key-sets/nested/keys?size=1')
    assert.equal(first.json.data.length, 1)
    assert.equal(typeof first.json.offset, 'string')
    assert.match(first.json.next, /^\/key-sets\/nested\/keys\?offset=/)
  })

  test('tags filter key sets and keys; /tags lists them', async () => {
    const ks = await a.json('POST', '/key-sets', { name: 'tagged-set', tags: ['blue', 'green'] })
    assert.equal(ks.status, 201, ks.text)
    const r = await a.json('GET', '/key-sets?tags=blue')
    assert.deepEqual(r.json.data.map((s: { name: string }) => s.name), ['tagged-set'])
    const t = await a.json('GET', '/tags/blue')
    assert.equal(t.status, 200)
    assert.deepEqual(t.json.data, [{ entity_name: 'key_sets', entity_id: ks.json.id, tag: 'blue' }])
    const k = await a.json('GET', '/tags/paged')
    assert.deepEqual(new Set(k.json.data.map((x: { entity_name: string }) => x.entity_name)), new Set(['keys']))
  })
})

describe('key checks (keys.lua, typedefs.jwk, typedefs.pem)', () => {
  const refused = async (body: unknown): Promise<any> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const r = await a.json('POST', '/keys', body)
    assert.equal(r.status, 400, r.text)
    assert.equal(r.json.code, 2)
    assert.equal(r.json.name, 'schema violation')
    return r.json
  }

  test('kid is required; exactly one of jwk and pem', async () => {
    assert.deepEqual((await refused({ jwk: JSON.stringify(jwk) })).fields, { kid: 'required field missing' })
    assert.deepEqual((await refused({ kid: 'k' })).fields, { '@entity': ["at least one of these fields must be non-empty: 'jwk', 'pem'"] })
    assert.deepEqual((await refused({ kid: jwk.kid, jwk: JSON.stringify(jwk), pem: { public_key: pem.pub } })).fields,
      { '@entity': ["only one or none of these fields must be set: 'jwk', 'pem'"] })
  })

  test('a JWK must decode, name the key\'s kid, load, and have JWK members only', async () => {
    assert.equal((await refused({ kid: 'k', jwk: '{' })).message, 'schema violation (could not json decode jwk string)')
    assert.equal((await refused({ kid: 'other', jwk: JSON.stringify(jwk) })).message, 'schema violation (kid in jwk.kid must be equal to keys.kid)')
    assert.equal((await refused({ kid: 'k', jwk: '[1]' })).message, 'schema violation (kid in jwk.kid must be equal to keys.kid)')
    const load = 'schema violation (could not load JWK, likely not a valid key)'
    assert.equal((await refused({ kid: 'k', jwk: JSON.stringify({ kty: 'oct', k: 'c2VjcmV0', kid: 'k' }) })).message, load)
    assert.equal((await refused({ kid: 'k', jwk: JSON.stringify(ecJwk('k', 'secp256k1')) })).message, load)
    assert.equal((await refused({ kid: 'k', jwk: JSON.stringify({ ...ecJwk('k'), x: 'not base64url!' }) })).message, load)
    assert.equal((await refused({ kid: 'k', jwk: JSON.stringify({ kty: 'RSA', kid: 'k', e: 'AQAB' }) })).message, load)
    const extra = await refused({ kid: 'k', jwk: JSON.stringify({ ...ecJwk('k'), use: 5, ext: true }) })
    assert.deepEqual(extra.fields, { '@entity': ['ext: unknown field; use: expected a string'] })
  })

  test('PEM keys: at least one, loadable, of the right kind, matching', async () => {
    assert.deepEqual((await refused({ kid: 'p', pem: {} })).fields,
      { pem: { '@entity': ["at least one of these fields must be non-empty: 'private_key', 'public_key'"] } })
    assert.deepEqual((await refused({ kid: 'p', pem: { public_key: 'nope' } })).fields, { pem: 'could not load public key' })
    assert.deepEqual((await refused({ kid: 'p', pem: { public_key: pem.priv } })).fields, { pem: 'could not load public key' })
    assert.match((await refused({ kid: 'p', pem: { private_key: pem.pub } })).fields.pem, /^could not load private keypkey\.new:load_key: /)
    assert.deepEqual((await refused({ kid: 'p', pem: { private_key: pem.priv, public_key: pemPair().pub } })).fields,
      { pem: 'public key does not match private key' })
    assert.deepEqual((await refused({ kid: 'p', pem: { public_key: pem.pub, other: 'x' } })).fields, { pem: { other: 'unknown field' } })
    const priv = await a.json('POST', '/keys', { kid: 'only-private', pem: { private_key: pem.priv } })
    assert.equal(priv.status, 201, priv.text)
    assert.deepEqual(priv.json.pem, { private_key: pem.priv, public_key: null })
  })

  test('a PATCH is checked against the merged key: a jwk added to a pem key is refused, nothing changes', async () => {
    const k = await a.json('POST', '/keys', { kid: 'patch-me', name: 'patch-me', pem: { public_key: pem.pub } })
    assert.equal(k.status, 201, k.text)
    const r = await a.json('PATCH', '/keys/patch-me', { jwk: JSON.stringify({ ...ecJwk('patch-me') }) })
    assert.equal(r.status, 400, r.text)
    assert.deepEqual(r.json.fields, { '@entity': ["only one or none of these fields must be set: 'jwk', 'pem'"] })
    const kidChange = await a.json('PATCH', '/keys/patch-me', { kid: 'renamed' })
    assert.equal(kidChange.status, 200, kidChange.text)
    const swap = await a.json('PATCH', '/keys/patch-me', { pem: null, jwk: JSON.stringify(ecJwk('renamed')) })
    assert.equal(swap.status, 200, swap.text)
    assert.equal(swap.json.pem, null)
    assert.deepEqual((await a.json('GET', '/keys/patch-me')).json, swap.json)
  })

  test('vault references in jwk and pem.private_key are stored and shown as given', async () => {
    const j = await a.json('POST', '/keys', { kid: 'ref-1', name: 'ref-jwk', jwk: '{vault://env/jwk_secret}' })
    assert.equal(j.status, 201, j.text)
    assert.equal(j.json.jwk, '{vault://env/jwk_secret}')
    const p = await a.json('POST', '/keys', { kid: 'ref-2', name: 'ref-pem', pem: { private_key: '{vault://env/jwk_secret}', public_key: pem.pub } })
    assert.equal(p.status, 201, p.text)
    assert.equal(p.json.pem.private_key, '{vault://env/jwk_secret}')
    const q = await a.json('POST', '/keys', { kid: 'ref-3', name: 'ref-pub', pem: { private_key: pem.priv, public_key: '{vault://env/pub}' } })
    assert.equal(q.status, 201, q.text)
    assert.equal((await a.json('GET', '/keys/ref-jwk')).json.jwk, '{vault://env/jwk_secret}')
  })

  test('a form body: pem.public_key and set.id as dotted fields', async () => {
    const s = await a.json('POST', '/key-sets', { name: 'form-set' })
    const body = new URLSearchParams({ kid: 'form-1', name: 'form-key', 'pem.public_key': pem.pub, 'set.id': s.json.id }).toString()
    const r = await a.form('POST', '/keys', body)
    assert.equal(r.status, 201, r.text)
    assert.deepEqual(r.json.set, { id: s.json.id })
    assert.equal(r.json.pem.public_key, pem.pub)
  })

  test('no refused write left a row behind', async () => {
    const all = await a.json('GET', '/keys?size=1000')
    for (const kid of ['k', 'p', 'other', '36']) assert.ok(!all.json.data.some((k: { kid: string }) => k.kid === kid), kid)
  })
})

describe('/schemas', () => {
  test('/schemas/keys and /schemas/key_sets describe the entities; /schemas/key-sets is no entity', async () => {
    const k = await a.json('GET', '/schemas/keys')
    assert.equal(k.status, 200)
    const field = (name: string): any => k.json.fields.find((f: Record<string, unknown>) => Object.hasOwn(f, name))[name] // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(k.json.fields.map((f: Record<string, unknown>) => Object.keys(f)[0]), ['id', 'set', 'name', 'kid', 'jwk', 'pem', 'tags', 'created_at', 'updated_at'])
    assert.deepEqual(field('set'), { type: 'foreign', description: 'The id of the Key Set with which to associate the key.', required: false, reference: 'key_sets', on_delete: 'cascade' })
    assert.equal(field('jwk').referenceable, true)
    assert.equal(field('jwk').encrypted, true)
    assert.deepEqual(field('pem').fields, [
      { private_key: { type: 'string', required: false, referenceable: true, encrypted: true } },
      { public_key: { type: 'string', referenceable: true, required: false } },
    ])
    assert.deepEqual(field('pem').entity_checks, [{ at_least_one_of: ['private_key', 'public_key'] }])
    assert.deepEqual(k.json.entity_checks.slice(0, 2), [{ mutually_exclusive: ['jwk', 'pem'] }, { at_least_one_of: ['jwk', 'pem'] }])
    const s = await a.json('GET', '/schemas/key_sets')
    assert.equal(s.status, 200)
    assert.deepEqual(s.json.fields.map((f: Record<string, unknown>) => Object.keys(f)[0]), ['id', 'name', 'tags', 'created_at', 'updated_at'])
    assert.deepEqual(await a.json('GET', '/schemas/key-sets').then((r) => [r.status, r.json]), [404, { message: "No entity named 'key-sets'" }])
  })

  test('POST /schemas/keys/validate checks without writing', async () => {
    const ok = await a.json('POST', '/schemas/keys/validate', { kid: jwk.kid, jwk: JSON.stringify(jwk) })
    assert.equal(ok.status, 200, ok.text)
    const bad = await a.json('POST', '/schemas/keys/validate', { kid: 'x', jwk: JSON.stringify(jwk) })
    assert.equal(bad.status, 400)
    assert.equal(bad.json.message, 'schema violation (kid in jwk.kid must be equal to keys.kid)')
    assert.equal((await a.json('POST', '/schemas/key_sets/validate', { name: 'x' })).status, 200)
  })

  test('/endpoints lists the keys and key-sets routes', async () => {
    const list: string[] = (await a.json('GET', '/endpoints')).json.data
    for (const t of ['/keys', '/keys/{keys}', '/keys/{keys}/set', '/key-sets', '/key-sets/{key_sets}', '/key-sets/{key_sets}/keys', '/key-sets/{key_sets}/keys/{keys}']) {
      assert.ok(list.includes(t), t)
    }
  })

  test('the Admin API logged no unexpected error', () => {
    assert.deepEqual(a.logged.filter((l) => l.startsWith('error')), [])
  })
})
