/**
 * /services over real HTTP and PostgreSQL, in JSON, urlencoded and multipart bodies
 * (ported from Kong's spec/02-integration/04-admin_api/10-services_routes_spec.lua).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { startTestAdmin, type Admin } from './admin-harness.ts'

let a: Admin
before(async () => { a = await startTestAdmin() })
after(async () => { await a.close() })

const KINDS = ['json', 'form', 'multipart'] as const
type Kind = typeof KINDS[number]

/** Sends flat string fields in the given encoding. */
function send (kind: Kind, method: string, path: string, fields: Record<string, string>) {
  if (kind === 'json') return a.json(method, path, fields)
  if (kind === 'form') return a.form(method, path, new URLSearchParams(fields).toString())
  return a.multipart(method, path, Object.entries(fields))
}

describe('POST /services', () => {
  for (const kind of KINDS) {
    test(`creates a service with defaults and explicit nulls (${kind})`, async () => {
      const r = await send(kind, 'POST', '/services', { protocol: 'http', host: 'service.test' })
      assert.equal(r.status, 201)
      const s = r.json
      assert.match(s.id, /^[0-9a-f-]{36}$/)
      assert.equal(typeof s.created_at, 'number')
      assert.equal(typeof s.updated_at, 'number')
      assert.deepEqual({ ...s, id: 0, created_at: 0, updated_at: 0 }, {
        id: 0, created_at: 0, updated_at: 0, name: null, retries: 5, protocol: 'http', host: 'service.test', port: 80, path: null,
        connect_timeout: 60000, write_timeout: 60000, read_timeout: 60000, tags: null, client_certificate: null,
        tls_verify: null, tls_verify_depth: null, ca_certificates: null, enabled: true,
      })
    })

    test(`creates a service with url, port from the scheme (${kind})`, async () => {
      const r = await send(kind, 'POST', '/services', { url: 'https://service.test/' })
      assert.equal(r.status, 201)
      assert.equal(r.json.protocol, 'https')
      assert.equal(r.json.host, 'service.test')
      assert.equal(r.json.port, 443)
      assert.equal(r.json.path, '/')
    })

    test(`rejects an unparseable url with Kong's two violations (${kind})`, async () => {
      const r = await send(kind, 'POST', '/services', { url: 'invalid url' })
      assert.equal(r.status, 400)
      assert.deepEqual(r.json, {
        code: 2,
        name: 'schema violation',
        message: '2 schema violations (host: required field missing; path: should start with: /)',
        fields: { host: 'required field missing', path: 'should start with: /' },
      })
    })

    test(`rejects an empty or blank url (${kind})`, async () => {
      assert.equal((await send(kind, 'POST', '/services', { url: '' })).status, 400)
      assert.equal((await send(kind, 'POST', '/services', { url: ' ' })).status, 400)
    })

    test(`reports missing host and a bad protocol (${kind})`, async () => {
      const r1 = await send(kind, 'POST', '/services', {})
      assert.equal(r1.status, 400)
      assert.deepEqual(r1.json.fields, { host: 'required field missing' })
      const r2 = await send(kind, 'POST', '/services', { host: 'example.test', protocol: 'foo' })
      assert.deepEqual(r2.json.fields, { protocol: 'expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp' })
    })
  }

  test('form values are typed by the schema; JSON values are not', async () => {
    const f = await a.form('POST', '/services', 'host=typed.test&port=8080&retries=2&enabled=false&tags=a&tags=b')
    assert.equal(f.status, 201)
    assert.equal(f.json.port, 8080)
    assert.equal(f.json.retries, 2)
    assert.equal(f.json.enabled, false)
    assert.deepEqual(f.json.tags, ['a', 'b'])
    const j = await a.json('POST', '/services', { host: 'typed.test', port: '8080' })
    assert.equal(j.status, 400)
    assert.deepEqual(j.json.fields, { port: 'expected an integer' })
  })

  test('a second service with the same name is a 409 unique violation', async () => {
    assert.equal((await a.json('POST', '/services', { name: 'dup', host: 'a.test' })).status, 201)
    const r = await a.json('POST', '/services', { name: 'dup', host: 'b.test' })
    assert.equal(r.status, 409)
    assert.deepEqual(r.json, {
      code: 5, name: 'unique constraint violation', message: 'UNIQUE violation detected on \'{name="dup"}\'', fields: { name: 'dup' },
    })
  })

  test('an existing id in the body is a primary key violation', async () => {
    const s = (await a.json('POST', '/services', { host: 'pk.test' })).json
    const r = await a.json('POST', '/services', { id: s.id, host: 'pk2.test' })
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, { code: 3, name: 'primary key violation', message: `primary key violation on key '{id="${s.id}"}'`, fields: { id: s.id } })
  })

  test('a null id is a primary key violation, not a database error', async () => {
    const r = await a.json('POST', '/services', { id: null, host: 'null-id.test' })
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, { code: 3, name: 'primary key violation', message: "primary key violation on key '{id=null}'", fields: { id: null } })
  })

  test('a client certificate cannot point at certificates this build does not store', async () => {
    const id = randomUUID()
    const r = await a.json('POST', '/services', { url: 'https://c.test', client_certificate: { id } })
    assert.equal(r.status, 400)
    assert.equal(r.json.message, `the foreign key '{id="${id}"}' does not reference an existing 'certificates' entity.`)
  })
})

