/**
 * Ports of the schema specs of Kong's spec/03-plugins (validate_plugin_config_schema: the plugin
 * entity with `config`, defaults filled, validated as the Admin API does): the error tree Kong
 * returns under `fields` for a bad config, and configs that must pass. Plugins: rate-limiting,
 * response-ratelimiting, cors, request-termination, ip-restriction, redirect, correlation-id,
 * proxy-cache, request-transformer.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setDatabaseOff } from '../../src/plugins/schemas.ts'
import { getSchema } from '../../src/db/schema/registry.ts'
import { processAutoFields } from '../../src/db/schema/process.ts'
import { validateEntity } from '../../src/db/schema/validate.ts'

const plugins = getSchema('plugins')!

function v (name: string, config: unknown): { ok: true; config: Record<string, unknown> } | { ok: false; err: any } {
  const p = processAutoFields(plugins, { name, config }, 'insert')
  if ('errors' in p) return { ok: false, err: JSON.parse(JSON.stringify(p.errors)) }
  const errors = validateEntity(plugins, p.entity, true)
  return errors === undefined ? { ok: true, config: p.entity.config as Record<string, unknown> } : { ok: false, err: JSON.parse(JSON.stringify(errors)) }
}
function ok (name: string, config: unknown): Record<string, unknown> {
  const r = v(name, config)
  assert.ok(r.ok, `${name} ${JSON.stringify(config)}: ${r.ok ? '' : JSON.stringify(r.err)}`)
  return r.config
}
function err (name: string, config: unknown): any {
  const r = v(name, config)
  assert.ok(!r.ok, `${name} ${JSON.stringify(config)} should fail`)
  return r.err
}

const REDIS = { host: '127.0.0.1', port: 6379, database: 0, username: 'test', password: 'testXXX', ssl: true, ssl_verify: false, timeout: 1100, server_name: 'test.test' }
const REDIS_LEGACY = {
  redis_host: '127.0.0.1', redis_port: 6379, redis_database: 0, redis_username: 'test', redis_password: 'testXXX', redis_ssl: true,
  redis_ssl_verify: false, redis_timeout: 1100, redis_server_name: 'test.test',
}

test('23-rate-limiting/01-schema_spec', () => {
  ok('rate-limiting', { second: 10 })
  ok('rate-limiting', { second: 10, minute: 20, hour: 30, day: 40, month: 50, year: 60 })
  ok('rate-limiting', { second: 10, limit_by: 'header', header_name: 'X-App-Version' })
  ok('rate-limiting', { second: 10, limit_by: 'path', path: '/request' })
  assert.equal(err('rate-limiting', { second: 20, hour: 10 }).config, 'The limit for hour(10.0) cannot be lower than the limit for second(20.0)')
  assert.equal(err('rate-limiting', { second: 10, minute: 20, hour: 30, day: 40, month: 60, year: 50 }).config, 'The limit for year(50.0) cannot be lower than the limit for month(60.0)')
  assert.deepEqual(err('rate-limiting', {})['@entity'], ["at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'"])
  assert.equal(err('rate-limiting', { second: 10, limit_by: 'header' }).config.header_name, 'required field missing')
  assert.equal(err('rate-limiting', { second: 10, limit_by: 'path' }).config.path, 'required field missing')
  ok('rate-limiting', { second: 10, policy: 'redis', redis: REDIS })
  const legacy = ok('rate-limiting', { second: 10, policy: 'redis', ...REDIS_LEGACY })
  assert.deepEqual({ ...(legacy.redis as object) }, REDIS)
  assert.equal(err('rate-limiting', { second: 10, policy: 'redis', redis: { ...REDIS, host: undefined } }).config.redis.host, 'required field missing')
})

test('24-response-rate-limiting/01-schema_spec', () => {
  ok('response-ratelimiting', { limits: { video: { second: 1 } } })
  ok('response-ratelimiting', { limits: { video: { second: 1, minute: 2, hour: 3, day: 4, month: 5, year: 6 } } })
  assert.equal(err('response-ratelimiting', {}).config.limits, 'required field missing')
  assert.equal(err('response-ratelimiting', { limits: {} }).config.limits, 'length must be at least 1')
  assert.equal(err('response-ratelimiting', { limits: { video: { seco: 1 } } }).config.limits.seco, 'unknown field')
  ok('response-ratelimiting', { limits: { video: { second: null, minute: 1 } } })
  assert.equal(err('response-ratelimiting', { limits: { video: { second: 2, minute: 1 } } }).config.limits, 'the limit for minute(1.0) cannot be lower than the limit for second(2.0)')
  assert.equal(err('response-ratelimiting', { limits: { video: { second: 1, minute: 2, hour: 3, day: 4, month: 6, year: 5 } } }).config.limits,
    'the limit for year(5.0) cannot be lower than the limit for month(6.0)')
  assert.equal(err('response-ratelimiting', { limits: { second: 10 } }).config.limits, 'expected a record')
  ok('response-ratelimiting', { limits: { video: { second: 10 } }, policy: 'redis', redis: REDIS })
  ok('response-ratelimiting', { limits: { video: { second: 10 } }, policy: 'redis', ...REDIS_LEGACY })
  assert.equal(err('response-ratelimiting', { limits: { video: { second: 10 } }, policy: 'redis', redis: { ...REDIS, host: undefined } }).config.redis.host, 'required field missing')
})

test('13-cors/02-schema_spec', () => {
  ok('cors', { origins: ['*'] })
  ok('cors', { origins: ['example.com'] })
  ok('cors', { origins: ['.*\\.example(?:-foo)?\\.com'] })
  assert.equal(err('cors', { origins: ['.*.example.com', 'invalid_**regex'] }).config.origins[1], "'invalid_**regex' is not a valid regex")
  for (const m of ['HEAD', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']) ok('cors', { methods: [m] })
  assert.equal(err('cors', { methods: ['FAKE'] }).config.methods[0], 'expected one of: GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS, TRACE, CONNECT')
})

test('14-request-termination/01-schema_spec', () => {
  ok('request-termination', { status_code: 404 })
  ok('request-termination', { message: 'Not found' })
  ok('request-termination', { content_type: 'text/html', body: '<body><h1>Not found</h1>' })
  ok('request-termination', { body: '<body><h1>Not found</h1>' })
  ok('request-termination', { echo: true, trigger: 'header_name' })
  assert.equal(err('request-termination', { status_code: 'abcd' }).config.status_code, 'expected an integer')
  assert.equal(err('request-termination', { status_code: null }).config.status_code, 'required field missing')
  assert.equal(err('request-termination', { status_code: 99 }).config.status_code, 'value should be between 100 and 599')
  assert.equal(err('request-termination', { status_code: 600 }).config.status_code, 'value should be between 100 and 599')
  for (const c of [{ message: 'error', body: 'test' }, { message: 'error', content_type: 'text/html', body: 'test' }, { message: 'error', content_type: 'text/html' }]) {
    assert.equal(err('request-termination', c).config, 'message cannot be used with content_type or body')
  }
  assert.equal(err('request-termination', { content_type: 'text/html' }).config, 'content_type requires a body')
  assert.equal(err('request-termination', { echo: true, content_type: 'text/html', body: '<body><h1>Not found</h1>' }).config, 'echo cannot be used with content_type and body')
})

test('17-ip-restriction/01-schema_spec', () => {
  ok('ip-restriction', { allow: ['127.0.0.1/32', '127.0.0.2/32'] })
  ok('ip-restriction', { allow: ['127.0.0.1/32', '127.0.0.2/32'], status: 403, message: 'Forbidden' })
  ok('ip-restriction', { allow: ['127.0.0.1/8'] })
  ok('ip-restriction', { deny: ['127.0.0.1/32', '127.0.0.2/32'] })
  ok('ip-restriction', { deny: ['127.0.0.2/32'], allow: ['127.0.0.1/32'] })
  assert.deepEqual(err('ip-restriction', { allow: 12 }).config, { allow: 'expected an array' })
  assert.deepEqual(err('ip-restriction', { allow: ['hello'] }).config, { allow: ["invalid ip or cidr range: 'hello'"] })
  assert.deepEqual(err('ip-restriction', { allow: ['127.0.0.1/32', '127.0.0.2/32', 'hello'] }).config, { allow: [null, null, "invalid ip or cidr range: 'hello'"] })
  assert.deepEqual(err('ip-restriction', { deny: 12 }).config, { deny: 'expected an array' })
  assert.deepEqual(err('ip-restriction', { deny: ['127.0.0.1/32', '127.0.0.2/32', 'hello'] }).config, { deny: [null, null, "invalid ip or cidr range: 'hello'"] })
  assert.deepEqual(err('ip-restriction', { deny: [], allow: [] })['@entity'], ["at least one of these fields must be non-empty: 'config.allow', 'config.deny'"])
  assert.deepEqual(err('ip-restriction', { allow: ['0.0.0.0/a', '0.0.0.0/-1', '0.0.0.0/33'] }).config.allow,
    ['0.0.0.0/a', '0.0.0.0/-1', '0.0.0.0/33'].map((x) => `invalid ip or cidr range: '${x}'`))
  const v6 = ['::/a', '::/-1', '::/129', '::1/a', '::1/-1', '::1/129']
  assert.deepEqual(err('ip-restriction', { allow: v6 }).config.allow, v6.map((x) => `invalid ip or cidr range: '${x}'`))
  ok('ip-restriction', { allow: ['::/0', '::/1', '::/128'] })
})

test('45-redirect/01-schema_spec', () => {
  ok('redirect', { status_code: 404, location: 'https://example.com' })
  ok('redirect', { location: 'https://example.com' })
  assert.equal(err('redirect', { status_code: 'abcd', location: 'https://example.com' }).config.status_code, 'expected an integer')
  assert.equal(err('redirect', { status_code: null, location: 'https://example.com' }).config.status_code, 'required field missing')
  assert.equal(err('redirect', { status_code: 99, location: 'https://example.com' }).config.status_code, 'value should be between 100 and 599')
  assert.equal(err('redirect', { status_code: 600, location: 'https://example.com' }).config.status_code, 'value should be between 100 and 599')
  assert.equal(err('redirect', { status_code: 301 }).config.location, 'required field missing')
  assert.equal(err('redirect', { status_code: 301, location: 'definitely_not_a_url' }).config.location, 'missing host in url')
  assert.equal(err('redirect', { status_code: 301, location: 'https://example.com', keep_incoming_path: 'invalid' }).config.keep_incoming_path, 'expected a boolean')
})

test('11-correlation-id/02-schema_spec', () => {
  assert.equal(err('correlation-id', { generator: null }).config.generator, 'required field missing')
})

test('31-proxy-cache/01-schema_spec', () => {
  assert.deepEqual(ok('proxy-cache', { strategy: 'memory' }).content_type, ['text/plain', 'application/json'])
  ok('proxy-cache', { strategy: 'memory', response_code: [200, 301], request_method: ['GET'], content_type: ['application/json'] })
  ok('proxy-cache', { strategy: 'memory', response_code: [123, 200] })
  assert.deepEqual(err('proxy-cache', { strategy: 'memory', response_code: [99] }).config.response_code, ['value should be between 100 and 900'])
  assert.equal(err('proxy-cache', { strategy: 'memory', response_code: [] }).config.response_code, 'length must be at least 1')
  assert.equal(err('proxy-cache', { strategy: 'memory', response_code: '' }).config.response_code, 'expected an array')
  assert.deepEqual(err('proxy-cache', { strategy: 'memory', response_code: [true, 'alo', 123] }).config.response_code, ['expected an integer', 'expected an integer'])
  assert.deepEqual(err('proxy-cache', { strategy: 'memory', response_code: [123.5] }).config.response_code, ['expected an integer'])
  assert.equal(err('proxy-cache', { strategy: 'memory', cache_ttl: -1 }).config.cache_ttl, 'value must be greater than 0')
  ok('proxy-cache', { strategy: 'memory', vary_query_params: ['foo'] })
  ok('proxy-cache', { strategy: 'memory', vary_headers: ['foo'] })
  ok('proxy-cache', { strategy: 'memory', content_type: ['application/*', '*/text'] })
  ok('proxy-cache', { strategy: 'memory', content_type: ['*/*'] })
  ok('proxy-cache', { strategy: 'memory', content_type: ['application/json; charset=UTF-8'] })
})

