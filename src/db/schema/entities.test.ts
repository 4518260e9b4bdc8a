/**
 * Services and routes schemas against Kong's own unit specs
 * (spec/01-unit/01-db/01-schema/05-services_spec.lua, 06-routes_spec.lua): defaults, the url
 * shorthand, field errors and entity checks, with Kong's exact messages.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { services } from './entities/services.ts'
import { routes } from './entities/routes.ts'
import { processAutoFields } from './process.ts'
import { validateEntity } from './validate.ts'
import { schemaViolation } from './db-errors.ts'
import type { EntitySchema, ErrorTree } from './types.ts'

const SID = 'a4fbd24e-6a52-4937-bd78-2536713072d2'

function insert (schema: EntitySchema, input: Record<string, unknown>): { entity?: Record<string, unknown>; errors?: Record<string, ErrorTree> } {
  const p = processAutoFields(schema, input, 'insert')
  if ('errors' in p) return { errors: p.errors }
  const errors = validateEntity(schema, p.entity, true)
  return errors === undefined ? { entity: p.entity } : { errors }
}

/** Errors as plain JSON (sparse element errors become nulls, as Kong's JSON shows them). */
const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v))

test('services: defaults are Kong\'s and every field is present with explicit nulls', () => {
  const { entity } = insert(services, { host: 'www.example.com' })
  assert.ok(entity)
  assert.equal(entity.protocol, 'http')
  assert.equal(entity.port, 80)
  assert.equal(entity.retries, 5)
  assert.equal(entity.connect_timeout, 60000)
  assert.equal(entity.write_timeout, 60000)
  assert.equal(entity.read_timeout, 60000)
  assert.equal(entity.enabled, true)
  for (const k of ['name', 'path', 'tags', 'client_certificate', 'tls_verify', 'tls_verify_depth', 'ca_certificates']) assert.equal(entity[k], null, k)
  assert.match(entity.id as string, /^[0-9a-f-]{36}$/)
  assert.equal(entity.created_at, entity.updated_at)
})

test('services: url shorthand fills protocol, host, port and path like LuaSocket parses it', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['http://service.test', { protocol: 'http', host: 'service.test', port: 80, path: null }],
    ['https://service.test/', { protocol: 'https', host: 'service.test', port: 443, path: '/' }],
    ['http://example.test:443', { protocol: 'http', host: 'example.test', port: 443, path: null }],
    ['https://example2.test:80/', { protocol: 'https', host: 'example2.test', port: 80, path: '/' }],
    ['http://edited2.test:1234/foo', { protocol: 'http', host: 'edited2.test', port: 1234, path: '/foo' }],
    ['grpcs://g.test', { protocol: 'grpcs', host: 'g.test', port: 80, path: null }],
    ['http://[::1]:8080/x?q=1#f', { protocol: 'http', host: '::1', port: 8080, path: '/x' }],
  ]
  for (const [url, want] of cases) {
    const { entity, errors } = insert(services, { url })
    assert.equal(errors, undefined, url)
    for (const [k, v] of Object.entries(want)) assert.equal(entity![k], v, `${url} ${k}`)
    assert.equal(entity!.url, undefined)
  }
})

test('services: an unparseable url reports the missing host and the bad path', () => {
  const { errors } = insert(services, { url: 'invalid url' })
  assert.deepEqual(json(schemaViolation(errors!).errT), {
    code: 2,
    name: 'schema violation',
    message: '2 schema violations (host: required field missing; path: should start with: /)',
    fields: { host: 'required field missing', path: 'should start with: /' },
  })
})

test('services: url must be a non-empty string', () => {
  assert.deepEqual(json(insert(services, { url: '' }).errors), { url: 'length must be at least 1' })
  assert.deepEqual(json(insert(services, { url: 5 }).errors), { url: 'expected a string' })
})