describe('GET /services/{service}', () => {
  test('retrieves by id, by name and by percent-escaped UTF-8 name', async () => {
    const s = (await a.json('POST', '/services', { name: '円', host: 'yen.test' })).json
    for (const key of [s.id, '円', '%E5%86%86']) {
      const r = await a.req('GET', `/services/${key === '円' ? encodeURIComponent(key) : key}`)
      assert.equal(r.status, 200, key)
      assert.deepEqual(r.json, s)
    }
  })

  test('404 for an unknown id or name; 400 for a name that cannot exist', async () => {
    assert.deepEqual((await a.json('GET', `/services/${randomUUID()}`)).json, { message: 'Not found' })
    assert.equal((await a.json('GET', '/services/not-found')).status, 404)
    const r = await a.json('GET', '/services/foo%20bar')
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, {
      code: 10, name: 'invalid unique name', message: "invalid value 'foo bar': the only accepted ascii characters are alphanumerics or ., -, _, and ~",
    })
  })

  test('ignores an invalid body on GET', async () => {
    const s = (await a.json('POST', '/services', { host: 'ignore.test' })).json
    const r = await a.req('GET', `/services/${s.id}`, { body: 'this fails if decoded as json', headers: { 'Content-Type': 'application/json' } })
    assert.equal(r.status, 200)
  })
})

describe('PUT /services/{service}', () => {
  test('creates with the id of the URL, then replaces fully (unsent fields reset)', async () => {
    const id = randomUUID()
    const c = await a.json('PUT', `/services/${id}`, { host: 'put.test', retries: 9, path: '/p', id: randomUUID() })
    assert.equal(c.status, 200)
    assert.equal(c.json.id, id)
    assert.equal(c.json.retries, 9)
    const r = await a.json('PUT', `/services/${id}`, { host: 'put2.test' })
    assert.equal(r.status, 200)
    assert.equal(r.json.id, id)
    assert.equal(r.json.host, 'put2.test')
    assert.equal(r.json.retries, 5)
    assert.equal(r.json.path, null)
    assert.deepEqual((await a.json('GET', `/services/${id}`)).json, r.json)
  })

  test('creates and updates by name; the URL name wins over the body', async () => {
    const c = await a.json('PUT', '/services/by-name', { host: 'n.test', name: 'other' })
    assert.equal(c.status, 200)
    assert.equal(c.json.name, 'by-name')
    const u = await a.form('PUT', '/services/by-name', 'url=http://n2.test:81/x')
    assert.equal(u.status, 200)
    assert.equal(u.json.id, c.json.id)
    assert.deepEqual([u.json.host, u.json.port, u.json.path], ['n2.test', 81, '/x'])
  })

  test('validates like POST', async () => {
    const r = await a.json('PUT', `/services/${randomUUID()}`, { connect_timeout: 'foobar' })
    assert.equal(r.status, 400)
    assert.equal(r.json.message, '2 schema violations (connect_timeout: expected an integer; host: required field missing)')
  })
})

