/**
 * Key sets and keys in kong.yml against a real PostgreSQL: `db_import` stores them (nested under
 * their set or naming it, JWK and PEM keys, vault references as given), `db_export` gives them
 * back (Kong's spec/02-integration/02-cmd/11-config_spec.lua "config db_export exports a yaml
 * file": `key_sets` and `keys` among the top-level keys, the PEM public key exported), an export
 * imports into an empty database and exports the same, a file the schema refuses stores nothing,
 * and the workers' snapshot leaves keys out (no bundled plugin reads them).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { flat, testDatabases } from '../../helpers/declarative.ts'
import { importIntoDb } from '../../../src/declarative/db-import.ts'
import { exportFromDb } from '../../../src/declarative/db-export.ts'
import { toYaml } from '../../../src/declarative/export.ts'
import { flatten } from '../../../src/declarative/flatten.ts'
import { unserialize } from '../../../src/declarative/parse.ts'
import { entityUuid } from '../../../src/declarative/uuid.ts'
import { daoFor, withWrite } from '../../../src/db/dao/index.ts'
import { getSchema } from '../../../src/db/schema/registry.ts'
import { ConfigCache } from '../../../src/primary/config-cache.ts'
import { SnapshotBuilder } from '../../../src/primary/snapshot.ts'
import { decodeSnapshot } from '../../../src/common/codec.ts'
import { ecJwk, pemPair } from './fixtures.ts'

const NODE_ID = '00000000-0000-4000-8000-00000000000b'
const db = testDatabases()
const pem = pemPair()
const jwk = JSON.stringify(ecJwk('k1'))

const indent = (s: string, n: number): string => s.trim().split('\n').map((l, i) => (i === 0 ? '' : ' '.repeat(n)) + l).join('\n')

const CONFIG = `
_format_version: "3.0"
key_sets:
- name: ks
  tags: [signing]
  keys:
  - kid: k1
    name: jwk-key
    jwk: '${jwk}'
keys:
- kid: k2
  name: pem-key
  set: ks
  pem:
    public_key: |
      ${indent(pem.pub, 6)}
    private_key: |
      ${indent(pem.priv, 6)}
- kid: k3
  name: loose-ref
  jwk: "{vault://env/some-jwk}"
`

test('db_import stores key sets and keys; the Admin API\'s DAO reads them as imported', async () => {
  const a = await db()
  const r = await importIntoDb(a.pool, flat(CONFIG), null)
  assert.equal(r.byTable.key_sets, 1)
  assert.equal(r.byTable.keys, 3)
  const setId = entityUuid('key_sets', 'ks')
  const set = await daoFor(getSchema('key_sets')!).selectByField(a.pool, 'name', 'ks')
  assert.equal(set!.id, setId)
  assert.deepEqual(set!.tags, ['signing'])
  const keys = daoFor(getSchema('keys')!)
  const j = await keys.selectByField(a.pool, 'name', 'jwk-key')
  assert.deepEqual(j!.set, { id: setId })
  assert.equal(j!.jwk, jwk)
  assert.equal(j!.id, entityUuid('keys', `keys:*:k1:${setId}`))
  const p = await keys.selectByField(a.pool, 'name', 'pem-key')
  assert.deepEqual(p!.set, { id: setId })
  assert.deepEqual({ ...p!.pem as object }, { private_key: pem.priv, public_key: pem.pub })
  const ref = await keys.selectByField(a.pool, 'name', 'loose-ref')
  assert.equal(ref!.jwk, '{vault://env/some-jwk}')
  assert.equal(ref!.set, null)
  // the cache key column as the DAO writes it, so Admin API writes collide with imported rows
  const ck = await a.pool.query('select kid, cache_key from keys order by kid')
  assert.deepEqual(ck.rows, [
    { kid: 'k1', cache_key: `keys:k1:${setId}` },
    { kid: 'k2', cache_key: `keys:k2:${setId}` },
    { kid: 'k3', cache_key: 'keys:k3:' },
  ])
  const dup = withWrite(a.pool, NODE_ID, keys.schema, (tx) => keys.insert(tx, { kid: 'k1', set: { id: setId }, jwk }))
  await assert.rejects(dup, /UNIQUE violation/)
})

test('11-config_spec: db_export exports key_sets and keys; the export round-trips', async () => {
  const a = await db()
  const sets = getSchema('key_sets')!
  const keys = getSchema('keys')!
  const keyset = await withWrite(a.pool, NODE_ID, sets, (tx) => daoFor(sets).insert(tx, { name: 'testing keyset' }))
  const pemKey = await withWrite(a.pool, NODE_ID, keys, (tx) => daoFor(keys).insert(tx, {
    name: 'vault references', set: { id: keyset.id }, kid: '1', pem: { private_key: pem.priv, public_key: pem.pub },
  }))
  const consumer = await withWrite(a.pool, NODE_ID, getSchema('consumers')!, (tx) => daoFor(getSchema('consumers')!).insert(tx, { username: 'c' }))
  assert.ok(consumer.id)

  const exported = await exportFromDb(a.pool)
  assert.deepEqual(Object.keys(exported).sort(), ['_format_version', '_transform', 'consumers', 'key_sets', 'keys'])
  // Kong's export order: the core entities, vaults, key sets, keys
  assert.deepEqual(Object.keys(exported).slice(2), ['consumers', 'key_sets', 'keys'])
  const ks = exported.key_sets as Array<Record<string, unknown>>
  const ke = exported.keys as Array<Record<string, unknown>>
  assert.equal(ks.length, 1)
  assert.equal(ks[0]!.name, keyset.name)
  assert.equal((ke[0]!.pem as Record<string, unknown>).public_key, (pemKey.pem as Record<string, unknown>).public_key)
  assert.equal(ke[0]!.set, keyset.id)
  assert.deepEqual(Object.keys(ke[0]!), ['id', 'set', 'name', 'kid', 'jwk', 'pem', 'tags', 'created_at', 'updated_at'])

  const yaml = toYaml(exported)
  const b = await db()
  await importIntoDb(b.pool, flat(yaml), null)
  assert.equal(toYaml(await exportFromDb(b.pool)), yaml)
})

test('a file whose keys the schema refuses is refused whole: nothing is stored', async () => {
  const a = await db()
  const bad = CONFIG.replace('kid: k1', 'kid: not-k1')
  const u = unserialize(bad)
  assert.ok(u.ok)
  const r = flatten(u.table)
  assert.equal(r.ok, false)
  assert.match(JSON.stringify(r.ok ? null : r.errors), /kid in jwk\.kid must be equal to keys\.kid/)
  assert.equal((await a.pool.query('select count(*)::int as n from keys')).rows[0].n, 0)
  assert.equal((await a.pool.query('select count(*)::int as n from key_sets')).rows[0].n, 0)
})

test('the workers\' snapshot holds no keys: built from a database with keys, it has no keys tables', async () => {
  const a = await db()
  await importIntoDb(a.pool, flat(CONFIG + 'consumers:\n- username: someone\n'), null)
  const cache = new ConfigCache()
  await cache.loadEverything(a.pool)
  assert.equal(cache.has('keys'), false)
  assert.equal(cache.has('key_sets'), false)
  const built = new SnapshotBuilder().full(cache, 1)
  const s = decodeSnapshot(built.bytes)
  assert.equal((s.entities.consumers ?? []).length, 1)
  assert.equal(Object.hasOwn(s.entities, 'keys'), false)
  assert.equal(Object.hasOwn(s.entities, 'key_sets'), false)
  // a key change reaches the cache as an event for a table it does not hold: nothing to rebuild
  const gen = cache.generation
  await cache.refresh(a.pool, 'keys', entityUuid('keys', `keys:*:k1:${entityUuid('key_sets', 'ks')}`))
  assert.equal(cache.generation, gen)
})
