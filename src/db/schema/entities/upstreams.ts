/**
 * The `upstreams` entity (kong/db/schema/entities/upstreams.lua): a hostname-like name, the
 * balancing algorithm and its hashing inputs (with the `algorithm` / `hash_on` shorthands that
 * keep the two consistent), ring slots, the full healthchecks record and the client certificate.
 */
import type { EntitySchema, FieldDef } from '../types.ts'
import { headers, tags, typedefs } from '../typedefs.ts'
import { normalizeIp } from '../validators/host.ts'
import { invalidUtf8At } from '../utf8.ts'

function nameForError (name: string): string {
  return invalidUtf8At(Buffer.from(name, 'utf8')) === 0 ? `Invalid name ('${name}')` : 'Invalid name'
}

function validateName (name: string): string | undefined {
  const r = normalizeIp(name)
  if ('err' in r) return `${nameForError(name)}; must be a valid hostname`
  if (r.ok.type !== 'name') return `${nameForError(name)}; no ip addresses allowed`
  if (r.ok.port !== null) return `${nameForError(name)}; no port allowed`
  return undefined
}

const HASH_ON = ['none', 'consumer', 'ip', 'header', 'cookie', 'path', 'query_arg', 'uri_capture']
const hashOn: FieldDef = { type: 'string', default: 'none', one_of: HASH_ON }
const simpleParam: FieldDef = { type: 'string', len_min: 1 }

const seconds = (d: number): FieldDef => ({ type: 'number', between: [0, 65535], default: d })
const oneByte = (d: number): FieldDef => ({ type: 'integer', between: [0, 255], default: d })
const statuses = (d: number[]): FieldDef => ({ type: 'array', elements: { type: 'integer', between: [100, 999] }, default: d })
const checkType: FieldDef = { type: 'string', one_of: ['tcp', 'http', 'https', 'grpc', 'grpcs'], default: 'http' }
const record = (fields: Record<string, FieldDef>): FieldDef => ({ type: 'record', required: true, fields })

// the same defaults as healthchecks_config, fields generated as gen_fields does
const PASSIVE_HEALTHY = [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308]
const healthchecksFields: Record<string, FieldDef> = {
  active: record({
    type: checkType,
    timeout: seconds(1),
    concurrency: { type: 'integer', between: [1, 2 ** 31], default: 10 },
    http_path: { ...typedefs.path, default: '/' },
    https_sni: { ...typedefs.sni, required: false },
    https_verify_certificate: { type: 'boolean', required: true, default: true },
    headers: { ...headers, required: false },
    healthy: record({ interval: seconds(0), http_statuses: statuses([200, 302]), successes: oneByte(0) }),
    unhealthy: record({
      interval: seconds(0),
      http_statuses: statuses([429, 404, 500, 501, 502, 503, 504, 505]),
      tcp_failures: oneByte(0),
      timeouts: oneByte(0),
      http_failures: oneByte(0),
    }),
  }),
  passive: record({
    type: checkType,
    healthy: record({ http_statuses: statuses(PASSIVE_HEALTHY), successes: oneByte(0) }),
    unhealthy: record({ http_statuses: statuses([429, 500, 503]), tcp_failures: oneByte(0), timeouts: oneByte(0), http_failures: oneByte(0) }),
  }),
  threshold: { type: 'number', default: 0, between: [0, 100] },
}

export const HEALTHCHECKS_DEFAULT = {
  active: {
    type: 'http',
    timeout: 1,
    concurrency: 10,
    http_path: '/',
    https_verify_certificate: true,
    healthy: { interval: 0, http_statuses: [200, 302], successes: 0 },
    unhealthy: { interval: 0, http_statuses: [429, 404, 500, 501, 502, 503, 504, 505], tcp_failures: 0, timeouts: 0, http_failures: 0 },
  },
  passive: {
    type: 'http',
    healthy: { http_statuses: PASSIVE_HEALTHY, successes: 0 },
    unhealthy: { http_statuses: [429, 500, 503], tcp_failures: 0, timeouts: 0, http_failures: 0 },
  },
  threshold: 0,
}

