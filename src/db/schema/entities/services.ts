/**
 * The `services` entity: fields, defaults, checks and the `url` shorthand of
 * kong/db/schema/entities/services.lua.
 */
import type { EntitySchema, FieldDef } from '../types.ts'
import { PROTOCOLS, tags, typedefs } from '../typedefs.ts'
import { luaToNumber, parseUrl } from '../url.ts'

const nonzeroTimeout = (def: number): FieldDef => ({ type: 'integer', between: [1, 2 ** 31 - 2], default: def })

const DEFAULT_PROTOCOL = 'http'
const DEFAULT_PORT = 80

/** Kong's `url` shorthand: protocol, host, port and path from one URL (LuaSocket's parser). */
function expandUrl (value: unknown): Record<string, unknown> | undefined {
  // Kong calls tostring() on the value; a JSON null stringifies to "userdata: NULL".
  const parsed = parseUrl(value === null ? 'userdata: NULL' : String(value))
  if (parsed === null) return undefined
  const port = parsed.port !== undefined ? luaToNumber(parsed.port) : null
  const implied = port === 80 ? 'http' : port === 443 ? 'https' : undefined
  const protocol = parsed.scheme ?? implied ?? DEFAULT_PROTOCOL
  return {
    protocol,
    host: parsed.host ?? null,
    port: port ?? parsed.port ?? (protocol === 'http' ? 80 : protocol === 'https' ? 443 : DEFAULT_PORT),
    path: parsed.path ?? null,
  }
}

export const services: EntitySchema = {
  name: 'services',
  primary_key: ['id'],
  workspaceable: true,
  endpoint_key: 'name',
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
    name: typedefs.utf8_name,
    retries: { type: 'integer', default: 5, between: [0, 32767], description: 'The number of retries to execute upon failure to proxy.' },
    protocol: { ...typedefs.protocol, required: true, default: DEFAULT_PROTOCOL },
    host: { ...typedefs.host, required: true },
    port: { ...typedefs.port, required: true, default: DEFAULT_PORT },
    path: typedefs.path,
    connect_timeout: nonzeroTimeout(60000),
    write_timeout: nonzeroTimeout(60000),
    read_timeout: nonzeroTimeout(60000),
    tags,
    client_certificate: { type: 'foreign', reference: 'certificates' },
    tls_verify: { type: 'boolean' },
    tls_verify_depth: { type: 'integer', default: null, between: [0, 64] },
    ca_certificates: { type: 'array', elements: { type: 'string', uuid: true } },
    enabled: { type: 'boolean', required: true, default: true },
  },
  entity_checks: [
    { conditional: { if_field: 'protocol', if_match: { one_of: ['tcp', 'tls', 'udp', 'grpc', 'grpcs'] }, then_field: 'path', then_match: { eq: null } } },
    ...(['client_certificate', 'tls_verify', 'tls_verify_depth', 'ca_certificates'] as const).map((f) => ({
      conditional: { if_field: 'protocol', if_match: { not_one_of: ['https', 'tls'] }, then_field: f, then_match: { eq: null } },
    })),
  ],
  shorthand_fields: {
    url: { type: 'string', func: expandUrl },
  },
}

export { PROTOCOLS }