test('services: field errors carry Kong\'s messages', () => {
  const e = (input: Record<string, unknown>): unknown => json(insert(services, { host: 'example.com', ...input }).errors)
  assert.deepEqual(e({ protocol: 'foo' }), { protocol: 'expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp' })
  assert.deepEqual(e({ protocol: null }), { protocol: 'required field missing' })
  assert.deepEqual(e({ retries: -1 }), { retries: 'value should be between 0 and 32767' })
  assert.deepEqual(e({ connect_timeout: 0 }), { connect_timeout: 'value should be between 1 and 2147483646' })
  assert.deepEqual(e({ connect_timeout: 'foobar' }), { connect_timeout: 'expected an integer' })
  assert.deepEqual(e({ path: false }), { path: 'expected a string' })
  assert.deepEqual(e({ path: '' }), { path: 'length must be at least 1' })
  assert.deepEqual(e({ path: 'foo' }), { path: 'should start with: /' })
  assert.deepEqual(e({ path: '/foo//bar' }), { path: 'must not have empty segments' })
  assert.deepEqual(e({ path: '/ovo/{{x}}' }), { path: "invalid path: '/ovo/{{x}}' (characters outside of the reserved list of RFC 3986 found)" })
  assert.deepEqual(e({ path: '/some%2words' }), { path: "invalid url-encoded value: '%2w'" })
  assert.deepEqual(e({ path: '/some%20words%' }), { path: "invalid url-encoded value: '%'" })
  assert.deepEqual(e({ name: 'a b' }), { name: "invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~" })
  assert.deepEqual(e({ foo: 'bar' }), { foo: 'unknown field' })
  assert.deepEqual(e({ tags: ['a,b'] }), { tags: ["invalid tag 'a,b': expected printable ascii (except `,` and `/`) or valid utf-8 sequences"] })
  assert.deepEqual(e({ ca_certificates: ['x'], protocol: 'https' }), { ca_certificates: ['expected a valid UUID'] })
  assert.equal(insert(services, { host: 'example.com', path: "/hello/path$with$!&'()*+,;=stuff", name: '円~x' }).errors, undefined)
})

test('services: host must be a name or IP without a port', () => {
  const e = (host: unknown): unknown => json(insert(services, { host }).errors)
  for (const h of ['/example', '.example', 'example:', 'mock;bin', 'example.com/org', 'example-.org', 'example.org-', 'hello..example.com', 'hello-.example.com']) {
    assert.deepEqual(e(h), { host: `invalid value: ${h}` }, h)
  }
  assert.deepEqual(e('example.com:80'), { host: 'must not have a port' })
  assert.deepEqual(e('example.com:1000000'), { host: 'must not have a port' })
  for (const h of ['www.example.com', 'example.com.', 'hello.example.com', '127.0.0.1', '::1', '[::1]', 'x_y.test', '-a.test']) {
    assert.equal(insert(services, { host: h }).errors, undefined, h)
  }
})

test('services: stream and grpc protocols reject a path; TLS options need https or tls', () => {
  const { errors } = insert(services, { host: 'x.test', protocol: 'tcp', path: '/' })
  assert.equal(schemaViolation(errors!).errT.message,
    "2 schema violations (failed conditional validation given value of field 'protocol'; path: value must be null)")
  const tls = insert(services, { host: 'x.test', protocol: 'http', tls_verify: true })
  assert.deepEqual(json(tls.errors), { tls_verify: 'value must be null', '@entity': ["failed conditional validation given value of field 'protocol'"] })
  assert.equal(insert(services, { host: 'x.test', protocol: 'https', tls_verify: true, tls_verify_depth: 3 }).errors, undefined)
})

test('routes: defaults, set de-duplication and the http subschema', () => {
  const { entity } = insert(routes, { paths: ['/foo'], protocols: ['http', 'http'] })
  assert.ok(entity)
  assert.deepEqual(entity.protocols, ['http'])
  assert.equal(entity.strip_path, true)
  assert.equal(entity.preserve_host, false)
  assert.equal(entity.https_redirect_status_code, 426)
  assert.equal(entity.regex_priority, 0)
  assert.equal(entity.path_handling, 'v0')
  assert.equal(entity.request_buffering, true)
  assert.equal(entity.response_buffering, true)
  assert.equal(entity.service, null)
  assert.equal(insert(routes, { paths: ['/foo'] }).entity!.protocols?.toString(), 'http,https')
})

test('routes: an empty route needs a routing attribute for https', () => {
  assert.deepEqual(json(insert(routes, {}).errors), {
    '@entity': ["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"],
  })
  assert.deepEqual(json(insert(routes, { protocols: ['http'] }).errors), {
    '@entity': ["must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"],
  })
  assert.deepEqual(json(insert(routes, { protocols: ['grpc', 'grpcs'] }).errors), {
    '@entity': ["must set one of 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'grpcs'"],
  })
  assert.deepEqual(json(insert(routes, { protocols: ['tcp'] }).errors), {
    '@entity': ["must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', 'tls' or 'udp'"],
  })
  assert.deepEqual(json(insert(routes, { protocols: ['tls_passthrough'], sources: [{ ip: '127.0.0.1' }] }).errors), {
    '@entity': ["must set snis when 'protocols' is 'tls_passthrough'"],
  })
})

