/**
 * The oauth2 plugin's entities (kong/plugins/oauth2/daos.lua): client applications
 * (`oauth2_credentials`, Admin API `/oauth2`, `/consumers/{c}/oauth2`), authorization codes
 * (5-minute rows, no Admin API, not exported) and tokens (`/oauth2_tokens`, endpoint key
 * `access_token`, rows expire with `ttl`). Secrets are hashed on write when `hash_secret` is
 * true by plugins/oauth2/dao-hooks.ts (Kong's `transformations`).
 */
import type { EntitySchema, FieldDef } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'

/** daos.lua validate_uri: an absolute URL (scheme and host), without a fragment. */
function validateRedirectUri (v: unknown): string | undefined {
  const uri = String(v)
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/.exec(uri)
  const host = m === null ? '' : m[2]!.replace(/^[^@]*@/, '').replace(/:\d*$/, '')
  if (m === null || host === '') return `cannot parse '${uri}'`
  if (uri.includes('#')) return `fragment not allowed in '${uri}'`
  return undefined
}

const credential: FieldDef = { type: 'foreign', reference: 'oauth2_credentials', required: true, on_delete: 'cascade' }
const service: FieldDef = { type: 'foreign', reference: 'services', default: null, on_delete: 'cascade' }

export const oauth2Credentials: EntitySchema = {
  name: 'oauth2_credentials',
  primary_key: ['id'],
  cache_key: ['client_id'],
  endpoint_key: 'client_id',
  workspaceable: true,
  admin_api_name: 'oauth2',
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    consumer: { type: 'foreign', reference: 'consumers', required: true, on_delete: 'cascade' },
    name: { type: 'string', required: true },
    client_id: { type: 'string', required: false, unique: true, auto: true },
    client_secret: { type: 'string', required: false, auto: true, encrypted: true },
    hash_secret: { type: 'boolean', required: true, default: false },
    redirect_uris: { type: 'array', required: false, elements: { type: 'string', custom_validator: validateRedirectUri } },
    tags,
    client_type: { type: 'string', required: true, default: 'confidential', one_of: ['confidential', 'public'] },
  },
}

export const oauth2AuthorizationCodes: EntitySchema = {
  name: 'oauth2_authorization_codes',
  primary_key: ['id'],
  ttl: true,
  workspaceable: true,
  generate_admin_api: false,
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    service,
    credential,
    code: { type: 'string', required: false, unique: true, auto: true },
    authenticated_userid: { type: 'string', required: false },
    scope: { type: 'string' },
    challenge: { type: 'string', required: false },
    challenge_method: { type: 'string', required: false, one_of: ['S256'] },
    plugin: { type: 'foreign', reference: 'plugins', default: null, on_delete: 'cascade' },
  },
}

export const oauth2Tokens: EntitySchema = {
  name: 'oauth2_tokens',
  primary_key: ['id'],
  endpoint_key: 'access_token',
  cache_key: ['access_token'],
  ttl: true,
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    service,
    credential,
    token_type: { type: 'string', required: true, one_of: ['bearer'], default: 'bearer' },
    expires_in: { type: 'integer', required: true },
    access_token: { type: 'string', required: false, unique: true, auto: true },
    refresh_token: { type: 'string', required: false, unique: true },
    authenticated_userid: { type: 'string', required: false },
    scope: { type: 'string' },
  },
}
