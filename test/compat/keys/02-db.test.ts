/**
 * Kong's spec/02-integration/03-db/18-keys_spec.lua and 19-key-sets_spec.lua against Sluice's DAO
 * and a real PostgreSQL: selects of JWK and PEM keys, the keys cache key (kong/db/dao/keys.lua),
 * vault references in `jwk` and `pem` dereferenced the way every referenceable field is
 * (vault/refs.ts), a kid reused across sets, `get_pubkey` / `get_privkey`
 * (validators/key-material.ts), and key sets: select, insert, update, delete, the cascade to
 * their keys, and the keys of one set (each_for_set).
 */
import { after, afterEach, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { daoFor, withWrite, type Entity } from '../../../src/db/dao/index.ts'
import { cacheKeyOf } from '../../../src/db/dao/row-sql.ts'
import { getSchema } from '../../../src/db/schema/registry.ts'
import { DbError } from '../../../src/db/schema/db-errors.ts'
import { privateKeyOf, publicKeyOf } from '../../../src/db/schema/validators/key-material.ts'
import { REFS_KEY, restoreRow } from '../../../src/vault/refs.ts'
import { ReferenceTables } from '../../../src/vault/tables.ts'
import { pemPair, rsaJwk, type PemPair } from './fixtures.ts'

const NODE_ID = '00000000-0000-4000-8000-00000000000a'
const keysSchema = getSchema('keys')!
const setsSchema = getSchema('key_sets')!
const keys = daoFor(keysSchema)
const sets = daoFor(setsSchema)

let d: TestDb
let pem: PemPair
let jwk: Record<string, string>
let initSet: Entity

const insertKey = (e: Entity): Promise<Entity> => withWrite(d.pool, NODE_ID, keysSchema, (tx) => keys.insert(tx, e))
const insertSet = (e: Entity): Promise<Entity> => withWrite(d.pool, NODE_ID, setsSchema, (tx) => sets.insert(tx, e))
const deleteSet = (id: string): Promise<boolean> => withWrite(d.pool, NODE_ID, setsSchema, (tx) => sets.delete(tx, { id }))
const setRef = (s: Entity): { id: string } => ({ id: s.id as string })

const envSet: string[] = []
function setenv (k: string, v: string): void { process.env[k] = v; envSet.push(k) }

before(async () => {
  d = await createTestDb()
  pem = pemPair()
  jwk = rsaJwk('jwk-kid')
  setenv('JWK_SECRET', 'wowsuchsecret')
  initSet = await insertSet({ name: 'testset' })
})
after(async () => {
  for (const k of envSet) delete process.env[k]
  await d.drop()
})

describe('18-keys_spec: db.keys', () => {
  afterEach(async () => { await d.pool.query('delete from keys') })

  test(':select returns an item [jwk]', async () => {
    const key = await insertKey({ name: 'testjwk', set: setRef(initSet), kid: jwk.kid, jwk: JSON.stringify(jwk) })
    const o = await keys.selectById(d.pool, key.id as string)
    assert.equal(typeof o!.jwk, 'string')
    assert.deepEqual(JSON.parse(o!.jwk as string), jwk)
  })

  test(':select returns an item [pem]', async () => {
    const key = await insertKey({ name: 'testpem', set: setRef(initSet), kid: '456', pem: { public_key: pem.pub, private_key: pem.priv } })
    const o = await keys.selectById(d.pool, key.id as string)
    assert.equal(o!.kid, '456')
    assert.equal((o!.pem as Entity).private_key, pem.priv)
    assert.equal((o!.pem as Entity).public_key, pem.pub)
  })

  test(':cache_key', () => {
    assert.equal(cacheKeyOf(keysSchema, { kid: '456', set: { id: initSet.id } }), `keys:456:${initSet.id as string}`)
  })
  test(':cache_key no set present', () => {
    assert.equal(cacheKeyOf(keysSchema, { kid: '123' }), 'keys:123:')
  })
  test(':cache_key invalid set type', () => {
    assert.equal(cacheKeyOf(keysSchema, { kid: '123', set: '' }), 'keys:123:')
  })
  test(':cache_key must handle missing id field', () => {
    assert.equal(cacheKeyOf(keysSchema, { kid: '123', set: {} }), 'keys:123:')
  })
  test('the stored cache_key column is the cache key', async () => {
    const key = await insertKey({ name: 'ck', set: setRef(initSet), kid: '789', pem: { public_key: pem.pub } })
    const r = await d.pool.query('select cache_key from keys where id = $1', [key.id])
    assert.equal(r.rows[0].cache_key, `keys:789:${initSet.id as string}`)
  })

  // Kong's DAO dereferences on read; Sluice stores the reference and dereferences where the
  // configuration is used (ReferenceTables), with the reference kept under $refs, as Kong keeps it.
  const deref = (row: Entity): Entity => new ReferenceTables().row('keys', row as Entity & { id: string })

  test(':insert handles field vault references', async () => {
    const reference = '{vault://env/jwk_secret}'
    const ref = await insertKey({ name: 'vault references', set: setRef(initSet), kid: '1', jwk: reference })
    assert.equal(ref.jwk, reference)
    const resolved = deref(ref)
    assert.equal(resolved.jwk, 'wowsuchsecret')
    assert.deepEqual(resolved[REFS_KEY], [[['jwk'], reference]])
    assert.deepEqual(restoreRow(resolved), { ...ref })
  })

  test(':insert handles field private_key when passing a vault reference', async () => {
    const reference = '{vault://env/jwk_secret}'
    const ref = await insertKey({ name: 'vault references', set: setRef(initSet), kid: '1', pem: { private_key: reference, public_key: pem.pub } })
    const resolved = deref(ref)
    assert.equal((resolved.pem as Entity).private_key, 'wowsuchsecret')
    assert.deepEqual(resolved[REFS_KEY], [[['pem', 'private_key'], reference]])
  })

  test(':insert handles field public_key when passing a vault reference', async () => {
    const reference = '{vault://env/jwk_secret}'
    const ref = await insertKey({ name: 'vault references', set: setRef(initSet), kid: '1', pem: { private_key: pem.priv, public_key: reference } })
    const resolved = deref(ref)
    assert.equal((resolved.pem as Entity).public_key, 'wowsuchsecret')
    assert.deepEqual(resolved[REFS_KEY], [[['pem', 'public_key'], reference]])
  })

  test('kid is unique accross sets', async () => {
    const test2 = await insertSet({ name: 'test2' })
    const key = await insertKey({ name: 'each_test', set: setRef(initSet), kid: '999', pem: { private_key: pem.priv, public_key: pem.pub } })
    assert.ok(key.id)
    // the same kid in another set is no violation
    const key2 = await insertKey({ name: 'each_test_1', set: setRef(test2), kid: '999', pem: { private_key: pem.priv, public_key: pem.pub } })
    assert.ok(key2.id)
    // in the same set it is
    await assert.rejects(insertKey({ name: 'each_test_2', set: setRef(test2), kid: '999', pem: { public_key: pem.pub } }),
      (e: unknown) => e instanceof DbError && e.errT.name === 'unique constraint violation')
    await deleteSet(test2.id as string)
  })

  test(':get_pubkey and :get_privkey [pem]', async () => {
    const pemT = await insertKey({ name: 'pem_key', set: setRef(initSet), kid: '999', pem: { private_key: pem.priv, public_key: pem.pub } })
    const pub = publicKeyOf(pemT)
    assert.ok('key' in pub)
    assert.match(pub.key, /-----BEGIN PUBLIC KEY/)
    const priv = privateKeyOf(pemT)
    assert.ok('key' in priv)
    assert.match(priv.key, /-----BEGIN PRIVATE KEY/)
    assert.ok(createPrivateKey(priv.key).equals(createPrivateKey(pem.priv)))
  })

  test(':get_pubkey and :get_privkey [jwk]', async () => {
    const jwkT = await insertKey({ name: 'jwk_key', set: setRef(initSet), kid: jwk.kid, jwk: JSON.stringify(jwk) })
    const pub = publicKeyOf(jwkT)
    assert.ok('key' in pub)
    const pubO = JSON.parse(pub.key)
    for (const m of ['e', 'kid', 'kty', 'n']) assert.ok(pubO[m] !== undefined, m)
    assert.equal(pubO.d, undefined)
    const priv = privateKeyOf(jwkT)
    assert.ok('key' in priv)
    const privO = JSON.parse(priv.key)
    for (const m of ['kid', 'kty', 'd', 'dp', 'dq', 'e', 'n', 'p', 'q', 'qi']) assert.ok(privO[m] !== undefined, m)
    assert.equal(privO.n, jwk.n)
  })

  test(':get_privkey errors if only got pubkey [pem]', async () => {
    const pemT = await insertKey({ name: 'pem_key', set: setRef(initSet), kid: '999', pem: { public_key: pem.pub } })
    const pub = publicKeyOf(pemT)
    assert.ok('key' in pub)
    assert.match(pub.key, /-----BEGIN PUBLIC KEY/)
    const priv = privateKeyOf(pemT)
    assert.ok('err' in priv)
    assert.match(priv.err, /could not load a private key from public key material/)
  })

  test(':get_privkey errors if only got pubkey [jwk]', async () => {
    const pubJwk: Record<string, string> = { ...jwk }
    delete pubJwk.d
    const jwkT = await insertKey({ name: 'jwk_key', set: setRef(initSet), kid: jwk.kid, jwk: JSON.stringify(pubJwk) })
    const pub = publicKeyOf(jwkT)
    assert.ok('key' in pub)
    const pubO = JSON.parse(pub.key)
    for (const m of ['e', 'kid', 'kty', 'n']) assert.ok(pubO[m] !== undefined, m)
    const priv = privateKeyOf(jwkT)
    assert.ok('err' in priv)
    assert.match(priv.err, /could not load a private key from public key material/)
  })

  test(':get_pubkey of a PEM key with only a private key is its public half', async () => {
    const t = await insertKey({ name: 'priv_only', kid: 'po', pem: { private_key: pem.priv } })
    const pub = publicKeyOf(t)
    assert.ok('key' in pub)
    assert.ok(createPublicKey(pub.key).equals(createPublicKey(pem.pub)))
  })
})

describe('19-key-sets_spec: db.key_sets', () => {
  let keyset: Entity
  before(async () => { keyset = await insertSet({ name: 'testset-19' }) })

  test(':select returns an item', async () => {
    const s = await sets.selectById(d.pool, keyset.id as string)
    assert.equal(s!.name, keyset.name)
    assert.deepEqual(await sets.selectByField(d.pool, 'name', 'testset-19'), s)
  })

  test(":insert creates a keyset with name 'this'", async () => {
    const s = await insertSet({ name: 'this' })
    assert.equal(s.name, 'this')
  })

  test(':delete works', async () => {
    const s = await insertSet({ name: 'that' })
    assert.equal(s.name, 'that')
    assert.equal(await deleteSet(s.id as string), true)
    assert.equal(await sets.selectById(d.pool, s.id as string), null)
  })

  test(":update updates a keyset's fields", async () => {
    const s = await withWrite(d.pool, NODE_ID, setsSchema, (tx) => sets.update(tx, { id: keyset.id as string }, { name: 'changed' }))
    assert.equal(s.name, 'changed')
  })

  test(':delete cascades correctly', async () => {
    const s = await insertSet({ name: 'deletecascade' })
    const key = await insertKey({ name: 'testkey', kid: jwk.kid, set: setRef(s), jwk: JSON.stringify(jwk) })
    assert.notEqual(await keys.selectById(d.pool, key.id as string), null)
    assert.equal(await deleteSet(s.id as string), true)
    assert.equal(await keys.selectById(d.pool, key.id as string), null)
  })

  test('allows to have multiple keys with different formats in a set', async () => {
    const s = await insertSet({ name: 'multikeys' })
    const pemKey = await insertKey({ name: 'pem_k', kid: '2', set: setRef(s), pem: { private_key: pem.priv, public_key: pem.pub } })
    assert.ok(pemKey.id)
    const jwkKey = await insertKey({ name: 'jwk_k', kid: jwk.kid, jwk: JSON.stringify(jwk), set: setRef(s) })
    assert.ok(jwkKey.id)
    const rows = await keys.rowsWhere(d.pool, 'set', s.id as string)
    assert.equal(rows.length, 2)
    const page = await keys.page(d.pool, { size: 1, foreign: { field: 'set', id: s.id as string } })
    assert.equal(page.data.length, 1)
    assert.equal(typeof page.offset, 'string')
  })
})
