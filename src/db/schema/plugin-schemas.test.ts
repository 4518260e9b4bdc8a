/**
 * Plugin config schemas (src/plugins/<name>/schema.ts) against Kong's kong/plugins/<name>/schema.lua:
 * the defaults a minimal config gets, the scoping flags and default protocols, PRIORITY values
 * (kong.md 4.2), and the plugin-specific checks with Kong's messages. No database.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { enabledPlugins, getPlugin, PLUGINS } from '../../plugins/schemas.ts'
import { getSchema } from './registry.ts'
import { processAutoFields } from './process.ts'
import { validateEntity } from './validate.ts'
import { schemaToJson } from './jsonable.ts'
import type { ErrorTree } from './types.ts'

const plugins = getSchema('plugins')!

function make (name: string, config: unknown, extra: Record<string, unknown> = {}): { entity?: Record<string, any>; errors?: Record<string, ErrorTree> } {
  const p = processAutoFields(plugins, { name, config, ...extra }, 'insert')
  if ('errors' in p) return { errors: p.errors }
  const errors = validateEntity(plugins, p.entity, true)
  return errors === undefined ? { entity: p.entity } : { errors: JSON.parse(JSON.stringify(errors)) }
}

const REDIS = { host: null, port: 6379, timeout: 2000, username: null, password: null, database: 0, ssl: false, ssl_verify: false, server_name: null }
const none = { body: [], headers: [], querystring: [] }

// minimal config -> the complete config Kong stores (kong/plugins/<name>/schema.lua)
const DEFAULTS: Record<string, [unknown, Record<string, unknown>]> = {
  'key-auth': [{}, { key_names: ['apikey'], hide_credentials: false, anonymous: null, key_in_header: true, key_in_query: true, key_in_body: false, run_on_preflight: true, realm: null }],
  'basic-auth': [{}, { anonymous: null, hide_credentials: false, realm: 'service' }],
  jwt: [{}, { uri_param_names: ['jwt'], cookie_names: [], key_claim_name: 'iss', secret_is_base64: false, claims_to_verify: null, anonymous: null, run_on_preflight: true, maximum_expiration: 0, header_names: ['authorization'], realm: null }],
  oauth2: [{ enable_client_credentials: true, provision_key: 'pk' }, {
    scopes: null, mandatory_scope: false, provision_key: 'pk', token_expiration: 7200, enable_authorization_code: false, enable_implicit_grant: false,
    enable_client_credentials: true, enable_password_grant: false, hide_credentials: false, accept_http_if_already_terminated: false, anonymous: null,
    global_credentials: false, auth_header_name: 'authorization', refresh_token_ttl: 1209600, reuse_refresh_token: false, pkce: 'lax', realm: null,
  }],
  'hmac-auth': [{}, { hide_credentials: false, clock_skew: 300, anonymous: null, validate_request_body: false, enforce_headers: [], algorithms: ['hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'], realm: null }],
  session: [{ secret: 's' }, {
    secret: 's', storage: 'cookie', audience: 'default', idling_timeout: 900, rolling_timeout: 3600, absolute_timeout: 86400, stale_ttl: 10,
    cookie_name: 'session', cookie_path: '/', cookie_domain: null, cookie_same_site: 'Strict', cookie_http_only: true, cookie_secure: true,
    remember: false, remember_cookie_name: 'remember', remember_rolling_timeout: 604800, remember_absolute_timeout: 2592000,
    response_headers: null, request_headers: null, read_body_for_logout: false, logout_methods: ['POST', 'DELETE'],
    logout_query_arg: 'session_logout', logout_post_arg: 'session_logout', hash_subject: false, store_metadata: false,
  }],
  acl: [{ allow: ['g'] }, { allow: ['g'], deny: null, hide_groups_header: false, always_use_authenticated_groups: false }],
  'ip-restriction': [{ deny: ['10.0.0.0/8'] }, { allow: null, deny: ['10.0.0.0/8'], status: null, message: null }],
  'bot-detection': [{}, { allow: [], deny: [] }],
  cors: [{}, { origins: null, headers: null, exposed_headers: null, methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'], max_age: null, credentials: false, private_network: false, preflight_continue: false, allow_origin_absent: true }],
  'request-size-limiting': [{}, { allowed_payload_size: 128, size_unit: 'megabytes', require_content_length: false }],
  'request-termination': [{}, { status_code: 503, message: null, content_type: null, body: null, echo: false, trigger: null }],
  'request-transformer': [{}, { http_method: null, remove: none, rename: none, replace: { ...none, uri: null }, add: none, append: none }],
  'response-transformer': [{}, {
    remove: { json: [], headers: [] }, rename: { json: [], headers: [] }, replace: { json: [], json_types: [], headers: [] },
    add: { json: [], json_types: [], headers: [] }, append: { json: [], json_types: [], headers: [] },
  }],
  'correlation-id': [{}, { header_name: 'Kong-Request-ID', generator: 'uuid#counter', echo_downstream: false }],
  'proxy-cache': [{ strategy: 'memory' }, {
    response_code: [200, 301, 404], request_method: ['GET', 'HEAD'], content_type: ['text/plain', 'application/json'], cache_ttl: 300, strategy: 'memory',
    cache_control: false, ignore_uri_case: false, storage_ttl: null, memory: { dictionary_name: 'kong_db_cache' }, vary_query_params: null, vary_headers: null,
    response_headers: { age: true, 'X-Cache-Status': true, 'X-Cache-Key': true },
  }],
  redirect: [{ location: 'https://example.test' }, { status_code: 301, location: 'https://example.test', keep_incoming_path: false }],
  'ai-prompt-template': [{ templates: [{ name: 'n', template: 't' }] }, { templates: [{ name: 'n', template: 't' }], allow_untemplated_requests: true, log_original_request: false, max_request_body_size: 8192 }],
  'ai-prompt-decorator': [{ prompts: { prepend: [{ content: 'x' }] } }, { prompts: { prepend: [{ role: 'system', content: 'x' }], append: null }, max_request_body_size: 8192, llm_format: 'openai' }],
  'ai-prompt-guard': [{ deny_patterns: ['x'] }, { allow_patterns: null, deny_patterns: ['x'], allow_all_conversation_history: false, max_request_body_size: 8192, match_all_roles: false, llm_format: 'openai' }],
  'standard-webhooks': [{ secret_v1: 's' }, { secret_v1: 's', tolerance_second: 300 }],
  'azure-functions': [{ appname: 'a', functionname: 'f' }, {
    timeout: 600000, keepalive: 60000, https: true, https_verify: false, apikey: null, clientid: null, appname: 'a', hostdomain: 'azurewebsites.net', routeprefix: 'api', functionname: 'f',
  }],
  'file-log': [{ path: '/tmp/file.log' }, { path: '/tmp/file.log', reopen: false, custom_fields_by_lua: null }],
  'http-log': [{ http_endpoint: 'http://log.test' }, {
    http_endpoint: 'http://log.test', method: 'POST', content_type: 'application/json', timeout: 10000, keepalive: 60000, retry_count: null, queue_size: null,
    flush_timeout: null, headers: null, custom_fields_by_lua: null,
    queue: { max_batch_size: 1, max_coalescing_delay: 1, max_entries: 10000, max_bytes: null, max_retry_time: 60, initial_retry_delay: 0.01, max_retry_delay: 60, concurrency_limit: 1 },
  }],
  'tcp-log': [{ host: 'log.test', port: 514 }, { host: 'log.test', port: 514, timeout: 10000, keepalive: 60000, tls: false, tls_sni: null, custom_fields_by_lua: null }],
  'udp-log': [{ host: 'log.test', port: 514 }, { host: 'log.test', port: 514, timeout: 10000, custom_fields_by_lua: null }],
  'rate-limiting': [{ minute: 6 }, {
    second: null, minute: 6, hour: null, day: null, month: null, year: null, limit_by: 'consumer', header_name: null, path: null, policy: 'local',
    fault_tolerant: true, redis: REDIS, hide_client_headers: false, error_code: 429, error_message: 'API rate limit exceeded', sync_rate: -1, window_type: 'fixed', // window_type: Sluice's addition
  }],
  'response-ratelimiting': [{ limits: { video: { minute: 10 } } }, {
    header_name: 'x-kong-limit', limit_by: 'consumer', policy: 'local', fault_tolerant: true, redis: REDIS, block_on_first_violation: false,
    hide_client_headers: false, limits: { video: { second: null, minute: 10, hour: null, day: null, month: null, year: null } },
  }],
  syslog: [{}, { log_level: 'info', successful_severity: 'info', client_errors_severity: 'info', server_errors_severity: 'info', custom_fields_by_lua: null, facility: 'user' }],
  loggly: [{ key: 'k' }, {
    host: 'logs-01.loggly.com', port: 514, key: 'k', tags: ['kong'], log_level: 'info', successful_severity: 'info', client_errors_severity: 'info',
    server_errors_severity: 'info', timeout: 10000, custom_fields_by_lua: null,
  }],
  statsd: [{ metrics: [{ name: 'latency', stat_type: 'timer' }] }, {
    host: 'localhost', port: 8125, prefix: 'kong', metrics: [{ name: 'latency', stat_type: 'timer', sample_rate: null, consumer_identifier: null, service_identifier: null, workspace_identifier: null }],
    allow_status_codes: null, udp_packet_size: 0, use_tcp: false, hostname_in_prefix: false, consumer_identifier_default: 'custom_id',
    service_identifier_default: 'service_name_or_host', workspace_identifier_default: 'workspace_id', retry_count: null, queue_size: null, flush_timeout: null,
    tag_style: null, queue: { max_batch_size: 1, max_coalescing_delay: 1, max_entries: 10000, max_bytes: null, max_retry_time: 60, initial_retry_delay: 0.01, max_retry_delay: 60, concurrency_limit: 1 },
  }],
  datadog: [{ metrics: [{ name: 'latency', stat_type: 'timer' }] }, {
    host: 'localhost', port: 8125, prefix: 'kong', service_name_tag: 'name', status_tag: 'status', consumer_tag: 'consumer', retry_count: null, queue_size: null,
    flush_timeout: null, queue: { max_batch_size: 1, max_coalescing_delay: 1, max_entries: 10000, max_bytes: null, max_retry_time: 60, initial_retry_delay: 0.01, max_retry_delay: 60, concurrency_limit: 1 }, metrics: [{ name: 'latency', stat_type: 'timer', tags: null, sample_rate: null, consumer_identifier: null }],
  }],
  prometheus: [{}, { per_consumer: false, status_code_metrics: false, ai_metrics: false, latency_metrics: false, bandwidth_metrics: false, upstream_health_metrics: false, wasm_metrics: false }],
}

test('every plugin fills Kong\'s config defaults from a minimal config', () => {
  assert.deepEqual(PLUGINS.map((p) => p.name).sort(), Object.keys(DEFAULTS).sort())
  for (const [name, [input, expected]] of Object.entries(DEFAULTS)) {
    const r = make(name, input)
    assert.equal(r.errors, undefined, `${name}: ${JSON.stringify(r.errors)}`)
    assert.deepEqual(JSON.parse(JSON.stringify(r.entity!.config)), expected, name)
  }
})

test('PRIORITY, no_consumer and default protocols follow Kong\'s handlers and schemas', () => {
  const prio = Object.fromEntries(PLUGINS.map((p) => [p.name, p.priority]))
  assert.deepEqual(prio, {
    'correlation-id': 100001, 'bot-detection': 2500, cors: 2000, session: 1900, jwt: 1450, oauth2: 1400, 'key-auth': 1250, 'basic-auth': 1100, 'hmac-auth': 1030,
    'ip-restriction': 990, 'request-size-limiting': 951, acl: 950, 'rate-limiting': 910, 'response-ratelimiting': 900, 'request-transformer': 801,
    'response-transformer': 800, redirect: 779, 'ai-prompt-template': 773, 'ai-prompt-decorator': 772, 'ai-prompt-guard': 771, 'standard-webhooks': 760, 'azure-functions': 749, 'proxy-cache': 100, prometheus: 13, 'http-log': 12, statsd: 11, datadog: 10, 'file-log': 9, 'udp-log': 8, 'tcp-log': 7,
    loggly: 6, syslog: 4, 'request-termination': 2,
  })
  assert.deepEqual(PLUGINS.filter((p) => p.noConsumer).map((p) => p.name).sort(), ['acl', 'basic-auth', 'bot-detection', 'cors', 'hmac-auth', 'jwt', 'key-auth', 'oauth2', 'session', 'standard-webhooks'])
  assert.deepEqual(getPlugin('ip-restriction')!.defaultProtocols, ['http', 'https', 'tcp', 'tls', 'grpc', 'grpcs'])
  assert.deepEqual(getPlugin('file-log')!.defaultProtocols, ['grpc', 'grpcs', 'http', 'https'])
  assert.deepEqual(make('key-auth', {}, { protocols: ['tcp'] }).errors, { protocols: ['expected one of: grpc, grpcs, http, https'] })
  assert.equal(make('file-log', { path: '/x' }, { protocols: ['tcp'] }).errors, undefined, 'typedefs.protocols allows stream protocols')
})

test('the plugins setting: bundled is Kong\'s list minus what Sluice lacks, off is none, unknown names are left out', () => {
  assert.equal(enabledPlugins(['bundled']).length, 33)
  assert.deepEqual(enabledPlugins(['off']), [])
  assert.deepEqual(enabledPlugins(['key-auth', 'oauth2', 'key-auth', ' cors ', 'ldap-auth']), ['cors', 'key-auth', 'oauth2'])
  assert.deepEqual(enabledPlugins(['bundled', 'my-custom']).includes('my-custom'), false)
})

test('plugin checks and messages', () => {
  const err = (name: string, config: unknown): unknown => make(name, config).errors
  assert.deepEqual(err('rate-limiting', { minute: 5, hour: 2 }), { config: 'The limit for hour(2.0) cannot be lower than the limit for minute(5.0)' })
  assert.deepEqual(err('rate-limiting', { minute: 5, sync_rate: 1 }), { config: 'sync_rate can only be used with the redis policy' })
  assert.deepEqual(err('rate-limiting', { minute: 5, policy: 'redis' }), {
    '@entity': ["failed conditional validation given value of field 'config.policy'"], config: { redis: { host: 'required field missing' } },
  })
  assert.deepEqual(err('rate-limiting', { minute: 5, limit_by: 'header' }), {
    '@entity': ["failed conditional validation given value of field 'config.limit_by'"], config: { header_name: 'required field missing' },
  })
  assert.deepEqual(err('response-ratelimiting', { limits: { v: { minute: 5, hour: 1 } } }),
    { config: { limits: 'the limit for hour(1.0) cannot be lower than the limit for minute(5.0)' } })
  assert.deepEqual(err('response-ratelimiting', { limits: {} }), { config: { limits: 'length must be at least 1' } })
  // a null claims_to_verify passes the conditional (it is not `required`), as in Kong
  assert.equal(err('jwt', { maximum_expiration: 10 }), undefined)
  assert.deepEqual(err('jwt', { maximum_expiration: 10, claims_to_verify: ['nbf'] }), {
    '@entity': ["failed conditional validation given value of field 'config.maximum_expiration'"], config: { claims_to_verify: 'expected to contain: exp' },
  })
  assert.deepEqual(err('request-termination', { content_type: 'text/plain' }), { config: 'content_type requires a body' })
  assert.deepEqual(err('request-transformer', { add: { headers: ['x-a'] } }), { config: { add: { headers: ['invalid value: x-a'] } } })
  assert.deepEqual(err('request-transformer', { add: { body: ['k:'] } }), { config: { add: { body: ["key 'k' has no value"] } } })
  assert.deepEqual(err('request-transformer', { rename: { headers: ['a:b c'] } }), { config: { rename: { headers: ["'b c' is not a valid header"] } } })
  assert.deepEqual(err('bot-detection', { deny: ['(['] }), { config: { deny: ['not a valid regex: (['] } })
  assert.deepEqual(err('file-log', { path: ' bad*path' }), { config: { path: 'not a valid filename' } })
  assert.deepEqual(err('http-log', { http_endpoint: 'http://u:p@log.test', headers: { Authorization: 'x' } }),
    { config: "specifying both an 'Authorization' header and user info in 'http_endpoint' is not allowed" })
  assert.deepEqual(err('http-log', { http_endpoint: 'http://log.test', headers: { Host: 'x' } }), { config: { headers: "cannot contain 'Host' header" } })
  assert.deepEqual(err('http-log', { http_endpoint: 'log.test' }), { config: { http_endpoint: 'missing host in url' } })
  assert.deepEqual(err('proxy-cache', {}), { config: { strategy: 'required field missing' } })
  assert.deepEqual(err('ip-restriction', { allow: ['10.0.0.0/33'] }), { config: { allow: ["invalid ip or cidr range: '10.0.0.0/33'"] } })
  assert.deepEqual(err('cors', { origins: ['*', 'ok\\.test', '(['] }), { config: { origins: [null, null, "'([' is not a valid regex"] } })
})

test('rate-limiting redis_* shorthands fill redis.*; the real field wins when both are given', () => {
  const r = make('rate-limiting', { minute: 1, policy: 'redis', redis_host: 'r.test', redis_port: 7000, redis: { port: 6380 } })
  assert.equal(r.errors, undefined)
  assert.equal(r.entity!.config.redis.host, 'r.test')
  assert.equal(r.entity!.config.redis.port, 6380)
  assert.equal('redis_host' in r.entity!.config, false)
  const shown = processAutoFields(plugins, JSON.parse(JSON.stringify(r.entity)), 'select')
  assert.ok('entity' in shown)
  assert.equal((shown.entity.config as Record<string, unknown>).redis_host, 'r.test', 'a select shows the deprecated name too')
  const hidden = processAutoFields(plugins, JSON.parse(JSON.stringify(r.entity)), 'select', true)
  assert.ok('entity' in hidden && !('redis_host' in (hidden.entity.config as Record<string, unknown>)))
})

test('/schemas/plugins JSON has no functions and keeps empty array defaults as arrays', () => {
  for (const p of PLUGINS) {
    const sub = plugins.subschemas![p.name]!
    const json = schemaToJson({ name: p.name, fields: sub.fields, ...(sub.entity_checks ? { entity_checks: sub.entity_checks } : {}) })
    const text = JSON.stringify(json)
    assert.ok(!text.includes('custom_validator') && !text.includes('"fields":{'), p.name)
    const config = (json.fields as Array<Record<string, any>>).find((f) => 'config' in f)!.config
    assert.deepEqual([config.type, config.required], ['record', true], p.name)
  }
})