test('routes: protocol errors name the element, mixes of protocol families are refused', () => {
  const r = insert(routes, { methods: ['GET'], protocols: ['foo', 'http'] })
  assert.equal(schemaViolation(r.errors!).errT.message,
    'schema violation (protocols.1: expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp)')
  assert.deepEqual(json(insert(routes, { protocols: ['tls', 'tls_passthrough'], snis: ['a.test'] }).errors), {
    protocols: "these sets are mutually exclusive: ('tcp', 'tls', 'udp'), ('tls_passthrough')",
  })
  assert.deepEqual(json(insert(routes, { paths: ['/'], protocols: ['foo'] }).errors), { protocols: 'unknown type: foo' })
  assert.deepEqual(json(insert(routes, { paths: ['/'], https_redirect_status_code: 400 }).errors), {
    https_redirect_status_code: 'expected one of: 426, 301, 302, 307, 308',
  })
})

test('routes: grpc routes refuse methods and strip_path', () => {
  assert.deepEqual(json(insert(routes, { protocols: ['grpc', 'grpcs'], paths: ['/'], strip_path: true }).errors), {
    strip_path: "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'",
  })
  assert.deepEqual(json(insert(routes, { protocols: ['grpc'], paths: ['/'], methods: ['GET'] }).errors), {
    methods: "cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'",
  })
  assert.equal(insert(routes, { protocols: ['grpc', 'grpcs'], hosts: ['a.test'] }).entity!.strip_path, false)
})

test('routes: stream routes refuse http attributes and accept sources/destinations', () => {
  assert.deepEqual(json(insert(routes, { protocols: ['tcp'], sources: [{ ip: '1.2.3.4' }], paths: ['/'] }).errors), {
    paths: "cannot set 'paths' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'",
  })
  const ok = insert(routes, { protocols: ['tcp'], destinations: [{ ip: '127.0.0.1' }, { port: 8000 }, { ip: '10.0.0.0/8', port: 1 }] })
  assert.deepEqual(json(ok.entity!.destinations), [{ ip: '127.0.0.1', port: null }, { ip: null, port: 8000 }, { ip: '10.0.0.0/8', port: 1 }])
  assert.deepEqual(json(insert(routes, { protocols: ['tcp'], sources: [{ ip: '0.0.0.0/33' }, {}] }).errors), {
    sources: [{ ip: "invalid ip or cidr range: '0.0.0.0/33'" }, { '@entity': ["at least one of these fields must be non-empty: 'ip', 'port'"] }],
  })
  assert.deepEqual(json(insert(routes, { paths: ['/'], sources: [{ ip: '1.2.3.4' }] }).errors), {
    sources: "cannot set 'sources' when 'protocols' is 'http' or 'https'",
  })
})

test('routes: snis only with https, grpcs, tls or tls_passthrough', () => {
  const r = insert(routes, { paths: ['/'], protocols: ['http'], snis: ['a.test'] })
  assert.equal(schemaViolation(r.errors!).errT.message,
    "2 schema violations ('snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'; snis: length must be 0)")
  assert.deepEqual(json(insert(routes, { paths: ['/'], snis: ['120.0.9.32', '*.a.test', 'a.*', 'a:80', 'x*y'] }).errors), {
    snis: ['must not be an IP', null, null, 'must not have a port', 'wildcard must be leftmost or rightmost character'],
  })
})

test('routes: hosts allow one wildcard at the leftmost or rightmost label, and a port', () => {
  const e = (h: string): unknown => json(insert(routes, { hosts: [h] }).errors)
  assert.deepEqual(e('a.*.test'), { hosts: ['invalid wildcard: must be placed at leftmost or rightmost label'] })
  assert.deepEqual(e('*.a.*'), { hosts: ['invalid wildcard: must have at most one wildcard'] })
  assert.deepEqual(e('example.test:99999'), { hosts: ['invalid port number'] })
  assert.deepEqual(e('hello..example.com'), { hosts: ['invalid hostname: hello..example.com'] })
  for (const h of ['*.example.test', 'example.*', 'example.test:8080', '127.0.0.1:80', '[::1]:8000']) assert.equal(insert(routes, { hosts: [h] }).errors, undefined, h)
})