test('36-request-transformer/01-schema_spec', () => {
  ok('request-transformer', { http_method: 'GET' })
  assert.equal(err('request-transformer', { http_method: 'HELLO!' }).config.http_method, 'invalid value: HELLO!')
  ok('request-transformer', { add: { querystring: ['uri_param1:$(uri_captures.user1)', 'uri_param2:$(uri_captures.user2)'] } })
  ok('request-transformer', { add: { querystring: ['uri_param1:$(uri_captures.user1)', 'uri_param2:value'] } })
  assert.deepEqual(err('request-transformer', { add: { querystring: ['uri_param2:'] } }).config.add.querystring, ["key 'uri_param2' has no value"])
  // a Lua syntax error in a body or querystring template (penlight's compile fails)
  const bad = err('request-transformer', { add: { querystring: ['uri_param2:$(uri_captures user2)'] } }).config.add.querystring[0] as string
  assert.match(bad, /^value '\$\(uri_captures user2\)' is not in supported format, error:/)
  // valid Lua that fails only when rendered is accepted; so is a `$(` without its `)` (plain text to penlight)
  ok('request-transformer', { add: { querystring: ['q:$(ERROR())', 'r:$(10 * uri_captures.user1)', 'plain:$(not closed'] } })
  // header values are not compiled by Kong's schema
  ok('request-transformer', { add: { headers: ['X-Write-Attempt:$(shared.written = true)'] } })
})

