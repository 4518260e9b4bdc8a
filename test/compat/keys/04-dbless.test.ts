/**
 * Key sets and keys on a DB-less node (a real DB-less gateway: piscina loader, worker threads):
 * the Admin API reads them from the loaded kong.yml (`/keys`, `/key-sets`, by id or name, nested,
 * paged), writes answer 405 as every DB-less write does, `GET /config` exports them, `POST /config`
 * replaces them, and the workers' snapshot carries none of them.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { startDblessGateway, type DblessGateway } from '../../helpers/dbless.ts'
import { adminCall } from '../../helpers/admin-api.ts'
import { entityUuid } from '../../../src/declarative/uuid.ts'
import { decodeSnapshot } from '../../../src/common/codec.ts'
import { unserialize } from '../../../src/declarative/parse.ts'
import { runLoad } from '../../../src/declarative/load.ts'
import { ecJwk, pemPair } from './fixtures.ts'

let gw: DblessGateway
const pem = pemPair()
const jwk = JSON.stringify(ecJwk('k1'))
const indent = (s: string, n: number): string => s.trim().split('\n').map((l, i) => (i === 0 ? '' : ' '.repeat(n)) + l).join('\n')

const KONG_YML = `_format_version: "3.0"
key_sets:
- name: ks
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
- kid: k3
  name: ref-key
  jwk: "{vault://env/dbless-jwk}"
`

const call = (method: string, path: string, body?: unknown): ReturnType<typeof adminCall> => adminCall(gw.admin, method, path, body)

before(async () => { gw = await startDblessGateway({ declarative: KONG_YML }) })
after(async () => { await gw.stop() })

test('the Admin API lists and reads keys and key sets of the loaded file', async () => {
  const setId = entityUuid('key_sets', 'ks')
  const sets = await call('GET', '/key-sets')
  assert.equal(sets.status, 200)
  assert.deepEqual(sets.json.data.map((s: { id: string; name: string }) => [s.id, s.name]), [[setId, 'ks']])
  const keys = await call('GET', '/keys')
  assert.deepEqual(keys.json.data.map((k: { kid: string }) => k.kid).sort(), ['k1', 'k2', 'k3'])
  const byName = await call('GET', '/keys/pem-key')
  assert.equal(byName.status, 200)
  assert.deepEqual(byName.json.set, { id: setId })
  assert.deepEqual(byName.json.pem, { private_key: null, public_key: pem.pub })
  assert.equal(byName.json.jwk, null)
  assert.deepEqual(Object.keys(byName.json).sort(), ['created_at', 'id', 'jwk', 'kid', 'name', 'pem', 'set', 'tags', 'updated_at'])
  // references as configured
  assert.equal((await call('GET', '/keys/ref-key')).json.jwk, '{vault://env/dbless-jwk}')
  const nested = await call('GET', '/key-sets/ks/keys')
  assert.deepEqual(nested.json.data.map((k: { kid: string }) => k.kid).sort(), ['k1', 'k2'])
  assert.equal((await call('GET', '/key-sets/ks/keys/jwk-key')).json.jwk, jwk)
  assert.equal((await call('GET', '/key-sets/ks/keys/ref-key')).status, 404)
  const paged = await call('GET', '/keys?size=2')
  assert.equal(paged.json.data.length, 2)
  assert.equal(typeof paged.json.offset, 'string')
})

test('writes answer 405 as Kong\'s DB-less Admin API does', async () => {
  const r = await call('POST', '/keys', { kid: 'x', jwk: JSON.stringify(ecJwk('x')) })
  assert.equal(r.status, 405)
  assert.equal(r.json.code, 12)
  assert.equal((await call('DELETE', '/key-sets/ks')).status, 405)
})

test('GET /config exports key sets and keys; POST /config replaces them', async () => {
  const c = await call('GET', '/config')
  assert.equal(c.status, 200)
  const u = unserialize(c.json.config)
  assert.ok(u.ok)
  const t = u.table as Record<string, Array<Record<string, unknown>>>
  assert.deepEqual(t.key_sets!.map((s) => s.name), ['ks'])
  assert.deepEqual(t.keys!.map((k) => k.kid).sort(), ['k1', 'k2', 'k3'])
  assert.equal(t.keys!.find((k) => k.kid === 'k2')!.set, entityUuid('key_sets', 'ks'))

  const next = await call('POST', '/config', { _format_version: '3.0', key_sets: [{ name: 'other' }] })
  assert.equal(next.status, 201, JSON.stringify(next.json))
  assert.deepEqual((await call('GET', '/keys')).json.data, [])
  assert.deepEqual((await call('GET', '/key-sets')).json.data.map((s: { name: string }) => s.name), ['other'])
})

test('the loader puts keys beside the snapshot, not in it', () => {
  const out = runLoad({ text: KONG_YML, version: 1 })
  assert.ok(out.ok)
  const s = decodeSnapshot(out.bytes)
  assert.equal(Object.hasOwn(s.entities, 'keys'), false)
  assert.equal(Object.hasOwn(s.entities, 'key_sets'), false)
  assert.deepEqual(out.adminTables.keys!.map((k) => k.kid).sort(), ['k1', 'k2', 'k3'])
  assert.equal(out.adminTables.key_sets!.length, 1)
})
