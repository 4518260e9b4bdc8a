/**
 * Kong's spec/02-integration/04-admin_api/19-vaults_spec.lua (the `vaults` entity through the
 * Admin API: /vaults and /vaults/{id or prefix}), plus the schema's field checks
 * (kong/db/schema/entities/vaults.lua with the env vault's subschema) and the certificate cases
 * of spec/02-integration/13-vaults/01-vault_spec.lua that the Admin API shows: references are
 * stored and returned as given.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { startTestAdmin, type Admin } from '../../integration/admin-harness.ts'

let a: Admin
const vaults: any[] = [] // eslint-disable-line @typescript-eslint/no-explicit-any

before(async () => {
  a = await startTestAdmin()
  for (let i = 1; i <= 3; i++) {
    const r = await a.json('PUT', `/vaults/env-${i}`, { name: 'env' })
    assert.equal(r.status, 200, r.text)
    vaults.push(r.json)
  }
})
after(async () => { await a.close() })

describe('/vaults', () => {
  test('GET retrieves all vaults configured', async () => {
    const r = await a.json('GET', '/vaults')
    assert.equal(r.status, 200)
    assert.equal(r.json.data.length, 3)
    assert.equal(r.json.next, null)
  })

  test('a vault as created: Kong\'s fields, config null when not given', async () => {
    const v = vaults[0]
    assert.deepEqual(Object.keys(v).sort(), ['config', 'created_at', 'description', 'id', 'name', 'prefix', 'tags', 'updated_at'])
    assert.equal(v.prefix, 'env-1')
    assert.equal(v.name, 'env')
    assert.equal(v.config, null)
    assert.equal(v.description, null)
  })

  test('returns 405 on invalid method', async () => {
    for (const m of ['DELETE', 'PATCH']) {
      const r = await a.json(m, '/vaults', {})
      assert.equal(r.status, 405)
      assert.deepEqual(r.json, { message: 'Method not allowed' })
    }
  })

  test('POST creates a vault; the prefix is unique', async () => {
    const r = await a.json('POST', '/vaults', { name: 'env', prefix: 'post-env', description: 'd', config: { prefix: 'APP_' }, tags: ['t1'] })
    assert.equal(r.status, 201, r.text)
    assert.deepEqual(r.json.config, { prefix: 'APP_' })
    const dup = await a.json('POST', '/vaults', { name: 'env', prefix: 'post-env' })
    assert.equal(dup.status, 409)
    assert.deepEqual(dup.json, {
      code: 5,
      name: 'unique constraint violation',
      message: "UNIQUE violation detected on '{prefix=\"post-env\"}'",
      fields: { prefix: 'post-env' },
    })
    const del = await a.json('DELETE', '/vaults/post-env')
    assert.equal(del.status, 204)
  })
})

describe('/vaults/{vault} GET', () => {
  test('retrieves a vault by id', async () => {
    const r = await a.json('GET', `/vaults/${vaults[0].id}`)
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, vaults[0])
  })
  test('retrieves a vault by prefix', async () => {
    const r = await a.json('GET', `/vaults/${vaults[0].prefix}`)
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, vaults[0])
  })
  test('returns 404 if not found by id', async () => {
    assert.equal((await a.json('GET', '/vaults/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c')).status, 404)
  })
  test('returns 404 if not found by prefix', async () => {
    assert.equal((await a.json('GET', '/vaults/not-found')).status, 404)
  })
})

describe('/vaults/{vault} PUT', () => {
  test('can create a vault by id', async () => {
    const r = await a.json('PUT', `/vaults/${randomUUID()}`, { name: 'env', prefix: 'put-env-id' })
    assert.equal(r.status, 200, r.text)
  })
  test('can create a vault by prefix', async () => {
    const r = await a.json('PUT', '/vaults/put-env-prefix', { name: 'env' })
    assert.equal(r.status, 200, r.text)
    assert.equal(r.json.prefix, 'put-env-prefix')
  })
  test('can create a vault by prefix with config (underscore)', async () => {
    const r = await a.json('PUT', '/vaults/put-env-prefix', { name: 'env', config: { prefix: 'secrets_' } })
    assert.equal(r.status, 200, r.text)
    assert.deepEqual(r.json.config, { prefix: 'secrets_' })
  })
  test('can create a vault by prefix with config (dash)', async () => {
    const r = await a.json('PUT', '/vaults/put-env-prefix', { name: 'env', config: { prefix: 'secrets-' } })
    assert.equal(r.status, 200, r.text)
    assert.deepEqual(r.json.config, { prefix: 'secrets-' })
  })
  test('handles invalid input by id', async () => {
    const r = await a.json('PUT', `/vaults/${randomUUID()}`, { name: 'env', prefix: 'env' })
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, {
      name: 'schema violation',
      code: 2,
      message: 'schema violation (prefix: must not be one of: env)',
      fields: { prefix: 'must not be one of: env' },
    })
  })
  test('handles invalid input by prefix', async () => {
    const r = await a.json('PUT', '/vaults/env', { name: 'env' })
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, { name: 'invalid unique prefix', code: 10, message: 'must not be one of: env' })
  })
})

describe('/vaults/{vault} PATCH', () => {
  test('updates a vault by id', async () => {
    const r = await a.json('PATCH', `/vaults/${vaults[0].id}`, { config: { prefix: 'SSL_' } })
    assert.equal(r.status, 200, r.text)
    assert.equal(r.json.config.prefix, 'SSL_')
    vaults[0] = r.json
  })
  test('updates a vault by prefix', async () => {
    const r = await a.json('PATCH', '/vaults/env-1', { config: { prefix: 'CERT_' } })
    assert.equal(r.status, 200, r.text)
    assert.equal(r.json.config.prefix, 'CERT_')
    vaults[0] = r.json
  })
  const violation = {
    name: 'schema violation',
    code: 2,
    message: 'schema violation (prefix: must not be one of: env)',
    fields: { prefix: 'must not be one of: env' },
  }
  test('handles invalid input by id', async () => {
    const r = await a.json('PATCH', `/vaults/${vaults[0].id}`, { prefix: 'env' })
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, violation)
  })
  test('handles invalid input by prefix', async () => {
    const r = await a.json('PATCH', '/vaults/env-1', { prefix: 'env' })
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, violation)
  })
  test('returns 404 if not found', async () => {
    const r = await a.json('PATCH', '/vaults/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c', { prefix: 'env' })
    assert.equal(r.status, 404)
  })
})

describe('/vaults/{vault} DELETE', () => {
  test('deletes by id', async () => {
    assert.equal((await a.json('GET', `/vaults/${vaults[2].id}`)).status, 200)
    assert.equal((await a.json('DELETE', `/vaults/${vaults[2].id}`)).status, 204)
    assert.equal((await a.json('GET', `/vaults/${vaults[2].id}`)).status, 404)
  })
  test('deletes by prefix', async () => {
    assert.equal((await a.json('GET', '/vaults/env-2')).status, 200)
    assert.equal((await a.json('DELETE', '/vaults/env-2')).status, 204)
    assert.equal((await a.json('GET', '/vaults/env-2')).status, 404)
  })
  test('returns 204 if not found', async () => {
    assert.equal((await a.json('DELETE', '/vaults/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c')).status, 204)
  })
})

describe('schema checks', () => {
  const fieldsOf = async (body: unknown): Promise<unknown> => {
    const r = await a.json('POST', '/vaults', body)
    assert.equal(r.status, 400, r.text)
    return r.json.fields
  }
  test('prefix: required, a host name part, not a vault name', async () => {
    assert.deepEqual(await fieldsOf({ name: 'env' }), { prefix: 'required field missing' })
    assert.deepEqual(await fieldsOf({ name: 'env', prefix: 'Env-x' }), { prefix: 'invalid value: Env-x' })
    // Lua's `-` after a class is a lazy repetition: `[a-z][a-z%d-]-[a-z%d]+` takes `ab`, not `a` or `a-`
    assert.deepEqual(await fieldsOf({ name: 'env', prefix: 'a' }), { prefix: 'invalid value: a' })
    assert.deepEqual(await fieldsOf({ name: 'env', prefix: 'a-' }), { prefix: 'invalid value: a-' })
    assert.deepEqual(await fieldsOf({ name: 'env', prefix: 'a_b-c' }), { prefix: 'invalid value: a_b-c' })
  })
  test('name: required, an installed vault', async () => {
    assert.deepEqual(await fieldsOf({ prefix: 'my-vault' }), { name: 'required field missing' })
    assert.deepEqual(await fieldsOf({ prefix: 'my-vault', name: 'hcv' }), { name: "vault 'hcv' is not installed" })
  })
  test('config: the env vault\'s record', async () => {
    assert.deepEqual(await fieldsOf({ prefix: 'my-vault', name: 'env', config: { prefix: '1a' } }), { config: { prefix: 'invalid value: 1a' } })
    assert.deepEqual(await fieldsOf({ prefix: 'my-vault', name: 'env', config: { other: 1 } }), { config: { other: 'unknown field' } })
  })
  test('a refused write leaves no row behind; two-letter prefixes are fine', async () => {
    const r = await a.json('GET', '/vaults?size=1000')
    assert.ok(!r.json.data.some((v: { prefix: string }) => v.prefix === 'my-vault'))
    const ab = await a.json('POST', '/vaults', { name: 'env', prefix: 'ab' })
    assert.equal(ab.status, 201, ab.text)
  })
  test('/schemas/vaults describes the entity; /schemas/vaults/validate checks a vault', async () => {
    const s = await a.json('GET', '/schemas/vaults')
    assert.equal(s.status, 200)
    const prefix = s.json.fields.find((f: Record<string, unknown>) => Object.hasOwn(f, 'prefix')).prefix
    assert.equal(prefix.match, '^[a-z][a-z%d-]-[a-z%d]+$')
    assert.deepEqual(prefix.not_one_of, ['env'])
    const ok = await a.json('POST', '/schemas/vaults/validate', { name: 'env', prefix: 'my-vault' })
    assert.equal(ok.status, 200, ok.text)
    const bad = await a.json('POST', '/schemas/vaults/validate', { name: 'env', prefix: 'env' })
    assert.equal(bad.status, 400)
    assert.deepEqual(bad.json.fields, { prefix: 'must not be one of: env' })
  })
})

// spec/02-integration/04-admin_api/02-kong_routes_spec.lua, describe("/schemas/vaults/:name")
describe('/schemas/vaults/{name}', () => {
  test('returns the schema of the env vault', async () => {
    const r = await a.json('GET', '/schemas/vaults/env')
    assert.equal(r.status, 200, r.text)
    assert.ok(Array.isArray(r.json.fields), r.text)
    const config = r.json.fields.find((f: Record<string, unknown>) => 'config' in f)?.config
    assert.equal(config?.type, 'record', r.text)
    assert.ok(config.fields.some((f: Record<string, unknown>) => 'prefix' in f), r.text)
  })

  test('404 on a vault that is not installed', async () => {
    const r = await a.json('GET', '/schemas/vaults/not-present')
    assert.equal(r.status, 404)
    assert.deepEqual(r.json, { message: "No vault named 'not-present'" })
  })

  test('/schemas/vaults/validate is not taken for a vault name', async () => {
    const r = await a.json('POST', '/schemas/vaults/validate', {})
    assert.equal(r.status, 400, r.text)
    assert.equal(r.json.message, 'schema violation (name: required field missing)')
  })
})