describe('PATCH /services/{service}', () => {
  for (const kind of KINDS) {
    test(`updates only what is sent, by name (${kind})`, async () => {
      const name = `patch-${kind}`
      const s = (await a.json('POST', '/services', { name, host: 'p.test', retries: 3 })).json
      const r = await send(kind, 'PATCH', `/services/${name}`, { protocol: 'https' })
      assert.equal(r.status, 200)
      assert.equal(r.json.protocol, 'https')
      assert.equal(r.json.retries, 3)
      assert.equal(r.json.id, s.id)
      assert.equal(r.json.created_at, s.created_at)
      assert.deepEqual((await a.json('GET', `/services/${name}`)).json, r.json)
    })
  }

  test('url sets protocol, host, port and path together, path null when absent', async () => {
    const s = (await a.json('POST', '/services', { host: 'u.test', path: '/old' })).json
    const r1 = await a.json('PATCH', `/services/${s.id}`, { url: 'http://example.test:443' })
    assert.deepEqual([r1.json.protocol, r1.json.host, r1.json.port, r1.json.path], ['http', 'example.test', 443, null])
    const r2 = await a.json('PATCH', `/services/${s.id}`, { url: 'https://example2.test:80/' })
    assert.deepEqual([r2.json.protocol, r2.json.host, r2.json.port, r2.json.path], ['https', 'example2.test', 80, '/'])
  })

  test('JSON null clears a field', async () => {
    const s = (await a.json('POST', '/services', { name: 'to-clear', host: 'c.test' })).json
    const r = await a.json('PATCH', `/services/${s.id}`, { name: null })
    assert.equal(r.status, 200)
    assert.equal(r.json.name, null)
  })

  test('404 with Kong\'s not-found error when the service does not exist', async () => {
    const id = randomUUID()
    const r = await a.json('PATCH', `/services/${id}`, { host: 'x.test' })
    assert.equal(r.status, 404)
    assert.deepEqual(r.json, { code: 6, name: 'not found', message: `could not find the entity with primary key '{id="${id}"}'`, fields: { id } })
    const n = await a.json('PATCH', '/services/nope', { host: 'x.test' })
    assert.equal(n.status, 404)
    assert.equal(n.json.message, 'could not find the entity with \'{name="nope"}\'')
  })

  test('an invalid change leaves the stored service untouched', async () => {
    const s = (await a.json('POST', '/services', { host: 'keep.test' })).json
    const r = await a.json('PATCH', `/services/${s.id}`, { port: 70000, host: 'other.test' })
    assert.equal(r.status, 400)
    assert.equal(r.json.message, 'schema violation (port: value should be between 0 and 65535)')
    assert.deepEqual((await a.json('GET', `/services/${s.id}`)).json, s)
  })
})

describe('DELETE /services/{service}', () => {
  test('deletes by id and by name; 204 even when absent', async () => {
    const s1 = (await a.json('POST', '/services', { host: 'd.test' })).json
    const s2 = (await a.json('POST', '/services', { name: 'del-me', host: 'd.test' })).json
    const r1 = await a.json('DELETE', `/services/${s1.id}`)
    assert.equal(r1.status, 204)
    assert.equal(r1.text, '')
    assert.equal((await a.json('DELETE', '/services/del-me')).status, 204)
    assert.equal((await a.json('GET', `/services/${s2.id}`)).status, 404)
    assert.equal((await a.json('DELETE', `/services/${randomUUID()}`)).status, 204)
    assert.equal((await a.json('DELETE', '/services/not-found')).status, 204)
  })

  test('a service that routes still use cannot be deleted', async () => {
    const s = (await a.json('POST', '/services', { host: 'used.test' })).json
    assert.equal((await a.json('POST', '/routes', { paths: ['/used'], service: { id: s.id } })).status, 201)
    const r = await a.json('DELETE', `/services/${s.id}`)
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, {
      code: 4, name: 'foreign key violation', message: "an existing 'routes' entity references this 'services' entity", fields: { '@referenced_by': 'routes' },
    })
    assert.equal((await a.json('GET', `/services/${s.id}`)).status, 200)
  })
})