test('23-rate-limiting/03-api_spec and 24-response-rate-limiting/03-api_spec: policy cluster is refused with database = off', (t) => {
  t.after(() => setDatabaseOff(false))
  assert.equal(ok('rate-limiting', { second: 10 }).policy, 'local')
  ok('rate-limiting', { second: 10, policy: 'cluster' })
  setDatabaseOff(true)
  assert.equal(ok('rate-limiting', { second: 10 }).policy, 'local')
  assert.equal(err('rate-limiting', { second: 10, policy: 'cluster' }).config.policy, 'expected one of: local, redis')
  assert.equal(err('response-ratelimiting', { limits: { video: { second: 1 } }, policy: 'cluster' }).config.policy, 'expected one of: local, redis')
  setDatabaseOff(false)
  ok('response-ratelimiting', { limits: { video: { second: 1 } }, policy: 'cluster' })
})

test('15-response-transformer/03-api_spec and 36-request-transformer/03-api_spec', () => {
  const rt = ok('response-transformer', { remove: { headers: ['just_a_key'], json: ['just_a_key'] } }) as any
  assert.equal(rt.remove.headers[0], 'just_a_key')
  ok('response-transformer', { rename: { headers: ['x-request-id:x-custom-request-id'], json: ['old_key:new_key'] } })
  assert.deepEqual(err('response-transformer', { rename: { headers: ['x-request-idx-custom-request-id'] } }).config.rename.headers, ['invalid value: x-request-idx-custom-request-id'])
  assert.deepEqual(err('response-transformer', { rename: { headers: ['x-requ,est-id:x-custom-request-id'] } }).config.rename.headers, ["'x-requ,est-id' is not a valid header"])
  for (const part of ['add', 'replace', 'append']) {
    assert.deepEqual(err('response-transformer', { [part]: { headers: ['just_a_key'] } }), { config: { [part]: { headers: ['invalid value: just_a_key'] } } })
    assert.deepEqual(err('request-transformer', { [part]: { headers: ['just_a_key'] } }), { config: { [part]: { headers: ['invalid value: just_a_key'] } } })
  }
  ok('request-transformer', { remove: { headers: ['just_a_key'], body: ['just_a_key'], querystring: ['just_a_key'] } })
  const missing = (keys: string[]): Record<string, string> => Object.fromEntries(keys.map((k) => [k, 'required field missing']))
  const nulls = (keys: string[]): Record<string, null> => Object.fromEntries(keys.map((k) => [k, null]))
  const rtKeys = { remove: ['headers', 'json'], rename: ['headers', 'json'], replace: ['headers', 'json', 'json_types'], add: ['headers', 'json', 'json_types'], append: ['headers', 'json', 'json_types'] }
  assert.deepEqual(err('response-transformer', Object.fromEntries(Object.entries(rtKeys).map(([k, v]) => [k, nulls(v)]))).config,
    Object.fromEntries(Object.entries(rtKeys).map(([k, v]) => [k, missing(v)])))
  const rq = ['body', 'headers', 'querystring']
  const parts = ['remove', 'rename', 'replace', 'add', 'append']
  assert.deepEqual(err('request-transformer', Object.fromEntries(parts.map((k) => [k, nulls(rq)]))).config, Object.fromEntries(parts.map((k) => [k, missing(rq)])))
})
