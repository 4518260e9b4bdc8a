/**
 * Admin API mechanics: headers, OPTIONS/HEAD, 404/405/415, body parsing errors and limits,
 * trailing slashes, and the node endpoints `/`, `/status`, `/endpoints`, `/schemas`
 * (kong.md §1.1, 1.2, 1.7; spec/02-integration/04-admin_api/02-kong_routes_spec.lua).
 */
import { PLUGINS } from '../../src/plugins/schemas.ts'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { NODE_ID, startTestAdmin, type Admin } from './admin-harness.ts'

let a: Admin
before(async () => { a = await startTestAdmin({ nginx_admin_client_max_body_size: '64k', pg_password: 'hide_me' }) })
after(async () => { await a.close() })

describe('headers and methods', () => {
  test('every answer carries Server, latency, CORS and the JSON content type', async () => {
    for (const [m, p] of [['GET', '/'], ['GET', '/nope'], ['POST', '/services']] as const) {
      const r = await a.json(m, p, m === 'POST' ? {} : undefined)
      assert.equal(r.headers.server, 'kong/3.10.0')
      assert.match(String(r.headers['x-kong-admin-latency']), /^\d+$/)
      assert.equal(r.headers['access-control-allow-origin'], '*')
      assert.equal(r.headers['access-control-allow-credentials'], 'true')
      assert.equal(r.headers['content-type'], 'application/json; charset=utf-8')
      assert.equal(r.headers.via, undefined)
    }
    const o = await a.req('GET', '/', { headers: { Origin: 'http://ui.test' } })
    assert.equal(o.headers['access-control-allow-origin'], 'http://ui.test')
  })

  test('headers = off drops Server and the latency header, as Kong\'s header filter does', async () => {
    const quiet = await startTestAdmin({ headers: 'off' })
    try {
      const r = await quiet.req('GET', '/')
      assert.equal(r.status, 200)
      assert.equal(r.headers.server, undefined)
      assert.equal(r.headers['x-kong-admin-latency'], undefined)
    } finally { await quiet.close() }
  })

  test('OPTIONS answers 204 with Allow for collections, entities and /', async () => {
    const r = await a.req('OPTIONS', '/routes')
    assert.equal(r.status, 204)
    assert.equal(r.text, '')
    assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS, POST')
    assert.equal(r.headers['access-control-allow-methods'], 'GET, HEAD, OPTIONS, POST')
    assert.equal(r.headers['access-control-allow-headers'], 'Content-Type')
    assert.equal(r.headers['access-control-allow-origin'], '*')
    assert.equal((await a.req('OPTIONS', '/routes/test')).headers.allow, 'DELETE, GET, HEAD, OPTIONS, PATCH, PUT')
    assert.equal((await a.req('OPTIONS', '/')).headers.allow, 'GET, HEAD, OPTIONS')
    const h = await a.req('OPTIONS', '/services', { headers: { 'Access-Control-Request-Headers': 'X-Custom' } })
    assert.equal(h.headers['access-control-allow-headers'], 'X-Custom')
  })

  test('HEAD runs GET without a body and with the same headers', async () => {
    const g = await a.req('GET', '/')
    const h = await a.req('HEAD', '/')
    assert.equal(h.status, 200)
    assert.equal(h.text, '')
    for (const k of ['content-type', 'content-length', 'server']) assert.equal(h.headers[k], g.headers[k], k)
    const n = await a.req('HEAD', '/non-existing')
    assert.equal(n.status, 404)
    assert.equal(n.text, '')
  })

  test('unknown paths are 404 Not found for every method', async () => {
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const r = await a.req(m, '/non-existing')
      assert.equal(r.status, 404, m)
      assert.deepEqual(r.json, { message: 'Not found' })
    }
    assert.equal((await a.req('GET', '/services/x/y/z')).status, 404)
    assert.equal((await a.req('GET', '//services')).status, 404)
  })

  test('known paths refuse other methods with 405', async () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) assert.deepEqual((await a.json(m, '/', {})).json, { message: 'Method not allowed' })
  })

  test('a trailing slash is tolerated', async () => {
    assert.equal((await a.req('GET', '/services/')).status, 200)
    assert.equal((await a.req('GET', '/status/')).status, 200)
  })
})