describe('GET /services', () => {
  test('paginates by primary key across pages, with Kong\'s next link', async () => {
    const admin = await startTestAdmin()
    try {
      const ids: string[] = []
      for (let i = 0; i < 10; i++) ids.push((await admin.json('POST', '/services', { name: `s${i}`, host: 'page.test' })).json.id)
      ids.sort()
      const all = await admin.json('GET', '/services')
      assert.equal(all.json.data.length, 10)
      assert.equal(all.json.next, null)
      assert.equal('offset' in all.json, false)
      const seen: string[] = []
      let offset: string | undefined
      for (let page = 1; page <= 4; page++) {
        const r = await admin.json('GET', `/services?size=3${offset !== undefined ? `&offset=${encodeURIComponent(offset)}` : ''}`)
        assert.equal(r.status, 200)
        assert.equal(r.json.data.length, page < 4 ? 3 : 1)
        seen.push(...r.json.data.map((s: { id: string }) => s.id))
        if (page < 4) {
          assert.equal(r.json.next, `/services?offset=${encodeURIComponent(r.json.offset)}&size=3`)
          assert.doesNotMatch(r.json.offset, /=/)
        } else assert.equal(r.json.next, null)
        offset = r.json.offset
      }
      assert.deepEqual(seen, ids)
      const via = await admin.json('GET', (await admin.json('GET', '/services?size=9')).json.next)
      assert.equal(via.json.data.length, 1)
    } finally { await admin.close() }
  })

  test('empty collections serialise data as [] and next as null', async () => {
    const admin = await startTestAdmin()
    try {
      const r = await admin.req('GET', '/services')
      assert.equal(r.text, '{"data":[],"next":null}')
      assert.deepEqual((await admin.json('GET', '/services?foo=bar')).json, { data: [], next: null })
    } finally { await admin.close() }
  })

  test('tags filter with AND (,) and OR (/), carried into next', async () => {
    await a.json('POST', '/services', { host: 't.test', tags: ['tag-a', 'tag-b'] })
    await a.json('POST', '/services', { host: 't.test', tags: ['tag-a'] })
    await a.json('POST', '/services', { host: 't.test', tags: ['tag-c', '🦍'] })
    assert.equal((await a.json('GET', '/services?tags=tag-a')).json.data.length, 2)
    assert.equal((await a.json('GET', '/services?tags=tag-a,tag-b')).json.data.length, 1)
    assert.equal((await a.json('GET', '/services?tags=tag-b/tag-c')).json.data.length, 2)
    assert.equal((await a.json('GET', `/services?tags=${encodeURIComponent('🦍')}`)).json.data.length, 1)
    const p = await a.json('GET', '/services?tags=tag-a&size=1')
    assert.equal(p.json.next, `/services?offset=${encodeURIComponent(p.json.offset)}&tags=tag-a&size=1`)
  })

  test('bad size, offset and tags are Kong\'s 400s', async () => {
    const cases: Array<[string, unknown]> = [
      ['size=x', { code: 9, name: 'invalid size', message: 'size must be a number' }],
      ['size=0', { code: 9, name: 'invalid size', message: 'size must be an integer between 1 and 1000' }],
      ['size=1001', { code: 9, name: 'invalid size', message: 'size must be an integer between 1 and 1000' }],
      ['size=1.5', { code: 9, name: 'invalid size', message: 'size must be an integer between 1 and 1000' }],
      ['offset=x', { code: 7, name: 'invalid offset', message: "'x' is not a valid offset: bad base64 encoding" }],
      ['offset=%7Cpotato%7C', { code: 7, name: 'invalid offset', message: "'|potato|' is not a valid offset: bad base64 encoding" }],
      ['offset=YWJj', { code: 7, name: 'invalid offset', message: "'YWJj' is not a valid offset: bad json encoding" }],
      ['tags=', { code: 11, name: 'invalid options', message: 'invalid option (tags: cannot be null)', options: { tags: 'cannot be null' } }],
      ['tags=a,b/c', { code: 11, name: 'invalid options', message: 'invalid option (tags: invalid filter syntax)', options: { tags: 'invalid filter syntax' } }],
      ['tags=%FF', { code: 11, name: 'invalid options', message: 'invalid option (tags: invalid filter syntax)', options: { tags: 'invalid filter syntax' } }],
    ]
    for (const [q, body] of cases) {
      const r = await a.json('GET', `/services?${q}`)
      assert.equal(r.status, 400, q)
      assert.deepEqual(r.json, body, q)
    }
  })
})