const conditional = (ifField: string, value: string, thenField: string, thenMatch: Partial<FieldDef>) =>
  ({ conditional: { if_field: ifField, if_match: { match: `^${value}$` }, then_field: thenField, then_match: thenMatch } })

const notSame = (v: string): string[] => HASH_ON.filter((x) => x !== v)

export const upstreams: EntitySchema = {
  name: 'upstreams',
  primary_key: ['id'],
  endpoint_key: 'name',
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    name: { type: 'string', required: true, unique: true, custom_validator: (v) => validateName(v as string) },
    updated_at: typedefs.auto_timestamp_s,
    algorithm: { type: 'string', default: 'round-robin', one_of: ['consistent-hashing', 'least-connections', 'round-robin', 'latency'] },
    hash_on: hashOn,
    hash_fallback: hashOn,
    hash_on_header: typedefs.header_name,
    hash_fallback_header: typedefs.header_name,
    hash_on_cookie: typedefs.cookie_name,
    hash_on_cookie_path: { ...typedefs.path, default: '/' },
    hash_on_query_arg: simpleParam,
    hash_fallback_query_arg: simpleParam,
    hash_on_uri_capture: simpleParam,
    hash_fallback_uri_capture: simpleParam,
    slots: { type: 'integer', default: 10000, between: [10, 2 ** 16] },
    healthchecks: { type: 'record', required: true, default: HEALTHCHECKS_DEFAULT, fields: healthchecksFields },
    tags,
    host_header: typedefs.host_with_optional_port,
    client_certificate: { type: 'foreign', reference: 'certificates' },
    use_srv_name: { type: 'boolean', default: false },
  },
  entity_checks: [
    conditional('hash_on', 'header', 'hash_on_header', { required: true }),
    conditional('hash_fallback', 'header', 'hash_fallback_header', { required: true }),
    conditional('hash_on', 'cookie', 'hash_on_cookie', { required: true }),
    conditional('hash_fallback', 'cookie', 'hash_on_cookie', { required: true }),
    conditional('hash_on', 'none', 'hash_fallback', { one_of: ['none'] }),
    conditional('hash_on', 'cookie', 'hash_fallback', { one_of: ['none'] }),
    conditional('hash_on', 'consumer', 'hash_fallback', { one_of: notSame('consumer') }),
    conditional('hash_on', 'ip', 'hash_fallback', { one_of: notSame('ip') }),
    conditional('hash_on', 'path', 'hash_fallback', { one_of: notSame('path') }),
    { distinct: ['hash_on_header', 'hash_fallback_header'] },
    conditional('hash_on', 'query_arg', 'hash_on_query_arg', { required: true }),
    conditional('hash_fallback', 'query_arg', 'hash_fallback_query_arg', { required: true }),
    { distinct: ['hash_on_query_arg', 'hash_fallback_query_arg'] },
    conditional('hash_on', 'uri_capture', 'hash_on_uri_capture', { required: true }),
    conditional('hash_fallback', 'uri_capture', 'hash_fallback_uri_capture', { required: true }),
    { distinct: ['hash_on_uri_capture', 'hash_fallback_uri_capture'] },
  ],
  // Backwards compatibility of hash_on and algorithm, as a pair of shorthands (upstreams.lua).
  shorthand_fields: {
    algorithm: {
      type: 'string',
      func: (v) => v === 'least-connections' || v === 'latency' ? { algorithm: v, hash_on: null } : { algorithm: v },
    },
    hash_on: {
      type: 'string',
      func: (v) => v === null ? { hash_on: 'none' } : v === 'none' ? { hash_on: v, algorithm: 'round-robin' } : { hash_on: v, algorithm: 'consistent-hashing' },
    },
  },
}