describe('request bodies', () => {
  test('bad JSON, empty JSON and non-object JSON are "Cannot parse JSON body"', async () => {
    for (const body of ['{"hello": "world"', '', '[1]', '"str"', '5', 'null', '\uFEFF{}']) {
      const r = await a.req('POST', '/services', { body, headers: { 'Content-Type': 'application/json' } })
      assert.equal(r.status, 400, JSON.stringify(body))
      assert.equal(r.text, '{"message":"Cannot parse JSON body"}')
    }
    const bad = await a.req('POST', '/services', { body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), headers: { 'Content-Type': 'application/json' } })
    assert.equal(bad.status, 400)
  })

  test('other content types are 415; no content type is fine without a body', async () => {
    assert.equal((await a.req('POST', '/services', { body: '{"hello": "world"}', headers: { 'Content-Type': 'invalid' } })).status, 415)
    assert.equal((await a.req('POST', '/services', { body: 'invalid' })).status, 415)
    assert.equal((await a.req('POST', '/services', { body: '{}', headers: { 'Content-Type': 'Application/JSON' } })).status, 415)
    const r = await a.req('POST', '/services', { body: '' })
    assert.deepEqual(r.json.fields, { host: 'required field missing' })
  })

  test('two Content-Type headers are refused in plain text', async () => {
    const raw = await a.raw('POST /services HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Type: application/json\r\n' +
      'Content-Length: 2\r\nConnection: close\r\n\r\n{}')
    assert.match(raw, /^HTTP\/1\.1 400/)
    assert.match(raw, /\r\n\r\nMultiple Content-Type headers not allowed$/)
  })

  test('bodies over the admin limit are 413', async () => {
    const r = await a.req('POST', '/services', { body: JSON.stringify({ host: 'x'.repeat(70_000) }), headers: { 'Content-Type': 'application/json' } })
    assert.equal(r.status, 413)
    assert.deepEqual(r.json, { message: 'Payload too large' })
    assert.equal((await a.req('GET', '/')).status, 200)
  })

  test('more than 1000 arguments is "Too many arguments", in the body or the query', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => `tags=${i}`).join('&')
    assert.deepEqual((await a.form('POST', '/services', many)).json, { message: 'Too many arguments' })
    const q = await a.req('GET', `/services?${Array.from({ length: 1001 }, (_, i) => `a=${i}`).join('&')}`)
    assert.equal(q.status, 400)
    assert.deepEqual(q.json, { message: 'Too many arguments' })
  })

  test('JSON nested beyond 1000 levels cannot be parsed', async () => {
    const deep = '{"tags":' + '['.repeat(5000) + ']'.repeat(5000) + '}'
    const r = await a.req('POST', '/services', { body: deep, headers: { 'Content-Type': 'application/json' } })
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, { message: 'Cannot parse JSON body' })
  })

  test('prototype-pollution keys are ordinary unknown fields', async () => {
    const r = await a.req('POST', '/services', {
      body: '{"host":"p.test","__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}', headers: { 'Content-Type': 'application/json' },
    })
    assert.equal(r.status, 400)
    assert.deepEqual(r.json.fields, JSON.parse('{"__proto__":"unknown field","constructor":"unknown field"}'))
    const f = await a.form('POST', '/services', 'host=p.test&__proto__[polluted]=1')
    assert.equal(f.status, 400)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    const h = await a.req('POST', '/routes', { body: '{"paths":["/proto"],"headers":{"__proto__":["x"]}}', headers: { 'Content-Type': 'application/json' } })
    assert.equal(h.status, 201)
    assert.deepEqual(h.json.headers, JSON.parse('{"__proto__":["x"]}'))
  })

  test('absurd form argument names are a 400, not a stack overflow', async () => {
    const long = await a.form('POST', '/services', `${'a'.repeat(5000)}=1`)
    assert.deepEqual(long.json, { message: 'Cannot parse arguments: argument name too long' })
    const deep = await a.form('POST', '/services', `a${'[1]'.repeat(1200)}=1`)
    assert.deepEqual(deep.json, { message: 'Cannot parse arguments: argument nesting too deep' })
  })

  test('malformed multipart bodies are 400; without a boundary or a body there are no arguments (Lapis)', async () => {
    const r = await a.req('POST', '/services', { body: 'garbage', headers: { 'Content-Type': 'multipart/form-data; boundary=X' } })
    assert.equal(r.status, 400)
    assert.match(r.json.message, /^Cannot parse multipart\/form-data body/)
    // 03-consumers_routes_spec: "returns 400 on missing body with multipart/form-data"
    const missing = { 'schema violation': ["at least one of these fields must be non-empty: 'custom_id', 'username'"] }
    for (const [body, ct] of [[undefined, 'multipart/form-data'], ['x', 'multipart/form-data'], ['', 'multipart/form-data; boundary=X']] as const) {
      const nb = await a.req('POST', '/consumers', { ...(body !== undefined ? { body } : {}), headers: { 'Content-Type': ct } })
      assert.equal(nb.status, 400, `${ct} ${String(body)}`)
      assert.deepEqual({ [nb.json.name]: nb.json.fields['@entity'] }, missing)
    }
    assert.equal((await a.req('GET', '/consumers')).json.data.length, 0)
  })
})

