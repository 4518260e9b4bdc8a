/**
 * DB-less mode through the real gateway (workers, Admin API, piscina), no PostgreSQL: a node that
 * serves its declarative_config file, reads from memory, refuses writes as Kong does, and takes a
 * whole new configuration from POST /config atomically.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { startDblessGateway, type DblessGateway } from '../helpers/dbless.ts'
import { startEcho, type Upstream } from '../helpers/upstream.ts'
import { unserialize } from '../../src/declarative/parse.ts'
import { entityUuid } from '../../src/declarative/uuid.ts'

let up: Upstream
let gw: DblessGateway

const FILE = (url: string): string => `
_format_version: "3.0"
services:
- name: echo
  url: ${url}
  tags: [t1]
  routes:
  - name: open
    paths: [/open]
  - name: locked
    paths: [/locked]
    plugins:
    - name: key-auth
consumers:
- username: alice
  keyauth_credentials:
  - key: alice-key
- username: bob
  custom_id: b-1
upstreams:
- name: up1
  targets:
  - target: 10.0.0.1:8080
`

async function get (path: string): Promise<{ status: number; json: any; headers: Headers }> {
  const r = await fetch(`${gw.admin}${path}`)
  const text = await r.text()
  return { status: r.status, json: text === '' ? undefined : JSON.parse(text), headers: r.headers }
}

async function send (method: string, path: string, body?: string, type = 'application/json'): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const r = await fetch(`${gw.admin}${path}`, { method, headers: body !== undefined ? { 'content-type': type } : {}, ...(body !== undefined ? { body } : {}) })
  const text = await r.text()
  let json: any
  try { json = JSON.parse(text) } catch {}
  return { status: r.status, json, text, headers: r.headers }
}

async function proxy (path: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await fetch(`${gw.proxy}${path}`, { headers })
  await r.arrayBuffer()
  return r.status
}

before(async () => {
  up = await startEcho()
  gw = await startDblessGateway({ declarative: FILE(up.url) })
})

after(async () => {
  await gw?.stop()
  await up?.close()
})

test('a DB-less node serves its declarative_config file', async () => {
  assert.equal(await proxy('/open/x'), 200)
  assert.equal(await proxy('/locked/x'), 401)
  assert.equal(await proxy('/locked/x', { apikey: 'alice-key' }), 200)
  assert.equal(await proxy('/nowhere'), 404)
  const s = await get('/status')
  assert.equal(s.status, 200)
  assert.equal(s.json.database, undefined)
  assert.equal(s.json.configuration_hash, createHash('md5').update(FILE(up.url)).digest('hex'))
})

test('the Admin API reads the served configuration from memory', async () => {
  const svc = await get('/services/echo')
  assert.equal(svc.status, 200)
  assert.equal(svc.json.id, entityUuid('services', 'echo'))
  assert.equal(svc.json.port, up.port)
  assert.deepEqual((await get('/services')).json.data.map((s: any) => s.name), ['echo'])
  assert.deepEqual((await get(`/services/${svc.json.id}/routes`)).json.data.map((r: any) => r.name).sort(), ['locked', 'open'])
  assert.equal((await get('/routes/open/service')).json.id, svc.json.id)
  assert.equal((await get('/consumers/alice/key-auth')).json.data[0].key, 'alice-key')
  assert.equal((await get('/key-auths')).json.data[0].consumer.id, entityUuid('consumers', 'alice'))
  assert.equal((await get('/consumers?custom_id=b-1')).json.data[0].username, 'bob')
  assert.equal((await get('/upstreams/up1/targets')).json.data[0].target, '10.0.0.1:8080')
  assert.deepEqual((await get('/tags/t1')).json.data, [{ entity_name: 'services', entity_id: svc.json.id, tag: 't1' }])
  assert.equal((await get('/services/nope')).status, 404)
  // paging: ordered by id, opaque offset, Kong's next link
  const p1 = await get('/consumers?size=1')
  assert.equal(p1.json.data.length, 1)
  assert.equal(p1.json.next, `/consumers?offset=${encodeURIComponent(p1.json.offset)}&size=1`)
  const p2 = await get(p1.json.next)
  assert.equal(p2.json.data.length, 1)
  assert.equal(p2.json.next, null)
  assert.notEqual(p2.json.data[0].id, p1.json.data[0].id)
  assert.equal((await get('/consumers?offset=x')).json.message, "'x' is not a valid offset: bad base64 encoding")
  const root = await get('/')
  assert.deepEqual(root.json.plugins.enabled_in_cluster, ['key-auth'])
})

test('writes answer 405 (code 12) as Kong\'s off strategy words them', async () => {
  const unsupported = (message: string): unknown => ({ code: 12, name: 'operation unsupported', message })
  let r = await send('POST', '/routes', JSON.stringify({ paths: ['/'], service: { id: entityUuid('services', 'echo') } }))
  assert.equal(r.status, 405)
  assert.deepEqual(r.json, unsupported("cannot create 'routes' entities when not using a database"))
  r = await send('PUT', `/routes/${entityUuid('routes', 'zzz')}`, JSON.stringify({ paths: ['/'] }))
  assert.deepEqual([r.status, r.json], [405, unsupported("cannot create or update 'routes' entities when not using a database")])
  r = await send('PUT', '/services/echo', JSON.stringify({ host: 'x.test' }))
  assert.deepEqual([r.status, r.json], [405, unsupported("cannot create or update 'services' entities by 'name' when not using a database")])
  r = await send('PATCH', '/services/echo', JSON.stringify({ retries: 1 }))
  assert.deepEqual([r.status, r.json], [405, unsupported("cannot update 'services' entities by 'name' when not using a database")])
  r = await send('DELETE', `/consumers/${entityUuid('consumers', 'alice')}`)
  assert.deepEqual([r.status, r.json], [405, unsupported("cannot remove 'consumers' entities when not using a database")])
  r = await send('POST', '/consumers/alice/key-auth', JSON.stringify({ key: 'k' }))
  assert.deepEqual([r.status, r.json], [405, unsupported("cannot create 'keyauth_credentials' entities when not using a database")])
  // Kong's DAO reads first: a missing entity is 404 on PATCH and 204 on DELETE
  assert.equal((await send('PATCH', '/services/missing', JSON.stringify({ retries: 1 }))).status, 404)
  assert.equal((await send('DELETE', '/services/missing')).status, 204)
  assert.equal((await send('DELETE', '/routes')).status, 405)
  assert.deepEqual((await send('DELETE', '/routes')).json, { message: 'Method not allowed' })
  // nothing changed
  assert.equal((await get('/services/echo')).json.retries, 5)
})

test('GET /config is the served configuration as Kong\'s export', async () => {
  const r = await get('/config')
  assert.equal(r.status, 200)
  const u = unserialize(r.json.config)
  assert.ok(u.ok)
  assert.equal(u.table._format_version, '3.0')
  assert.equal(u.table._transform, false)
  const consumers = u.table.consumers as Array<Record<string, unknown>>
  assert.deepEqual(consumers.map((c) => c.username).sort(), ['alice', 'bob'])
  assert.equal((u.table.keyauth_credentials as Array<Record<string, unknown>>)[0]!.consumer, entityUuid('consumers', 'alice'))
})

test('POST /config replaces everything atomically; an invalid one changes nothing', async () => {
  const before = (await get('/status')).json.configuration_hash
  // invalid: 400 with the error tree, the old configuration still served
  let r = await send('POST', '/config', `_format_version: "3.0"\nservices:\n- name: s\n  port: -1\n`, 'text/yaml')
  assert.equal(r.status, 400)
  assert.deepEqual(r.json.fields, { services: [{ host: 'required field missing', port: 'value should be between 0 and 65535' }] })
  assert.equal(r.json.code, 14)
  r = await send('POST', '/config?flatten_errors=1', JSON.stringify({ _format_version: '3.0', services: [{ name: 's', port: -1 }] }))
  assert.equal(r.status, 400)
  assert.equal(r.json.flattened_errors.length, 1)
  assert.equal(r.json.flattened_errors[0].entity_name, 's')
  assert.equal(r.json.flattened_errors[0].errors.length, 2)
  r = await send('POST', '/config', 'bobby tables', 'text/yaml')
  assert.equal(r.json.message, 'declarative config is invalid: {error="failed parsing declarative configuration: expected an object"}')
  assert.equal((await send('POST', '/config', '{"broken', 'application/json')).json.message, 'Cannot parse JSON body')
  assert.deepEqual((await send('POST', '/config')).json, { message: 'expected a declarative configuration' })
  assert.equal((await get('/status')).json.configuration_hash, before)
  assert.equal(await proxy('/open/x'), 200)

  // valid (as a `config` form field): answered once the workers serve it
  const next = `_format_version: "3.0"\nservices:\n- name: other\n  url: ${up.url}\n  routes:\n  - name: fresh\n    paths: [/fresh]\n`
  r = await send('POST', '/config', `config=${encodeURIComponent(next)}`, 'application/x-www-form-urlencoded')
  assert.equal(r.status, 201, r.text)
  assert.equal(r.json.routes[entityUuid('routes', 'fresh')].name, 'fresh')
  assert.equal(r.json.workspaces, undefined)
  assert.equal(await proxy('/fresh/x'), 200)
  assert.equal(await proxy('/open/x'), 404)
  assert.equal((await get('/services/echo')).status, 404)
  assert.equal((await get('/routes/fresh')).json.service.id, entityUuid('services', 'other'))
  assert.equal((await get('/status')).json.configuration_hash, createHash('md5').update(next).digest('hex'))

  // ?check_hash=1: the same configuration again is 304, a change is loaded
  r = await send('POST', '/config?check_hash=1', JSON.stringify({ config: next }))
  assert.equal(r.status, 304)
  r = await send('POST', '/config?check_hash=1', next.replace('/fresh', '/fresher'), 'application/yaml')
  assert.equal(r.status, 201)
  assert.equal(await proxy('/fresher/x'), 200)

  // back to the file's configuration, as a JSON body
  const doc = unserialize(FILE(up.url))
  assert.ok(doc.ok)
  r = await send('POST', '/config', JSON.stringify(doc.table))
  assert.equal(r.status, 201)
  assert.equal(await proxy('/locked/x', { apikey: 'alice-key' }), 200)
  assert.equal(await proxy('/fresher/x'), 404)
})

test('one load at a time: another POST meanwhile is 429 with Retry-After; the Admin API keeps answering', async () => {
  const consumers = Array.from({ length: 20_000 }, (_, i) => `- username: u${i}\n  keyauth_credentials:\n  - key: k${i}\n`).join('')
  const big = `_format_version: "3.0"\nservices:\n- name: echo\n  url: ${up.url}\n  routes:\n  - name: open\n    paths: [/open]\nconsumers:\n${consumers}`
  const first = send('POST', '/config', big, 'text/yaml')
  // wait until the load is under way (the body is read and handed to the worker)
  let second: Awaited<ReturnType<typeof send>> | null = null
  const deadline = Date.now() + 20_000
  let reads = 0
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    second = await send('POST', '/config', '_format_version: "3.0"\n', 'text/yaml')
    if (second.status === 429) break
    if (second.status === 201) { second = null; break } // too late: the first one had finished
  }
  const s = await get('/services')
  if (s.status === 200) reads++
  const r1 = await first
  assert.equal(r1.status, 201, r1.text.slice(0, 300))
  assert.ok(second !== null, 'the second POST came only after the first had finished')
  assert.equal(second.status, 429)
  assert.deepEqual(second.json, { message: 'Currently loading previous configuration' })
  assert.match(second.headers.get('retry-after') ?? '', /^\d+$/)
  assert.equal(reads, 1)
  assert.equal((await get('/consumers/u19999')).json.username, 'u19999')
  assert.equal(await proxy('/open/x'), 200)
})

test('the rate limiters offer no cluster policy without a database (Kong: expected one of: local, redis)', async () => {
  const doc = (policy: string): string => `_format_version: "3.0"
plugins:
- name: rate-limiting
  config: { minute: 5, policy: ${policy} }
- name: response-ratelimiting
  config: { limits: { video: { minute: 5 } }, policy: ${policy} }
`
  const before = (await get('/status')).json.configuration_hash
  let r = await send('POST', '/config', doc('cluster'), 'text/yaml')
  assert.equal(r.status, 400, r.text)
  assert.equal(r.json.code, 14)
  assert.equal(r.json.name, 'invalid declarative configuration')
  assert.deepEqual(r.json.fields, { plugins: [{ config: { policy: 'expected one of: local, redis' } }, { config: { policy: 'expected one of: local, redis' } }] })
  r = await send('POST', '/config?flatten_errors=1', doc('cluster'), 'text/yaml')
  assert.equal(r.status, 400, r.text)
  assert.deepEqual(r.json.flattened_errors.map((e: any) => [e.entity_type, e.entity_name, e.errors]), [
    ['plugin', 'rate-limiting', [{ field: 'config.policy', type: 'field', message: 'expected one of: local, redis' }]],
    ['plugin', 'response-ratelimiting', [{ field: 'config.policy', type: 'field', message: 'expected one of: local, redis' }]],
  ])
  assert.equal((await get('/status')).json.configuration_hash, before)
  // the node's own Admin API validation agrees
  const v = await send('POST', '/schemas/plugins/validate', JSON.stringify({ name: 'rate-limiting', config: { minute: 5, policy: 'cluster' } }))
  assert.equal(v.status, 400, v.text)
  assert.deepEqual(v.json.fields, { config: { policy: 'expected one of: local, redis' } })
  // local is served; and a file with cluster does not start a node
  r = await send('POST', '/config', doc('local'), 'text/yaml')
  assert.equal(r.status, 201, r.text)
  await assert.rejects(startDblessGateway({ declarative: doc('cluster') }), (err: Error) => {
    assert.match(err.message, /declarative_config .* is invalid: 2 errors:/)
    assert.match(err.message, /in 'policy': expected one of: local, redis/)
    return true
  })
  // back to the file's configuration for the tests after this one
  const file = unserialize(FILE(up.url))
  assert.ok(file.ok)
  assert.equal((await send('POST', '/config', JSON.stringify(file.table))).status, 201)
})

test('a DB-less node refuses to start on an invalid file, listing every error', async () => {
  await assert.rejects(startDblessGateway({ declarative: '_format_version: "3.0"\nservices:\n- port: -12\nroutes:\n- paths: [/]\n  bogus: 1\n' }), (err: Error) => {
    assert.match(err.message, /declarative_config .* is invalid: 3 errors:/)
    assert.match(err.message, /in 'host': required field missing/)
    assert.match(err.message, /in 'bogus': unknown field/)
    return true
  })
})

test('DB-less with no declarative_config starts empty, with the zero hash', async () => {
  const empty = await startDblessGateway()
  try {
    const s = await fetch(`${empty.admin}/status`)
    assert.equal((await s.json() as { configuration_hash: string }).configuration_hash, '0'.repeat(32))
    const r = await fetch(`${empty.admin}/services`)
    assert.deepEqual(await r.json(), { data: [], next: null })
    const p = await fetch(`${empty.proxy}/`)
    await p.arrayBuffer()
    assert.equal(p.status, 404)
  } finally {
    await empty.stop()
  }
})
