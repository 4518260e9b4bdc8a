/**
 * Reusable field types (kong/db/schema/typedefs.lua): the same names, constraints and
 * messages, so an entity file reads like its Kong counterpart. A typedef is a plain FieldDef;
 * `typedef({ required: true })` style overrides are object spreads.
 */
import type { FieldDef } from './types.ts'
import { invalidUtf8At } from './utf8.ts'
import {
  validateHost, validateHostWithOptionalPort, validateIpOrCidr, validateIp, validateSni, validateWildcardHost,
} from './validators/host.ts'
import { validatePath, validateRouterPath } from './validators/path.ts'
import { validateCertificate, validateKey } from './validators/pem.ts'
import { parseUrl } from './url.ts'

/** constants.PROTOCOLS, sorted as Kong sorts them. */
export const PROTOCOLS = ['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'tls_passthrough', 'udp'] as const
export const HTTP_PROTOCOLS = ['grpc', 'grpcs', 'http', 'https'] as const

function utf8Check (s: string): string | undefined {
  const bad = invalidUtf8At(Buffer.from(s, 'utf8'))
  return bad === 0 ? undefined : `invalid utf-8 character sequence detected at position ${bad}`
}

// `%w` is ASCII alphanumerics; bytes 0x80-0xF4 are any non-ASCII character of valid UTF-8.
const UTF8_NAME = /^[A-Za-z0-9._~\-\u0080-\u{10FFFF}]+$/u
// printable ASCII except ',' and '/', plus space and non-ASCII (typedefs.lua validate_tag)
const TAG = /^[ !-+\-.0-~\u0080-\u{10FFFF}]+$/u

/** tools/http.lua validate_http_token (cookie names) */
const HTTP_TOKEN_FORBIDDEN = /[^\x21-\x7e]|[()<>@,;:\\"/?={}[\]]/

/** typedefs.lua validate_url: LuaSocket's parse, then host and scheme present. */
function validateUrl (v: string): string | undefined {
  const u = parseUrl(v)
  if (u === null) return 'could not parse url. invalid url'
  if (u.host === undefined) return 'missing host in url'
  if (u.scheme === undefined) return 'missing scheme in url'
  return undefined
}

export const typedefs = {
  http_method: { type: 'string', match: '^%u+$' },
  protocol: { type: 'string', one_of: PROTOCOLS },
  host: { type: 'string', custom_validator: (v) => validateHost(v as string) },
  host_with_optional_port: { type: 'string', custom_validator: (v) => validateHostWithOptionalPort(v as string) },
  wildcard_host: { type: 'string', custom_validator: (v) => validateWildcardHost(v as string) },
  ip: { type: 'string', custom_validator: (v) => validateIp(v as string) },
  ip_or_cidr: { type: 'string', custom_validator: (v) => validateIpOrCidr(v as string) },
  port: { type: 'integer', between: [0, 65535] },
  path: {
    type: 'string',
    starts_with: '/',
    match_none: [{ pattern: '//', err: 'must not have empty segments' }],
    custom_validator: (v) => validatePath(v as string),
  },
  header_name: {
    type: 'string',
    custom_validator: (v) => /^[a-zA-Z0-9_-]+$/.test(v as string)
      ? undefined
      : `bad header name '${v as string}', allowed characters are A-Z, a-z, 0-9, '_', and '-'`,
  },
  timeout: { type: 'integer', between: [0, 2 ** 31 - 2] },
  uuid: { type: 'string', uuid: true, auto: true },
  auto_timestamp_s: { type: 'integer', timestamp: true, auto: true },
  auto_timestamp_ms: { type: 'number', timestamp: true, auto: true },
  no_route: { type: 'foreign', reference: 'routes', eq: null },
  no_service: { type: 'foreign', reference: 'services', eq: null },
  no_consumer: { type: 'foreign', reference: 'consumers', eq: null },
  name: {
    type: 'string',
    unique: true,
    custom_validator: (v) => /^[A-Za-z0-9._~-]+$/.test(v as string)
      ? undefined
      : `invalid value '${v as string}': it must only contain alphanumeric and '., -, _, ~' characters`,
  },
  utf8_name: {
    type: 'string',
    unique: true,
    custom_validator: (v) => utf8Check(v as string) ?? (UTF8_NAME.test(v as string)
      ? undefined
      : `invalid value '${v as string}': the only accepted ascii characters are alphanumerics or ., -, _, and ~`),
  },
  sni: { type: 'string', custom_validator: (v) => validateSni(v as string) },
  tag: {
    type: 'string',
    required: true,
    custom_validator: (v) => utf8Check(v as string) ?? (TAG.test(v as string)
      ? undefined
      : `invalid tag '${v as string}': expected printable ascii (except \`,\` and \`/\`) or valid utf-8 sequences`),
  },
  certificate: { type: 'string', custom_validator: (v) => validateCertificate(v as string) },
  key: { type: 'string', custom_validator: (v) => validateKey(v as string) },
  url: { type: 'string', custom_validator: (v) => validateUrl(v as string) },
  cookie_name: {
    type: 'string',
    custom_validator: (v) => HTTP_TOKEN_FORBIDDEN.test(v as string)
      ? 'contains one or more invalid characters. ASCII control characters (0-31;127), space, tab and the characters ()<>@,;:\\"/?={}[] are not allowed.'
      : undefined,
  },
  protocols: { type: 'set', required: true, default: [...HTTP_PROTOCOLS], elements: { type: 'string', one_of: PROTOCOLS } },
  protocols_http: { type: 'set', required: true, default: [...HTTP_PROTOCOLS], elements: { type: 'string', one_of: HTTP_PROTOCOLS } },
} satisfies Record<string, FieldDef>

export const tags: FieldDef = { type: 'set', elements: typedefs.tag }

const sourceRecord: FieldDef = {
  type: 'record',
  fields: { ip: typedefs.ip_or_cidr, port: typedefs.port },
  entity_checks: [{ at_least_one_of: ['ip', 'port'] }],
}

// routes typedefs
export const sources: FieldDef = { type: 'set', elements: sourceRecord }
export const destinations: FieldDef = { type: 'set', elements: sourceRecord }
export const methods: FieldDef = { type: 'set', elements: typedefs.http_method }

/**
 * typedefs.hosts element: Kong's match_all `^[^*]*%*?[^*]*$` (at most one `*`) and match_any
 * `^%*%.`, `%.%*$`, `^[^*]*$` (the `*` is a whole leftmost or rightmost label), written as
 * plain string checks: the regex forms backtrack quadratically on long hostile input.
 */
function validateRouteHost (v: string): string | undefined {
  const star = v.indexOf('*')
  if (star >= 0 && v.indexOf('*', star + 1) >= 0) return 'invalid wildcard: must have at most one wildcard'
  if (star >= 0 && !v.startsWith('*.') && !v.endsWith('.*')) return 'invalid wildcard: must be placed at leftmost or rightmost label'
  return validateHostWithOptionalPort(v.replace(/\*/g, 'abc'))
}

export const hosts: FieldDef = {
  type: 'array',
  elements: { type: 'string', custom_validator: (v) => validateRouteHost(v as string) },
}

export const routerPath: FieldDef = {
  type: 'string',
  match_any: { patterns: ['^/', '^~/'], err: 'should start with: / (fixed path) or ~/ (regex path)' },
  match_none: [{ pattern: '//', err: 'must not have empty segments' }],
  custom_validator: (v) => validateRouterPath(v as string),
}
export const routerPaths: FieldDef = { type: 'array', elements: routerPath }

export const headers: FieldDef = {
  type: 'map',
  keys: typedefs.header_name,
  values: { type: 'array', elements: { type: 'string' } },
}

/**
 * typedefs.lua_code: Lua snippets by log field name. Sluice runs no Lua; the map is kept so a
 * Kong configuration round-trips (kong/db/schema/typedefs.lua lua_code).
 */
export const luaCode: FieldDef = {
  type: 'map',
  keys: { type: 'string', len_min: 1 },
  values: { type: 'string', len_min: 1 },
}

/** typedefs.queue (kong/tools/queue_schema.lua) */
export const queue: FieldDef = {
  type: 'record',
  fields: {
    max_batch_size: { type: 'integer', default: 1, between: [1, 1000000] },
    max_coalescing_delay: { type: 'number', default: 1, between: [0, 3600] },
    max_entries: { type: 'integer', default: 10000, between: [1, 1000000] },
    max_bytes: { type: 'integer' },
    max_retry_time: { type: 'number', default: 60 },
    initial_retry_delay: { type: 'number', default: 0.01, between: [0.001, 1000000] },
    max_retry_delay: { type: 'number', default: 60, between: [0.001, 1000000] },
    concurrency_limit: { type: 'integer', default: 1, one_of: [-1, 1] },
  },
}

/** Redis connection settings (kong/tools/redis/schema.lua config_schema). */
export const redis: FieldDef = {
  type: 'record',
  description: 'Redis configuration',
  fields: {
    host: typedefs.host,
    port: { ...typedefs.port, default: 6379 },
    timeout: { ...typedefs.timeout, default: 2000 },
    username: { type: 'string', referenceable: true },
    password: { type: 'string', encrypted: true, referenceable: true, len_min: 0 },
    database: { type: 'integer', default: 0 },
    ssl: { type: 'boolean', required: false, default: false },
    ssl_verify: { type: 'boolean', required: false, default: false },
    server_name: { ...typedefs.sni, required: false },
  },
}

/** typedefs.no_* : the same type, but only null is accepted, with a custom message. */
export function none (def: FieldDef, err: string): FieldDef {
  return { ...def, eq: null, err }
}
