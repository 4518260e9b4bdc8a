/**
 * /routes and the service <-> route endpoints over real HTTP and PostgreSQL (ported from
 * Kong's spec/02-integration/04-admin_api/09-routes_routes_spec.lua).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { startTestAdmin, type Admin } from './admin-harness.ts'

let a: Admin
before(async () => { a = await startTestAdmin() })
after(async () => { await a.close() })

const PROTOCOL_ERR = 'expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp'
const HTTPS_ERR = "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"

async function service (fields: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const r = await a.json('POST', '/services', { host: 'upstream.test', ...fields })
  assert.equal(r.status, 201, r.text)
  return r.json
}

describe('POST /routes', () => {
  test('creates a route (JSON) with Kong\'s defaults', async () => {
    const s = await service()
    const r = await a.json('POST', '/routes', { protocols: ['http'], hosts: ['my.route.test'], headers: { location: ['my-location'] }, service: { id: s.id } })
    assert.equal(r.status, 201)
    assert.deepEqual({ ...r.json, id: 0, created_at: 0, updated_at: 0 }, {
      id: 0, created_at: 0, updated_at: 0, name: null, protocols: ['http'], https_redirect_status_code: 426, strip_path: true,
      preserve_host: false, request_buffering: true, response_buffering: true, tags: null, service: { id: s.id }, snis: null,
      sources: null, destinations: null, methods: null, hosts: ['my.route.test'], paths: null, headers: { location: ['my-location'] },
      regex_priority: 0, path_handling: 'v0',
    })
  })

  test('creates a route from a form, with service.name resolved to the id', async () => {
    const s = await service({ name: 'form-svc' })
    const r = await a.form('POST', '/routes',
      'protocols[]=http&methods[]=GET&methods[]=POST&hosts=foo.api.test&hosts=bar.api.test&paths[1]=/foo&paths[2]=/bar&service.name=form-svc&headers.x-v[]=1')
    assert.equal(r.status, 201, r.text)
    assert.deepEqual(r.json.methods, ['GET', 'POST'])
    assert.deepEqual(r.json.hosts, ['foo.api.test', 'bar.api.test'])
    assert.deepEqual(r.json.paths, ['/foo', '/bar'])
    assert.deepEqual(r.json.headers, { 'x-v': ['1'] })
    assert.deepEqual(r.json.service, { id: s.id })
  })

  test('creates a grpc route from multipart, strip_path defaulting to false', async () => {
    const r = await a.multipart('POST', '/routes', [['protocols', 'grpc'], ['protocols', 'grpcs'], ['hosts', 'g.test']])
    assert.equal(r.status, 201, r.text)
    assert.deepEqual(r.json.protocols, ['grpc', 'grpcs'])
    assert.equal(r.json.strip_path, false)
    assert.equal(r.json.service, null)
  })

  test('invalid input gives Kong\'s schema violations', async () => {
    const e1 = await a.json('POST', '/routes', {})
    assert.deepEqual(e1.json, { code: 2, name: 'schema violation', message: `schema violation (${HTTPS_ERR})`, fields: { '@entity': [HTTPS_ERR] } })
    const e2 = await a.form('POST', '/routes', 'protocols=https')
    assert.equal(e2.json.message, `schema violation (${HTTPS_ERR})`)
    const e3 = await a.json('POST', '/routes', { methods: ['GET'], protocols: ['foo', 'http'] })
    assert.deepEqual(e3.json, { code: 2, name: 'schema violation', message: `schema violation (protocols.1: ${PROTOCOL_ERR})`, fields: { protocols: [PROTOCOL_ERR] } })
    const e4 = await a.json('POST', '/routes', { methods: ['GET'], protocols: ['foo', 'http'], service: { protocol: 'foo' } })
    assert.deepEqual(e4.json, {
      code: 2,
      name: 'schema violation',
      message: `2 schema violations (protocols.1: ${PROTOCOL_ERR}; service.protocol: ${PROTOCOL_ERR})`,
      fields: { protocols: [PROTOCOL_ERR], service: { protocol: PROTOCOL_ERR } },
    })
    const e5 = await a.form('POST', '/routes', 'protocols=grpc&protocols=grpcs&paths=/&strip_path=true')
    assert.equal(e5.json.message, "schema violation (strip_path: cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs')")
    const e6 = await a.json('POST', '/routes', { paths: ['/a/../b', '~/(x'] })
    assert.equal(e6.json.message, "2 schema violations (paths.1: non-normalized path, consider use '/b' instead; " +
      'paths.2: invalid regex: \'/(x\' (PCRE returned: pcre2_compile() failed: missing closing parenthesis in "/(x"))')
  })

  test('a regex PCRE accepts but the traditional_compatible router cannot compile is refused at @entity, nothing written', async () => {
    const before = await a.json('GET', '/routes')
    for (const [body, what] of [
      [{ paths: ['~/users/(?=admin)'] }, 'look-around'],
      [{ paths: ['/ok', '~/(a)\\1'] }, 'backreferences'],
      [{ paths: ['/h'], headers: { 'x-v': ['~*^(?!beta)'] } }, 'look-around'],
    ] as const) {
      const r = await a.json('POST', '/routes', body)
      assert.equal(r.status, 400, JSON.stringify(r.json))
      assert.equal(r.json.code, 2)
      assert.equal(r.json.name, 'schema violation')
      const err = r.json.fields['@entity'] as string[]
      assert.equal(err.length, 1)
      assert.match(err[0]!, /^Router Expression failed validation: /)
      assert.match(err[0]!, new RegExp(what))
    }
    const after = await a.json('GET', '/routes')
    assert.equal(after.json.data.length, before.json.data.length)
    const ok = await a.json('POST', '/routes', { paths: ['~/users/\\d+$'], headers: { 'x-v': ['~*^v[0-9]+$'] } })
    assert.equal(ok.status, 201, JSON.stringify(ok.json))
  })

  test('an unknown service name is foreign keys unresolved (13); an unnamed one lacks its primary key', async () => {
    const r = await a.json('POST', '/routes', { methods: ['GET'], service: { name: 'non-existing' } })
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, {
      code: 13,
      name: 'foreign keys unresolved',
      message: 'foreign key unresolved (service.name: the foreign key cannot be resolved with \'{name="non-existing"}\' for an existing \'services\' entity)',
      fields: { service: { name: 'the foreign key cannot be resolved with \'{name="non-existing"}\' for an existing \'services\' entity' } },
    })
    const missing = { code: 2, name: 'schema violation', message: 'schema violation (service.id: missing primary key)', fields: { service: { id: 'missing primary key' } } }
    assert.deepEqual((await a.json('POST', '/routes', { methods: ['GET'], service: { name: null } })).json, missing)
    assert.deepEqual((await a.form('POST', '/routes', 'methods=GET&service.name=')).json, missing)
    assert.deepEqual((await a.json('POST', '/routes', { methods: ['GET'], service: { protocol: 'http' } })).json, missing)
  })

  test('a service id that does not exist is a foreign key violation (4)', async () => {
    const id = randomUUID()
    const r = await a.json('POST', '/routes', { paths: ['/x'], service: { id } })
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, {
      code: 4, name: 'foreign key violation', message: `the foreign key '{id="${id}"}' does not reference an existing 'services' entity.`, fields: { service: { id } },
    })
  })

  test('405 for DELETE, PUT and PATCH on the collection', async () => {
    for (const m of ['DELETE', 'PUT', 'PATCH']) {
      const r = await a.json(m, '/routes', {})
      assert.equal(r.status, 405, m)
      assert.deepEqual(r.json, { message: 'Method not allowed' })
    }
  })
})

describe('/routes/{route}', () => {
  test('GET by id, name and UTF-8 name; 404 otherwise', async () => {
    const r = (await a.json('POST', '/routes', { methods: ['GET'], name: '路由' })).json
    assert.deepEqual((await a.json('GET', `/routes/${r.id}`)).json, r)
    assert.deepEqual((await a.json('GET', `/routes/${encodeURIComponent('路由')}`)).json, r)
    assert.equal((await a.json('GET', `/routes/${randomUUID()}`)).status, 404)
    assert.equal((await a.json('GET', '/routes/not-found')).status, 404)
  })

  test('PUT creates by id and by name, and replaces fully', async () => {
    const s = await service()
    const id = randomUUID()
    const c = await a.json('PUT', `/routes/${id}`, { paths: ['/updated-paths'], service: { id: s.id } })
    assert.equal(c.status, 200)
    assert.equal(c.json.id, id)
    assert.deepEqual(c.json.paths, ['/updated-paths'])
    assert.equal(c.json.hosts, null)
    const n = await a.form('PUT', '/routes/my-put-route', `paths=/p&service.id=${s.id}`)
    assert.equal(n.status, 200)
    assert.equal(n.json.name, 'my-put-route')
    const u = await a.json('PUT', '/routes/my-put-route', { hosts: ['h.test'] })
    assert.equal(u.json.id, n.json.id)
    assert.equal(u.json.paths, null)
    assert.equal(u.json.service, null)
    const bad = await a.json('PUT', `/routes/${randomUUID()}`, { methods: ['GET'], protocols: ['foo', 'http'] })
    assert.equal(bad.json.message, `schema violation (protocols.1: ${PROTOCOL_ERR})`)
    const bad2 = await a.form('PUT', `/routes/${id}`, 'paths=/&regex_priority=foobar')
    assert.deepEqual(bad2.json, { code: 2, name: 'schema violation', message: 'schema violation (regex_priority: expected an integer)', fields: { regex_priority: 'expected an integer' } })
  })

  test('PATCH merges, nulls clear, empty arrays are stored as []', async () => {
    const r = (await a.json('POST', '/routes', { paths: ['/my-route'], methods: ['GET'], name: 'patch-me' })).json
    const p1 = await a.json('PATCH', '/routes/patch-me', { methods: null, hosts: ['my-updated.tld'] })
    assert.equal(p1.status, 200)
    assert.equal(p1.json.methods, null)
    assert.deepEqual(p1.json.paths, ['/my-route'])
    assert.deepEqual(p1.json.hosts, ['my-updated.tld'])
    const p2 = await a.req('PATCH', `/routes/${r.id}`, { body: JSON.stringify({ methods: [], paths: [] }), headers: { 'Content-Type': 'application/json' } })
    assert.match(p2.text, /"methods":\[\]/)
    assert.match(p2.text, /"paths":\[\]/)
    const p3 = await a.form('PATCH', `/routes/${r.id}`, 'strip_path=false')
    assert.equal(p3.json.strip_path, false)
    assert.deepEqual((await a.json('GET', `/routes/${r.id}`)).json, p3.json)
    const bad = await a.form('PATCH', `/routes/${r.id}`, 'regex_priority=foobar')
    assert.equal(bad.json.message, 'schema violation (regex_priority: expected an integer)')
    assert.equal((await a.json('PATCH', `/routes/${randomUUID()}`, { paths: ['/x'] })).status, 404)
  })

  test('PATCH can detach the service', async () => {
    const s = await service()
    const r = (await a.json('POST', '/routes', { paths: ['/d'], service: { id: s.id } })).json
    const p = await a.json('PATCH', `/routes/${r.id}`, { service: null })
    assert.equal(p.json.service, null)
  })

  test('DELETE removes by id and name; 204 when absent', async () => {
    const r = (await a.json('POST', '/routes', { paths: ['/gone'], name: 'gone' })).json
    assert.equal((await a.json('DELETE', '/routes/gone')).status, 204)
    assert.equal((await a.json('GET', `/routes/${r.id}`)).status, 404)
    assert.equal((await a.json('DELETE', `/routes/${randomUUID()}`)).status, 204)
  })
})

describe('/routes/{route}/service', () => {
  test('GET returns the route\'s service; 404 without one or without the route', async () => {
    const s = await service({ path: '/' })
    const r = (await a.json('POST', '/routes', { paths: ['/rs'], service: { id: s.id }, name: 'rs-get' })).json
    assert.deepEqual((await a.json('GET', `/routes/${r.id}/service`)).json, s)
    assert.deepEqual((await a.json('GET', '/routes/rs-get/service')).json, s)
    const lone = (await a.json('POST', '/routes', { paths: ['/lone'] })).json
    assert.equal((await a.json('GET', `/routes/${lone.id}/service`)).status, 404)
    assert.equal((await a.json('GET', `/routes/${randomUUID()}/service`)).status, 404)
  })

  test('PATCH and PUT update the linked service; PUT on a route without one creates and links it', async () => {
    const s = await service({ name: 'linked', path: '/' })
    const r = (await a.json('POST', '/routes', { paths: ['/lk'], service: { id: s.id } })).json
    const p = await a.json('PATCH', `/routes/${r.id}/service`, { name: 'name-linked', host: 'edited.test', path: null })
    assert.deepEqual([p.json.id, p.json.name, p.json.host, p.json.path], [s.id, 'name-linked', 'edited.test', null])
    const u = await a.form('PUT', `/routes/${r.id}/service`, 'url=http://edited2.test:1234/foo')
    assert.deepEqual([u.json.id, u.json.host, u.json.port, u.json.path, u.json.name], [s.id, 'edited2.test', 1234, '/foo', null])
    const bad = await a.json('PUT', `/routes/${r.id}/service`, { connect_timeout: 'foobar' })
    assert.equal(bad.json.message, '2 schema violations (connect_timeout: expected an integer; host: required field missing)')

    const lone = (await a.json('POST', '/routes', { paths: ['/assoc'] })).json
    const created = await a.json('PUT', `/routes/${lone.id}/service`, { url: 'http://konghq.test' })
    assert.equal(created.status, 200)
    assert.equal(created.json.host, 'konghq.test')
    assert.deepEqual((await a.json('GET', `/routes/${lone.id}`)).json.service, { id: created.json.id })
    assert.equal((await a.json('PATCH', `/routes/${randomUUID()}/service`, { host: 'x.test' })).status, 404)
    assert.equal((await a.json('PUT', `/routes/${randomUUID()}/service`, { host: 'x.test' })).status, 404)
  })

  test('DELETE is 405 when a service is linked, 404 otherwise', async () => {
    const s = await service()
    const r = (await a.json('POST', '/routes', { paths: ['/del'], service: { id: s.id } })).json
    assert.deepEqual((await a.json('DELETE', `/routes/${r.id}/service`)).json, { message: 'Method not allowed' })
    assert.equal((await a.json('DELETE', `/routes/${r.id}/service`)).status, 405)
    assert.equal((await a.json('DELETE', `/routes/${randomUUID()}/service`)).status, 404)
    assert.equal((await a.json('DELETE', '/routes/in-existent-route/service')).status, 404)
  })
})

describe('/services/{service}/routes', () => {
  test('lists only the service\'s routes, pages with a nested next link', async () => {
    const s = await service({ name: 'parent' })
    const other = await service()
    const mine: string[] = []
    for (let i = 0; i < 3; i++) mine.push((await a.json('POST', '/routes', { hosts: ['p.test'], service: { id: s.id } })).json.id)
    await a.json('POST', '/routes', { hosts: ['o.test'], service: { id: other.id } })
    const all = await a.json('GET', '/services/parent/routes?tags=ignored')
    assert.deepEqual(all.json.data.map((r: { id: string }) => r.id), mine.sort())
    assert.equal(all.json.next, null)
    const p1 = await a.json('GET', '/services/parent/routes?size=2')
    assert.equal(p1.json.data.length, 2)
    assert.equal(p1.json.next, `/services/parent/routes?offset=${encodeURIComponent(p1.json.offset)}`)
    const p2 = await a.json('GET', `${p1.json.next as string}&size=2`)
    assert.equal(p2.json.data.length, 1)
    assert.equal((await a.json('GET', `/services/${randomUUID()}/routes`)).status, 404)
    assert.equal((await a.json('GET', '/services/parent/routes?tags=')).status, 400)
  })

  test('POST creates a route bound to the service, whatever the body says', async () => {
    const s = await service({ name: 'poster' })
    const other = await service()
    const r = await a.form('POST', '/services/poster/routes', `paths=/n&service.id=${other.id}`)
    assert.equal(r.status, 201)
    assert.deepEqual(r.json.service, { id: s.id })
    assert.equal((await a.json('POST', `/services/${randomUUID()}/routes`, { paths: ['/x'] })).status, 404)
  })

  test('/services/{s}/routes/{r}: 404 unless the route belongs to the service', async () => {
    const s = await service({ name: 'owner' })
    const other = await service({ name: 'not-owner' })
    const r = (await a.json('POST', '/routes', { paths: ['/own'], name: 'owned', service: { id: s.id } })).json
    assert.deepEqual((await a.json('GET', '/services/owner/routes/owned')).json, r)
    assert.equal((await a.json('GET', '/services/not-owner/routes/owned')).status, 404)
    assert.equal((await a.json('PATCH', '/services/not-owner/routes/owned', { hosts: ['x.test'] })).status, 404)
    assert.equal((await a.json('DELETE', '/services/not-owner/routes/owned')).status, 404)
    const p = await a.json('PATCH', '/services/owner/routes/owned', { hosts: ['x.test'] })
    assert.equal(p.status, 200)
    assert.deepEqual(p.json.hosts, ['x.test'])
    assert.deepEqual(p.json.service, { id: s.id })
    const put = await a.json('PUT', `/services/not-owner/routes/${r.id}`, { paths: ['/moved'] })
    assert.equal(put.status, 200)
    assert.deepEqual(put.json.service, { id: other.id })
    assert.equal((await a.json('DELETE', `/services/not-owner/routes/${r.id}`)).status, 204)
    assert.equal((await a.json('GET', `/routes/${r.id}`)).status, 404)
  })
})
