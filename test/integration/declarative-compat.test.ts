/**
 * Kong's `/config` cases (spec/02-integration/04-admin_api/15-off_spec.lua, `describe("/config")`)
 * against a real DB-less node: every way a configuration reaches POST /config (JSON body, YAML
 * body, a `config` string in JSON, form-urlencoded or multipart), `?check_hash=1`, the 400 bodies
 * of bad input with their exact messages, the 201 body and GET /config.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startDblessGateway, type DblessGateway } from '../helpers/dbless.ts'
import { makeCert } from '../helpers/tls.ts'
import { parse as parseYaml } from 'yaml'

let gw: DblessGateway

before(async () => { gw = await startDblessGateway() })
after(async () => { await gw?.stop() })

interface Res { status: number; json: any; text: string }

async function post (path: string, body: string | URLSearchParams | FormData | undefined, type?: string): Promise<Res> {
  const headers: Record<string, string> = type !== undefined ? { 'content-type': type } : {}
  const r = await fetch(`${gw.admin}${path}`, { method: 'POST', headers, ...(body !== undefined ? { body } : {}) })
  const text = await r.text()
  let json: any
  try { json = JSON.parse(text) } catch {}
  return { status: r.status, json, text }
}

const postJson = async (v: unknown, path = '/config'): Promise<Res> => await post(path, JSON.stringify(v), 'application/json')
const unindent = (s: string): string => {
  const lines = s.replace(/^\n/, '').split('\n')
  const n = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length))
  return lines.map((l) => l.slice(n)).join('\n')
}

test('accepts configuration as a JSON body, a YAML body, and a JSON or YAML string under `config`', async () => {
  let r = await postJson({ _format_version: '1.1', consumers: [{ username: 'bobby_in_json_body' }] })
  assert.equal(r.status, 201)
  r = await post('/config', '_format_version: "1.1"\nconsumers:\n  - username: "bobby_in_yaml_body"\n', 'application/yaml')
  assert.equal(r.status, 201)
  assert.equal(Object.values(r.json.consumers as Record<string, any>)[0].username, 'bobby_in_yaml_body')
  r = await postJson({ config: '{ "_format_version" : "1.1", "consumers" : [ { "username" : "bobby_in_json_under_config" } ] }' })
  assert.equal(r.status, 201)
  r = await postJson({ config: '_format_version: "1.1"\nconsumers:\n  - username: "bobby_in_yaml_under_config"\n' })
  assert.equal(r.status, 201)
  assert.equal(Object.values(r.json.consumers as Record<string, any>)[0].username, 'bobby_in_yaml_under_config')
})

test('a `config` field of a form-urlencoded or multipart body', async () => {
  const yml = '_format_version: "3.0"\nconsumers:\n- username: form_user\n'
  let r = await post('/config', new URLSearchParams({ config: yml }), 'application/x-www-form-urlencoded')
  assert.equal(r.status, 201)
  assert.equal(Object.values(r.json.consumers as Record<string, any>)[0].username, 'form_user')
  const fd = new FormData()
  fd.append('config', new Blob([yml.replace('form_user', 'multipart_user')]), 'kong.yml')
  r = await post('/config', fd)
  assert.equal(r.status, 201)
  assert.equal(Object.values(r.json.consumers as Record<string, any>)[0].username, 'multipart_user')
})

test('accepts configuration containing null as a YAML string', async () => {
  const r = await postJson({ config: '_format_version: "1.1"\nroutes:\n- paths:\n  - "/"\n  service: null\n' })
  assert.equal(r.status, 201)
  const route = Object.values(r.json.routes as Record<string, any>)[0]
  assert.equal(route.service, null)
})

test('the 201 body: entities by id, no workspace fields, nested foreign keys filled', async () => {
  const r = await postJson({
    config: unindent(`
      _format_version: "1.1"
      services:
      - name: my-service
        id: 0855b320-0dd2-547d-891d-601e9b38647f
        url: https://example.com
        plugins:
        - name: file-log
          id: 0611a5a9-de73-5a2d-a4e6-6a38ad4c3cb2
          config:
            path: /tmp/file.log
        - name: key-auth
          id: 661199ff-aa1c-5498-982c-d57a4bd6e48b
        routes:
        - name: my-route
          id: 481a9539-f49c-51b6-b2e2-fe99ee68866c
          paths:
          - /
      consumers:
      - username: my-user
        id: 4b1b701d-de2b-5588-9aa2-3b97061d9f52
        keyauth_credentials:
        - key: my-key
          id: 487ab43c-b2c9-51ec-8da5-367586ea2b61
    `),
  })
  assert.equal(r.status, 201)
  const e = r.json
  assert.equal(e.workspaces, undefined)
  assert.equal(e.consumers['4b1b701d-de2b-5588-9aa2-3b97061d9f52'].ws_id, undefined)
  assert.equal(e.keyauth_credentials['487ab43c-b2c9-51ec-8da5-367586ea2b61'].ws_id, undefined)
  assert.equal(e.plugins['0611a5a9-de73-5a2d-a4e6-6a38ad4c3cb2'].ws_id, undefined)
  assert.equal(e.plugins['661199ff-aa1c-5498-982c-d57a4bd6e48b'].service.id, '0855b320-0dd2-547d-891d-601e9b38647f')
  const svc = e.services['0855b320-0dd2-547d-891d-601e9b38647f']
  const route = e.routes['481a9539-f49c-51b6-b2e2-fe99ee68866c']
  assert.equal(svc.ws_id, undefined)
  assert.equal(route.ws_id, undefined)
  assert.equal(route.service.id, svc.id)
})

test('certificates relate to their snis, nested or separate with {id}', async () => {
  const c = makeCert('foo.example')
  const certId = 'd83994d2-c24c-4315-b431-ee76b6611dcb'
  const sniId = '1c6e83b7-c9ad-40ac-94e8-52f5ee7bde44'
  let r = await postJson({ _format_version: '1.1', certificates: [{ cert: c.cert, key: c.key, id: certId, snis: [{ name: 'foo.example', id: sniId }] }] })
  assert.equal(r.status, 201)
  assert.equal(r.json.snis[sniId].certificate.id, r.json.certificates[certId].id)
  r = await postJson({ _format_version: '1.1', certificates: [{ cert: c.cert, key: c.key, id: certId }], snis: [{ name: 'foo.example', id: sniId, certificate: { id: certId } }] })
  assert.equal(r.status, 201)
  assert.equal(r.json.snis[sniId].certificate.id, r.json.certificates[certId].id)
})

test('the same upstreams configuration can be loaded twice (regression)', async () => {
  const config = unindent(`
    _format_version: "1.1"
    services:
    - host: foo
      routes:
      - paths:
        - "/"
    upstreams:
    - name: "foo"
      targets:
      - target: 10.20.30.40
  `)
  assert.equal((await postJson({ config })).status, 201)
  assert.equal((await postJson({ config })).status, 201)
})

test('?check_hash=1: the same configuration text is 304; a decoded JSON body is always loaded', async () => {
  const config = '_format_version: "1.1"\nconsumers:\n- username: bobby_tables\n'
  assert.equal((await postJson({ config }, '/config?check_hash=1')).status, 201)
  const again = await postJson({ config }, '/config?check_hash=1')
  assert.equal(again.status, 304)
  assert.equal(again.text, '')
  // the same text, in a form field and as a YAML body
  assert.equal((await post('/config?check_hash=1', new URLSearchParams({ config }), 'application/x-www-form-urlencoded')).status, 304)
  assert.equal((await post('/config?check_hash=1', config, 'application/yaml')).status, 304)
  // without check_hash: loaded again
  assert.equal((await postJson({ config })).status, 201)
  // a JSON body with _format_version has no text hash in Kong: never 304
  const body = { _format_version: '1.1', consumers: [{ username: 'json_body' }] }
  assert.equal((await postJson(body, '/config?check_hash=1')).status, 201)
  assert.equal((await postJson(body, '/config?check_hash=1')).status, 201)
})

test('400 bodies: invalid config string, validation error, uniqueness of primary, endpoint and regular keys', async () => {
  let r = await postJson({ config: 'bobby tables' })
  assert.equal(r.status, 400)
  assert.deepEqual(r.json, {
    code: 14,
    fields: { error: 'failed parsing declarative configuration: expected an object' },
    message: 'declarative config is invalid: {error="failed parsing declarative configuration: expected an object"}',
    name: 'invalid declarative configuration',
  })

  r = await postJson({ config: '_format_version: "1.1"\nservices:\n- port: -12\n' })
  assert.equal(r.status, 400)
  assert.deepEqual(r.json, {
    code: 14,
    fields: { services: [{ host: 'required field missing', port: 'value should be between 0 and 65535' }] },
    message: 'declarative config is invalid: {services={{host="required field missing",port="value should be between 0 and 65535"}}}',
    name: 'invalid declarative configuration',
  })

  const services = (first: string, second: string): string => [
    '_format_version: "1.1"',
    'services:',
    `- ${first}`,
    '  host: example.com',
    '  protocol: https',
    '  routes:',
    '  - name: foo',
    '    methods: ["GET"]',
    '    plugins:',
    '      - name: key-auth',
    '      - name: http-log',
    '        config:',
    '          http_endpoint: https://example.com',
    `- ${second}`,
    '  host: example.test',
    '  port: 3000',
    '  routes:',
    '  - name: bar',
    '    paths:',
    '    - /',
    '    plugins:',
    '    - name: basic-auth',
    '    - name: tcp-log',
    '      config:',
    '        host: 127.0.0.1',
    '        port: 10000',
  ].join('\n') + '\n'
  const id = '0855b320-0dd2-547d-891d-601e9b38647f'
  r = await postJson({ config: services(`id: ${id}\n  name: foo`, `id: ${id}\n  name: bar`) })
  assert.equal(r.status, 400)
  const pkMsg = `uniqueness violation: 'services' entity with primary key set to '${id}' already declared`
  assert.deepEqual(r.json, {
    code: 14,
    fields: { services: [null, pkMsg] },
    message: `declarative config is invalid: {services={[2]="${pkMsg}"}}`,
    name: 'invalid declarative configuration',
  })

  r = await postJson({ config: services('name: foo', 'name: foo') })
  assert.equal(r.status, 400)
  const ekMsg = "uniqueness violation: 'services' entity with name set to 'foo' already declared"
  assert.deepEqual(r.json, {
    code: 14,
    fields: { services: [null, ekMsg] },
    message: `declarative config is invalid: {services={[2]="${ekMsg}"}}`,
    name: 'invalid declarative configuration',
  })

  r = await postJson({ config: '_format_version: "1.1"\nconsumers:\n- username: foo\n  custom_id: conflict\n- username: bar\n  custom_id: conflict\n' })
  assert.equal(r.status, 400)
  const ukMsg = "uniqueness violation: 'consumers' entity with custom_id set to 'conflict' already declared"
  assert.deepEqual(r.json, {
    code: 14,
    fields: { consumers: { bar: ukMsg } },
    message: `declarative config is invalid: {consumers={bar="${ukMsg}"}}`,
    name: 'invalid declarative configuration',
  })
})

test('400 when given no input; 400 for a sparse plugin list with one invalid entry', async () => {
  let r = await post('/config', undefined)
  assert.equal(r.status, 400)
  assert.deepEqual(r.json, { message: 'expected a declarative configuration' })
  const keyAuth = { name: 'key-auth', enabled: true, protocols: ['http', 'https'] }
  const cors = { name: 'cors', config: { credentials: true, exposed_headers: ['*'], headers: ['*'], methods: ['*'], origins: ['*'], preflight_continue: true }, enabled: true, protocols: ['http', 'https'] }
  r = await postJson({ config: JSON.stringify({ _format_version: '1.1', plugins: [...Array(10).fill(keyAuth), cors] }) })
  assert.equal(r.status, 400)
  assert.equal(r.json.code, 14)
  assert.equal(r.json.fields.plugins.length, 11)
  assert.ok(r.json.fields.plugins[10].config.methods !== undefined)
})

test('_format_version: missing, unsupported, not a string; unknown top-level keys; _comment and _ignore allowed', async () => {
  let r = await postJson({ config: 'services: []\n' })
  assert.deepEqual(r.json.fields, { _format_version: 'required field missing' })
  r = await postJson({ config: '_format_version: "0.1"\n' })
  assert.deepEqual(r.json.fields, { _format_version: 'expected one of: 1.1, 2.1, 3.0' })
  r = await postJson({ config: '_format_version: 3\n' })
  assert.deepEqual(r.json.fields, { _format_version: 'expected a string' })
  r = await postJson({ config: '_format_version: "3.0"\nfoo: bar\n' })
  assert.deepEqual(r.json, {
    code: 14,
    fields: { foo: 'unknown field' },
    message: 'declarative config is invalid: {foo="unknown field"}',
    name: 'invalid declarative configuration',
  })
  r = await postJson({ config: '_format_version: "3.0"\n_comment: hello\n_ignore: [1, "x"]\nservices:\n- name: s\n  host: h\n  _comment: per entity\n' })
  assert.equal(r.status, 201)
})

test('vaults: accepted as Kong validates them (bundled env vault), refused when not installed', async () => {
  let r = await postJson({ _format_version: '3.0', vaults: [{ name: 'env', prefix: 'my-env', config: { prefix: 'SSL_' } }] })
  assert.equal(r.status, 201)
  const v = Object.values(r.json.vaults as Record<string, any>)[0]
  assert.equal(v.prefix, 'my-env')
  r = await postJson({ _format_version: '3.0', vaults: [{ name: 'vault-not-installed', prefix: 'env', tags: ['v'] }] })
  assert.equal(r.status, 400)
  assert.deepEqual(r.json.fields, { vaults: [{ name: "vault 'vault-not-installed' is not installed" }] })
  r = await postJson({ _format_version: '3.0', vaults: [{ name: 'env', prefix: 'env' }] })
  assert.deepEqual(r.json.fields, { vaults: [{ prefix: 'must not be one of: env' }] })
})

test('GET /config returns back the configuration as Kong exports it', async () => {
  const r = await postJson({ _format_version: '1.1', consumers: [{ username: 'bobo', id: 'd885e256-1abe-5e24-80b6-8f68fe59ea8e', created_at: 1566863706 }] })
  assert.equal(r.status, 201)
  const g = await fetch(`${gw.admin}/config`)
  assert.equal(g.status, 200)
  const config = parseYaml(((await g.json()) as { config: string }).config)
  assert.deepEqual(config, {
    _format_version: '3.0',
    _transform: false,
    consumers: [{
      id: 'd885e256-1abe-5e24-80b6-8f68fe59ea8e',
      created_at: 1566863706,
      updated_at: config.consumers[0].updated_at,
      username: 'bobo',
      custom_id: null,
      tags: null,
    }],
  })
})

test('a large configuration (Kong\'s burst.yml: 1000 services with routes) loads', async () => {
  const lines = ['_format_version: "1.1"', 'services:']
  for (let i = 0; i < 1000; i++) lines.push(`- name: service-${i}`, '  url: http://127.0.0.1:15555', '  routes:', `  - name: route-${i}`, '    paths:', `    - /path-${i}`)
  const r = await postJson({ config: lines.join('\n') + '\n' })
  assert.equal(r.status, 201)
  assert.equal(Object.keys(r.json.services as object).length, 1000)
  assert.equal(Object.keys(r.json.routes as object).length, 1000)
})

test('a file as Kong\'s `kong config db_export` writes it (parameters, ids, foreign keys by id, nulls) loads', async () => {
  const file = unindent(`
    _format_version: "3.0"
    _transform: false
    parameters:
    - created_at: ~
      key: cluster_id
      value: 6d1a2b8e-4f0b-4a43-9d5c-0c4a4b6f1a11
    services:
    - connect_timeout: 60000
      created_at: 1700000000
      enabled: true
      host: example.com
      id: 0855b320-0dd2-547d-891d-601e9b38647f
      name: svc
      path: ~
      port: 80
      protocol: http
      read_timeout: 60000
      retries: 5
      tags: ~
      updated_at: 1700000000
      write_timeout: 60000
    routes:
    - created_at: 1700000000
      hosts: ~
      https_redirect_status_code: 426
      id: 481a9539-f49c-51b6-b2e2-fe99ee68866c
      name: r
      path_handling: v0
      paths:
      - /r
      preserve_host: false
      protocols:
      - http
      - https
      regex_priority: 0
      request_buffering: true
      response_buffering: true
      service: 0855b320-0dd2-547d-891d-601e9b38647f
      strip_path: true
      updated_at: 1700000000
    key_sets:
    - created_at: 1700000000
      id: 5f2a4b1c-2d3e-4f5a-8b6c-7d8e9f0a1b2c
      name: ks
      tags: ~
      updated_at: 1700000000
  `)
  const r = await post('/config', file, 'application/yaml')
  assert.equal(r.status, 201, r.text)
  assert.equal(r.json.routes['481a9539-f49c-51b6-b2e2-fe99ee68866c'].service.id, '0855b320-0dd2-547d-891d-601e9b38647f')
  assert.equal(r.json.parameters, undefined)
  assert.equal(r.json.key_sets['5f2a4b1c-2d3e-4f5a-8b6c-7d8e9f0a1b2c'].name, 'ks')
  const g = await fetch(`${gw.admin}/routes/r`)
  assert.equal(g.status, 200)
  assert.equal(((await g.json()) as { service: { id: string } }).service.id, '0855b320-0dd2-547d-891d-601e9b38647f')
})

test('flatten_errors from a JSON or form body, as Kong reads its merged parameters', async () => {
  const bad = { _format_version: '3.0', services: [{ name: 'svc', host: 'example.com', port: 'not-a-port' }] }
  const plain = await postJson(bad)
  assert.equal(plain.status, 400)
  assert.equal(plain.json.flattened_errors, undefined)
  const flat = await postJson({ ...bad, flatten_errors: 1 })
  assert.equal(flat.status, 400, JSON.stringify(flat.json))
  assert.ok(Array.isArray(flat.json.flattened_errors), JSON.stringify(flat.json))
  assert.equal(flat.json.flattened_errors[0].entity_type, 'service')
  const form = new URLSearchParams({ config: JSON.stringify(bad), flatten_errors: 'true' })
  const viaForm = await post('/config', form, 'application/x-www-form-urlencoded')
  assert.equal(viaForm.status, 400)
  assert.ok(Array.isArray(viaForm.json.flattened_errors), JSON.stringify(viaForm.json))
  // The query string wins over the body.
  const q = await postJson({ ...bad, flatten_errors: 1 }, '/config?flatten_errors=0')
  assert.equal(q.json.flattened_errors, undefined)
})