describe('node endpoints', () => {
  test('GET / describes the node, with secrets redacted', async () => {
    const r = await a.json('GET', '/')
    assert.equal(r.status, 200)
    assert.equal(r.json.tagline, 'Welcome to kong')
    assert.equal(r.json.version, '3.10.0')
    assert.equal(r.json.sluice_version, '0.1.0')
    assert.equal(r.json.edition, 'community')
    assert.equal(r.json.hostname, 'test-host')
    assert.equal(r.json.node_id, NODE_ID)
    assert.deepEqual(r.json.plugins.enabled_in_cluster, [])
    assert.match(r.text, /"enabled_in_cluster":\[\]/)
    // every enabled plugin with Kong's PRIORITY (kong.md 4.2) and the Kong version
    assert.deepEqual(r.json.plugins.available_on_server['key-auth'], { version: '3.10.0', priority: 1250 })
    assert.deepEqual(r.json.plugins.available_on_server['correlation-id'], { version: '3.10.0', priority: 100001 })
    assert.deepEqual(Object.keys(r.json.plugins.available_on_server).sort(), PLUGINS.map((p) => p.name).sort())
    assert.ok(r.json.plugins.available_on_server.oauth2 !== undefined && r.json.plugins.available_on_server.statsd !== undefined)
    assert.equal(r.json.configuration.pg_password, '******')
    assert.equal(r.json.configuration.database, 'postgres')
    assert.equal(r.json.configuration.pg_ssl, false)
    assert.equal(r.json.pids.master, process.pid)
  })

  test('GET /status reports the database in DB mode, and validates unit', async () => {
    const r = await a.json('GET', '/status')
    assert.equal(r.status, 200)
    assert.deepEqual(r.json.database, { reachable: true })
    assert.equal(r.json.configuration_hash, undefined)
    assert.equal(typeof r.json.server, 'object')
    const bad = await a.json('GET', '/status?unit=V')
    assert.equal(bad.status, 400)
    assert.equal(bad.json.message, "invalid unit 'V' (expected 'k/K', 'm/M', or 'g/G')")
  })

  test('GET /endpoints lists the templates in Kong\'s order', async () => {
    const r = await a.json('GET', '/endpoints')
    const list: string[] = r.json.data
    // segment-wise order: '/a/z' before '/ab' (kong/api/routes/kong.lua)
    const at = (t: string): number => { const i = list.indexOf(t); assert.ok(i >= 0, t); return i }
    assert.ok(at('/') < at('/acls'))
    assert.ok(at('/routes/{routes}/service') < at('/schemas/{db_entity_name}/validate'))
    assert.ok(at('/services/{services}/routes/{routes}') < at('/snis'))
    for (const t of ['/plugins', '/plugins/enabled', '/basic-auths/{basicauth_credentials}', '/consumers/{consumers}/key-auth',
      '/key-auths/{keyauth_credentials}/consumer', '/upstreams/{upstreams}/targets/all', '/upstreams/{upstreams}/health', '/tags/{tags}',
      '/schemas/plugins/{name}', '/certificates/{certificates}/snis']) at(t)
    for (const t of ['/targets', '/targets/{targets}', '/snis/{snis}/certificate']) assert.ok(!list.includes(t), t)
    assert.equal(new Set(list).size, list.length)
  })

  test('GET /schemas/{entity} returns fields and checks; unknown entities are 404', async () => {
    const r = await a.json('GET', '/schemas/routes')
    assert.equal(r.status, 200)
    assert.ok(Array.isArray(r.json.fields))
    assert.ok(Array.isArray(r.json.entity_checks))
    const service = r.json.fields.find((f: Record<string, unknown>) => 'service' in f).service
    assert.deepEqual(service, { type: 'foreign', reference: 'services' })
    const protocols = r.json.fields.find((f: Record<string, unknown>) => 'protocols' in f).protocols
    assert.deepEqual(protocols.default, ['http', 'https'])
    assert.deepEqual((await a.json('GET', '/schemas/not-present')).json, { message: "No entity named 'not-present'" })
  })

  test('POST /schemas/{entity}/validate checks without writing', async () => {
    const ok = await a.json('POST', '/schemas/services/validate', { host: 'example.com' })
    assert.deepEqual(ok.json, { message: 'schema validation successful' })
    const bad = await a.json('POST', '/schemas/routes/validate', { protocols: ['http'] })
    assert.equal(bad.status, 400)
    assert.equal(bad.json.message, "schema violation (must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http')")
    assert.equal((await a.json('POST', '/schemas/nope/validate', {})).status, 404)
    assert.deepEqual((await a.json('GET', '/services')).json, { data: [], next: null })
  })
})

