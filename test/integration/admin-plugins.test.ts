/**
 * The plugins entity over real HTTP and PostgreSQL (ported from Kong's
 * spec/02-integration/04-admin_api/04-plugins_routes_spec.lua, 10-services_routes_spec.lua and
 * 09-routes_routes_spec.lua plugin cases): enabled names, scoping, one instance per scope, config
 * validation and defaults, PATCH deep merge (JSON and forms), schemas, and cascades.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestAdmin, type Admin } from './admin-harness.ts'

let a: Admin
let only: Admin
before(async () => {
  a = await startTestAdmin()
  only = await startTestAdmin({ plugins: 'key-auth,cors,not-a-plugin' })
})
after(async () => { await a.close(); await only.close() })

let n = 0
const uniq = (p: string): string => `${p}-${++n}`
async function serviceWithRoute (protocols = ['http', 'https']): Promise<{ service: any; route: any }> {
  const service = (await a.json('POST', '/services', { name: uniq('svc'), host: 'upstream.test' })).json
  const route = (await a.json('POST', `/services/${service.id as string}/routes`, { name: uniq('rt'), paths: ['/p'], protocols })).json
  return { service, route }
}

describe('plugin names', () => {
  test('an unknown or disabled plugin is Kong\'s "not enabled" schema violation', async () => {
    const msg = "plugin 'foo' not enabled; add it to the 'plugins' configuration property"
    assert.deepEqual((await a.json('POST', '/plugins', { name: 'foo' })).json, { code: 2, name: 'schema violation', message: `schema violation (name: ${msg})`, fields: { name: msg } })
    const off = await only.json('POST', '/plugins', { name: 'rate-limiting', config: { minute: 1 } })
    assert.equal(off.json.fields.name, "plugin 'rate-limiting' not enabled; add it to the 'plugins' configuration property")
    assert.equal((await only.json('POST', '/plugins', { name: 'key-auth' })).status, 201)
  })

  test('/plugins/enabled and GET / list the enabled plugins; enabled_in_cluster what is configured', async () => {
    assert.deepEqual((await only.json('GET', '/plugins/enabled')).json, { enabled_plugins: ['cors', 'key-auth'] })
    const all = (await a.json('GET', '/plugins/enabled')).json.enabled_plugins
    assert.equal(all.length, 33)
    assert.ok(all.includes('request-termination') && !all.includes('pre-function'))
    const root = (await only.json('GET', '/')).json.plugins
    assert.deepEqual(root.available_on_server, { cors: { version: '3.10.0', priority: 2000 }, 'key-auth': { version: '3.10.0', priority: 1250 } })
    assert.deepEqual(root.enabled_in_cluster, ['key-auth'])
  })

  test('/schemas/plugins/{name}: the plugin\'s fields and checks; 404 for unknown or disabled', async () => {
    const r = await a.json('GET', '/schemas/plugins/request-transformer')
    assert.equal(r.status, 200)
    assert.ok(Array.isArray(r.json.entity_checks))
    assert.ok(!r.text.includes('"fields":{') && !r.text.includes('"default":{}') && r.text.includes('"default":[]'))
    const acl = (await a.json('GET', '/schemas/plugins/acl')).json
    assert.deepEqual(acl.entity_checks, [{ only_one_of: ['config.allow', 'config.deny'] }, { at_least_one_of: ['config.allow', 'config.deny'] }])
    assert.deepEqual((await a.json('GET', '/schemas/plugins/foobar')).json, { message: "No plugin named 'foobar'" })
    assert.equal((await only.json('GET', '/schemas/plugins/acl')).status, 404)
    const old = (await a.json('GET', '/plugins/schema/key-auth')).json
    assert.deepEqual(old.fields.find((f: any) => 'key_names' in f).key_names.default, ['apikey'])
    assert.equal((await a.json('GET', '/plugins/schema/nope')).status, 404)
    const parent = (await a.json('GET', '/schemas/plugins')).json
    assert.deepEqual(parent.fields.find((f: any) => 'config' in f).config, { type: 'record', abstract: true })
  })

  test('/schemas/plugins/validate checks a plugin without storing it', async () => {
    assert.deepEqual((await a.json('POST', '/schemas/plugins/validate', { name: 'cors', config: { origins: ['*'] } })).json, { message: 'schema validation successful' })
    const bad = await a.json('POST', '/schemas/plugins/validate', { name: 'cors', config: { origins: ['(['] } })
    assert.equal(bad.status, 400)
    // nested error tables are rendered with pl.pretty, as kong/db/errors.lua schema_violation does
    assert.equal(bad.json.message, 'schema violation (config.origins: {\n  "\'([\' is not a valid regex"\n})')
    assert.deepEqual(bad.json.fields, { config: { origins: ["'([' is not a valid regex"] } })
    assert.equal((await only.json('POST', '/schemas/plugins/validate', { name: 'acl', config: { allow: ['x'] } })).status, 400)
    assert.deepEqual((await a.json('GET', '/plugins')).json, { data: [], next: null })
  })
})

describe('config and scope', () => {
  test('config defaults are Kong\'s, nested records included, with explicit nulls', async () => {
    const r = await a.json('POST', '/plugins', { name: 'rate-limiting', config: { minute: 5 }, instance_name: uniq('rl') })
    assert.equal(r.status, 201)
    const cfg = r.json.config
    assert.equal(cfg.policy, 'local')
    assert.equal(cfg.limit_by, 'consumer')
    assert.equal(cfg.fault_tolerant, true)
    assert.equal(cfg.sync_rate, -1)
    assert.equal(cfg.error_code, 429)
    assert.equal(cfg.hour, null)
    assert.deepEqual(cfg.redis, { host: null, port: 6379, timeout: 2000, username: null, password: null, database: 0, ssl: false, ssl_verify: false, server_name: null })
    // deprecated shorthands show the values they map to (schema/init.lua select + replaced_with)
    assert.equal(cfg.redis_port, 6379)
    assert.equal(cfg.redis_host, null)
    assert.deepEqual(r.json.protocols, ['grpc', 'grpcs', 'http', 'https'])
    const ip = await a.json('POST', '/plugins', { name: 'ip-restriction', config: { allow: ['10.0.0.0/8'] } })
    assert.deepEqual(ip.json.protocols, ['http', 'https', 'tcp', 'tls', 'grpc', 'grpcs'])
    assert.equal(ip.json.config.status, null)
    await a.json('DELETE', `/plugins/${r.json.id as string}`)
    await a.json('DELETE', `/plugins/${ip.json.id as string}`)
  })

  test('config errors name the nested field; entity checks of the plugin run', async () => {
    const e1 = await a.json('POST', '/plugins', { name: 'key-auth', config: { key_names: ['bad name'], foo: 1 } })
    assert.deepEqual(e1.json.fields, { config: { key_names: ["bad header name 'bad name', allowed characters are A-Z, a-z, 0-9, '_', and '-'"], foo: 'unknown field' } })
    const e2 = await a.json('POST', '/plugins', { name: 'acl', config: { allow: ['a'], deny: ['b'] } })
    assert.equal(e2.json.message, "schema violation (exactly one of these fields must be non-empty: 'config.allow', 'config.deny')")
    const e3 = await a.json('POST', '/plugins', { name: 'rate-limiting', config: {} })
    assert.match(e3.json.message, /at least one of these fields must be non-empty: 'config.second', 'config.minute'/)
    const e4 = await a.json('POST', '/plugins', { name: 'key-auth', config: 'bar' })
    assert.deepEqual(e4.json.fields, { config: 'expected a record' })
    const e5 = await a.json('POST', '/plugins', { name: 'request-termination', config: { message: 'x', body: 'y' } })
    assert.deepEqual(e5.json.fields, { config: 'message cannot be used with content_type or body' })
    const e6 = await a.json('POST', '/plugins', { name: 'key-auth', protocols: ['tcp'] })
    assert.deepEqual(e6.json.fields, { protocols: ['expected one of: grpc, grpcs, http, https'] })
  })

  test('no_consumer plugins refuse a consumer: "value must be null"', async () => {
    const c = (await a.json('POST', '/consumers', { username: uniq('c') })).json
    for (const name of ['key-auth', 'basic-auth', 'jwt', 'hmac-auth', 'cors', 'bot-detection']) {
      const r = await a.json('POST', `/consumers/${c.id as string}/plugins`, { name })
      assert.deepEqual(r.json.fields, { consumer: 'value must be null' }, name)
    }
    const acl = await a.json('POST', '/plugins', { name: 'acl', consumer: { id: c.id }, config: { allow: ['x'] } })
    assert.deepEqual(acl.json.fields, { consumer: 'value must be null' })
  })

  test('one instance per (name, route, service, consumer); other scopes are independent', async () => {
    const { service, route } = await serviceWithRoute()
    const s1 = await a.json('POST', `/services/${service.name as string}/plugins`, { name: 'basic-auth' })
    assert.equal(s1.status, 201)
    const dup = await a.json('POST', '/plugins', { name: 'basic-auth', service: { name: service.name } })
    assert.equal(dup.status, 409)
    assert.equal(dup.json.message, `UNIQUE violation detected on '{consumer=null,name="basic-auth",route=null,service={id="${service.id as string}"}}'`)
    assert.equal((await a.json('POST', `/routes/${route.id as string}/plugins`, { name: 'basic-auth' })).status, 201)
    assert.equal((await a.json('POST', '/plugins', { name: 'basic-auth', route: { id: route.id }, service: { id: service.id } })).status, 201)
    const list = (await a.json('GET', `/services/${service.id as string}/plugins`)).json.data
    assert.equal(list.length, 2)
    assert.equal((await a.json('GET', `/routes/${route.name as string}/plugins/${s1.json.id as string}`)).status, 404)
    assert.equal((await a.json('GET', `/services/${service.id as string}/plugins/${s1.json.id as string}`)).json.id, s1.json.id)
  })

  test('a plugin must share a protocol with its route, or with one route of its service', async () => {
    const { service, route } = await serviceWithRoute(['https'])
    const r = await a.json('POST', `/routes/${route.id as string}/plugins`, { name: 'cors', protocols: ['http'] })
    assert.deepEqual(r.json.fields, { protocols: "must match the associated route's protocols" })
    const s = await a.json('POST', `/services/${service.id as string}/plugins`, { name: 'cors', protocols: ['http'] })
    assert.deepEqual(s.json.fields, { protocols: "must match the protocols of at least one route pointing to this Plugin's service" })
  })

  test('an unresolvable or missing foreign entity is Kong\'s error', async () => {
    const r = await a.json('POST', '/plugins', { name: 'cors', service: { name: 'nope' } })
    assert.equal(r.status, 400)
    assert.equal(r.json.code, 13)
    const f = await a.json('POST', '/plugins', { name: 'cors', route: { id: '00000000-0000-4000-8000-000000000000' } })
    assert.equal(f.json.code, 4)
    assert.equal(f.json.message, "the foreign key '{id=\"00000000-0000-4000-8000-000000000000\"}' does not reference an existing 'routes' entity.")
  })
})

describe('updates', () => {
  test('PATCH merges config deeply and replaces arrays; invalid input changes nothing', async () => {
    const p = (await a.json('POST', '/plugins', { name: 'cors', instance_name: uniq('c'), config: { origins: ['a.test'], max_age: 10 } })).json
    const r = await a.json('PATCH', `/plugins/${p.instance_name as string}`, { config: { credentials: true, methods: ['GET'] } })
    assert.equal(r.status, 200)
    assert.deepEqual([r.json.config.origins, r.json.config.max_age, r.json.config.credentials, r.json.config.methods], [['a.test'], 10, true, ['GET']])
    const before = (await a.json('GET', `/plugins/${p.id as string}`)).json
    assert.deepEqual((await a.json('PATCH', `/plugins/${p.id as string}`, { foo: 'bar' })).json.fields, { foo: 'unknown field' })
    assert.deepEqual((await a.json('PATCH', `/plugins/${p.id as string}`, { config: 'bar' })).json.fields, { config: 'expected a record' })
    assert.deepEqual((await a.json('GET', `/plugins/${p.id as string}`)).json, before)
    const whole = await a.json('PATCH', `/plugins/${p.id as string}`, { ...before, enabled: false, created_at: undefined })
    assert.equal(whole.json.enabled, false)
    assert.equal((await a.json('PATCH', '/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c', { enabled: false })).status, 404)
  })

  test('PATCH with a form body types config.* from the stored plugin\'s schema', async () => {
    const p = (await a.json('POST', '/plugins', { name: 'rate-limiting', config: { minute: 5 } })).json
    const r = await a.form('PATCH', `/plugins/${p.id as string}`, 'config.hour=100&config.hide_client_headers=true&config.redis_port=7000')
    assert.equal(r.status, 200, r.text)
    assert.deepEqual([r.json.config.minute, r.json.config.hour, r.json.config.hide_client_headers, r.json.config.redis.port], [5, 100, true, 7000])
    const mp = await a.multipart('PATCH', `/plugins/${p.id as string}`, [['config.second', '1']])
    assert.equal(mp.json.config.second, 1)
    assert.equal((await a.form('PATCH', '/plugins/f4aecadc-05c7-11e6-8d41-1f3b3d5fa15c', 'config.hour=1')).status, 404)
    await a.json('DELETE', `/plugins/${p.id as string}`)
  })

  test('PUT by instance_name creates, then replaces keeping the id; PATCH can clear a scope', async () => {
    const { service } = await serviceWithRoute()
    const name = uniq('inst')
    const c1 = await a.json('PUT', `/plugins/${name}`, { name: 'key-auth', service: { id: service.id }, config: { key_names: ['k1'] } })
    assert.equal(c1.status, 200)
    assert.equal(c1.json.instance_name, name)
    const c2 = await a.json('PUT', `/plugins/${name}`, { name: 'key-auth', service: { id: service.id }, config: { key_names: ['k2'] } })
    assert.equal(c2.json.id, c1.json.id)
    assert.deepEqual(c2.json.config.key_names, ['k2'])
    const cleared = await a.json('PATCH', `/plugins/${c1.json.id as string}`, { service: null })
    assert.equal(cleared.json.service, null)
    assert.equal((await a.json('DELETE', `/plugins/${name}`)).status, 204)
    assert.equal((await a.json('GET', `/plugins/${name}`)).status, 404)
    assert.equal((await a.json('DELETE', '/plugins/not-found')).status, 204)
  })
})

describe('cascades', () => {
  test('deleting a route or a service deletes its plugins with their events; a used service stays a 400', async () => {
    const { service, route } = await serviceWithRoute()
    const rp = (await a.json('POST', `/routes/${route.id as string}/plugins`, { name: 'cors' })).json
    const sp = (await a.json('POST', `/services/${service.id as string}/plugins`, { name: 'cors' })).json
    assert.equal((await a.json('DELETE', `/services/${service.id as string}`)).status, 400)
    assert.equal((await a.json('GET', `/plugins/${sp.id as string}`)).status, 200, 'the refused delete removed nothing')
    const seq = Number((await a.db.pool.query('select coalesce(max(seq), 0) as s from cluster_events')).rows[0].s)
    assert.equal((await a.json('DELETE', `/routes/${route.id as string}`)).status, 204)
    assert.equal((await a.json('DELETE', `/services/${service.id as string}`)).status, 204)
    const ev = (await a.db.pool.query('select data from cluster_events where seq > $1 order by seq', [seq])).rows.map((r) => JSON.parse(r.data))
    assert.deepEqual(ev, [
      { entity: 'routes', op: 'delete', id: route.id },
      { entity: 'plugins', op: 'delete', id: rp.id },
      { entity: 'services', op: 'delete', id: service.id },
      { entity: 'plugins', op: 'delete', id: sp.id },
    ])
  })
})
