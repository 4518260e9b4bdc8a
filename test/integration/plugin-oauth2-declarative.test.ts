/**
 * oauth2 credentials in kong.yml: nested under their consumer, `hash_secret` secrets hashed on
 * import (Kong's transformation, unless `_transform: false`), exported as stored, and an
 * export -> import round trip that gives back the same file; tokens are exported, authorization
 * codes are not (Kong marks them `db_export = false`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { flat, testDatabases } from '../helpers/declarative.ts'
import { flatten } from '../../src/declarative/flatten.ts'
import { unserialize } from '../../src/declarative/parse.ts'
import { importIntoDb } from '../../src/declarative/db-import.ts'
import { exportFromDb } from '../../src/declarative/db-export.ts'
import { toYaml } from '../../src/declarative/export.ts'
import { verifySecret } from '../../src/plugins/oauth2/secret.ts'
import { daoFor, withWrite } from '../../src/db/dao/index.ts'
import { getSchema } from '../../src/db/schema/registry.ts'

const NODE_ID = '00000000-0000-4000-8000-000000000001'
const db = testDatabases()

const CONFIG = `
_format_version: "3.0"
consumers:
- username: bob
  oauth2_credentials:
  - name: plain app
    client_id: plain-client
    client_secret: plain-secret
    redirect_uris: [http://app.test/cb]
  - name: hashed app
    client_id: hashed-client
    client_secret: hashed-secret
    hash_secret: true
    client_type: public
    tags: [t1]
`

test('kong.yml: oauth2_credentials import with hashing, export as stored, round trip', async () => {
  const a = await db()
  await importIntoDb(a.pool, flat(CONFIG), null)
  const rows = (await a.pool.query('select client_id, client_secret, hash_secret, client_type, redirect_uris, name from oauth2_credentials order by client_id')).rows
  assert.equal(rows.length, 2)
  assert.equal(rows[0].client_id, 'hashed-client')
  assert.equal(rows[0].client_type, 'public')
  assert.equal(await verifySecret('hashed-secret', rows[0].client_secret), true)
  assert.deepEqual({ ...rows[1] }, { client_id: 'plain-client', client_secret: 'plain-secret', hash_secret: false, client_type: 'confidential', redirect_uris: ['http://app.test/cb'], name: 'plain app' })

  const exported = await exportFromDb(a.pool)
  const creds = exported.oauth2_credentials as Array<Record<string, unknown>>
  assert.equal(creds.length, 2)
  assert.equal(creds.find((c) => c.client_id === 'hashed-client')!.client_secret, rows[0].client_secret)
  const first = toYaml(exported)
  const b = await db()
  await importIntoDb(b.pool, flat(first), null) // _transform: false: the hash is kept as is
  assert.equal(toYaml(await exportFromDb(b.pool)), first)
})

test('kong.yml: an invalid redirect_uri is refused with the entity error', () => {
  const u = unserialize(CONFIG.replace('http://app.test/cb', 'not-valid'))
  assert.ok(u.ok)
  const r = flatten(u.table)
  assert.equal(r.ok, false)
  assert.match(JSON.stringify(r.ok ? null : r.errors), /cannot parse 'not-valid'/)
})

test('db_export: oauth2 tokens are exported with their ttl, authorization codes are not (Kong: db_export = false)', async () => {
  const a = await db()
  await importIntoDb(a.pool, flat(CONFIG), null)
  const cred = (await a.pool.query("select id from oauth2_credentials where client_id = 'plain-client'")).rows[0] as { id: string }
  const codes = getSchema('oauth2_authorization_codes')!
  const tokens = getSchema('oauth2_tokens')!
  await withWrite(a.pool, NODE_ID, codes, (tx) => daoFor(codes).insert(tx, { credential: { id: cred.id }, authenticated_userid: 'u1' }, { ttl: 300 }))
  const token = await withWrite(a.pool, NODE_ID, tokens, (tx) => daoFor(tokens).insert(tx, { credential: { id: cred.id }, expires_in: 7200, access_token: 'at-1' }, { ttl: 7200 }))
  assert.equal((await a.pool.query('select count(*)::int as n from oauth2_authorization_codes')).rows[0].n, 1)

  const exported = await exportFromDb(a.pool)
  assert.equal(Object.hasOwn(exported, 'oauth2_authorization_codes'), false)
  const rows = exported.oauth2_tokens as Array<Record<string, unknown>>
  assert.equal(rows.length, 1)
  assert.equal(rows[0]!.id, token.id)
  assert.equal(rows[0]!.access_token, 'at-1')
  assert.equal(typeof rows[0]!.ttl, 'number')
  assert.doesNotMatch(toYaml(exported), /oauth2_authorization_codes/)

  // the export imports into an empty database, token included, and exports the same
  const b = await db()
  await importIntoDb(b.pool, flat(toYaml(exported)), null)
  assert.equal((await b.pool.query('select count(*)::int as n from oauth2_tokens')).rows[0].n, 1)
  assert.equal(toYaml(await exportFromDb(b.pool)), toYaml(exported))
})