describe('requests node\'s HTTP parser refuses', () => {
  const status = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3}) /.exec(raw)?.[1] ?? 0)
  const body = (raw: string): any => JSON.parse(Buffer.from(raw.slice(raw.indexOf('\r\n\r\n') + 4), 'latin1').toString('utf8'))

  test('an unknown method is 405 Method not allowed on an endpoint, 404 elsewhere (02-kong_routes_spec GEEEET)', async () => {
    const r = await a.req('GEEEET', '/', { body: '{}', headers: { 'Content-Type': 'application/json' } })
    assert.equal(r.status, 405)
    assert.deepEqual(r.json, { message: 'Method not allowed' })
    assert.equal((await a.req('GEEEET', '/services/x?size=1')).status, 405)
    const nope = await a.req('GEEEET', '/non-existing')
    assert.equal(nope.status, 404)
    assert.deepEqual(nope.json, { message: 'Not found' })
    // not a method token at all: still the plain 400
    assert.equal(status(await a.raw('get / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')), 400)
  })

  test('raw bytes >= 0x80 in the target are read as their percent-encoded form (14-tags_spec)', async () => {
    assert.equal((await a.json('POST', '/consumers', { username: 'raw-bytes', tags: ['corp_ a'] })).status, 201)
    const filter = await a.raw(Buffer.from('GET /consumers?tags=\xff HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'))
    assert.equal(status(filter), 400)
    assert.equal(body(filter).message, 'invalid option (tags: invalid filter syntax)')
    const tag = await a.raw(Buffer.from('GET /tags/\xff HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'))
    assert.equal(status(tag), 400)
    assert.match(body(tag).message, /invalid utf-8/)
    // valid UTF-8 sent raw finds what its escaped form finds
    const utf8 = await a.raw(Buffer.concat([Buffer.from('GET /tags/'), Buffer.from('corp_%20a'), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]))
    assert.equal(status(utf8), 200)
    assert.equal(body(utf8).data.length, 1)
    assert.equal((await a.json('POST', '/consumers', { username: '円' })).status, 201)
    const named = await a.raw(Buffer.concat([Buffer.from('GET /consumers/'), Buffer.from('円'), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]))
    assert.equal(status(named), 200)
    assert.equal(body(named).username, '円')
    // a request with a body is not rebuilt
    assert.equal(status(await a.raw(Buffer.from('POST /consumers?\xff HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}', 'latin1'))), 400)
    for (const id of ['raw-bytes', '%E5%86%86']) assert.equal((await a.req('DELETE', `/consumers/${id}`)).status, 204)
    assert.equal((await a.json('GET', '/')).status, 200)
  })

  test('GET /timers has the shape of Kong\'s timer statistics (20-timers_spec)', async () => {
    const r = await a.json('GET', '/timers')
    assert.equal(r.status, 200)
    assert.equal(typeof r.json.worker.id, 'number')
    assert.equal(typeof r.json.worker.count, 'number')
    for (const k of ['running', 'pending', 'elapsed_time']) assert.equal(typeof r.json.stats.flamegraph[k], 'string')
    for (const k of ['total', 'runs', 'running', 'pending', 'waiting']) assert.equal(typeof r.json.stats.sys[k], 'number')
    assert.deepEqual(r.json.stats.timers, {})
  })
})