test('routes: paths must be normalized prefixes or compilable regexes', () => {
  const e = (p: unknown): unknown => json(insert(routes, { paths: [p] }).errors)
  assert.deepEqual(e('foo'), { paths: ['should start with: / (fixed path) or ~/ (regex path)'] })
  assert.deepEqual(e('/foo//bar'), { paths: ['must not have empty segments'] })
  assert.deepEqual(e(''), { paths: ['length must be at least 1'] })
  assert.deepEqual(e(5), { paths: ['expected a string'] })
  assert.deepEqual(e('/a/../b'), { paths: ["non-normalized path, consider use '/b' instead"] })
  assert.deepEqual(e('/%c3%A4'), { paths: ["non-normalized path, consider use '/ä' instead"] })
  assert.deepEqual(e('/a%2fb'), { paths: ["non-normalized path, consider use '/a%2Fb' instead"] })
  assert.deepEqual(e('/some%2Gwords'), { paths: ["invalid url-encoded value: '%2G'"] })
  assert.deepEqual(e('~/users/(foo/profile'), {
    paths: ['invalid regex: \'/users/(foo/profile\' (PCRE returned: pcre2_compile() failed: missing closing parenthesis in "/users/(foo/profile")'],
  })
  for (const p of ['/', '/abcd~user~2', '/ovo/', '/%25', '~/v\\d+/(?<name>[^/]+)$', '/ä', '/a%2Fb']) assert.equal(insert(routes, { paths: [p] }).errors, undefined, p)
})

test('routes: headers are a map of names to lists and must not include host', () => {
  const e = (h: unknown): unknown => json(insert(routes, { headers: h }).errors)
  assert.deepEqual(e({ HoSt: ['x'] }), { headers: "cannot contain 'host' header, which must be specified in the 'hosts' attribute" })
  assert.deepEqual(e({ 'x-a': 'b' }), { headers: 'expected an array' })
  assert.deepEqual(e({ 'x-a': [''] }), { headers: ['length must be at least 1'] })
  assert.deepEqual(e({ 'x a': ['b'] }), { headers: "bad header name 'x a', allowed characters are A-Z, a-z, 0-9, '_', and '-'" })
  assert.equal(insert(routes, { headers: { location: ['my-location'] } }).errors, undefined)
})

test('routes: methods must be uppercase tokens', () => {
  assert.deepEqual(json(insert(routes, { methods: ['get'] }).errors), { methods: ['invalid value: get'] })
  assert.deepEqual(json(insert(routes, { methods: ['GET', 'PO ST'] }).errors), { methods: [null, 'invalid value: PO ST'] })
})

test('routes: the service foreign key is validated against the services schema', () => {
  assert.deepEqual(json(insert(routes, { paths: ['/'], service: { protocol: 'foo' } }).errors), {
    service: { protocol: 'expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp' },
  })
  assert.deepEqual(json(insert(routes, { paths: ['/'], service: { name: null } }).errors), { service: { id: 'missing primary key' } })
  assert.deepEqual(json(insert(routes, { paths: ['/'], service: { id: null } }).errors), { service: { id: 'required field missing' } })
  assert.deepEqual(json(insert(routes, { paths: ['/'], service: { id: 'x' } }).errors), { service: { id: 'expected a valid UUID' } })
  assert.equal(insert(routes, { paths: ['/'], service: { id: SID } }).errors, undefined)
})

test('unbounded integers are limited to what a bigint column holds', () => {
  assert.deepEqual(json(insert(routes, { paths: ['/'], regex_priority: 1e300 }).errors), {
    regex_priority: 'value should be between -9223372036854775808 and 9223372036854775807',
  })
  assert.equal(insert(routes, { paths: ['/'], regex_priority: 9007199254740992 }).errors, undefined)
})

test('strings with NUL characters or lone surrogates never validate', () => {
  assert.deepEqual(json(insert(routes, { paths: ['/'], headers: { a: ['x\u0000y'] } }).errors), { headers: ['invalid value: NUL characters are not allowed'] })
  assert.deepEqual(json(insert(services, { host: 'a.test', tags: ['a\ud800'] }).errors), { tags: ['invalid utf-8 character sequence detected at position 2'] })
})
