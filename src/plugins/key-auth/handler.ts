/**
 * key-auth (kong/plugins/key-auth/handler.lua, PRIORITY 1250).
 *
 * For each configured key name in order: the header (name as given, lowercase; then with `_` as
 * `-`, as nginx's header table answers), then the query argument, then the body field
 * (key_in_body: JSON, form or multipart). A string value is the key; a repeated one is
 * `Duplicate API key found`; a bare `?apikey` (true) is not a key. No key or an empty one:
 * `No API key found in request`; an unknown or expired key: `Unauthorized`. All 401 with
 * `WWW-Authenticate: Key` (or `Key realm="<realm>"`), through kong.response.error.
 *
 * Keys are indexed once per snapshot (key -> credential + consumer): a lookup is one Map get.
 * `expires_at` (epoch seconds, from a credential's ttl) is honoured at request time.
 */
import { clearQueryArgKong, credentialIndex, prepareAnonymous, setAnonymous, setConsumer, type Anonymous, type CredentialLookup } from '../auth-consumer.ts'
import type { ConsumerRow, CredentialRow, FlatHeaders, ParsedBody, PluginContext, PluginHandler, PrepareEnv } from '../types.ts'

export interface KeyAuthConfig {
  key_names: string[]
  hide_credentials: boolean
  anonymous?: string | null
  key_in_header: boolean
  key_in_query: boolean
  key_in_body: boolean
  run_on_preflight: boolean
  realm?: string | null
}

interface KeyEntry {
  readonly cred: CredentialRow
  readonly consumer: ConsumerRow | null
  /** Epoch seconds; 0: never. */
  readonly expiresAt: number
}

interface Failure { readonly status: number; readonly message: string; readonly headers: FlatHeaders }

interface Prepared {
  readonly names: readonly string[]
  /** Per name: the lowercase header name, and its `_`->`-` variant (or null). */
  readonly headerNames: readonly string[]
  readonly altHeaderNames: ReadonlyArray<string | null>
  readonly hide: boolean
  readonly anonymous: Anonymous | null
  readonly inHeader: boolean
  readonly inQuery: boolean
  readonly inBody: boolean
  readonly preflight: boolean
  readonly keys: CredentialLookup<KeyEntry>
  readonly noKey: Failure
  readonly duplicate: Failure
  readonly invalid: Failure
}

function expiry (exp: unknown): number {
  return typeof exp === 'number' && exp > 0 ? exp : 0
}

function buildKeys (env: PrepareEnv): CredentialLookup<KeyEntry> {
  return credentialIndex(env, 'keyauth_credentials', 'key', (row, consumer) => ({
    cred: row as unknown as CredentialRow,
    consumer,
    expiresAt: expiry(row.expires_at),
  }))
}

function prepare (c: KeyAuthConfig, env: PrepareEnv): Prepared {
  const www = typeof c.realm === 'string' ? `Key realm="${c.realm}"` : 'Key'
  const headers = ['WWW-Authenticate', www]
  const fail = (message: string): Failure => ({ status: 401, message, headers })
  const names = c.key_names ?? ['apikey']
  const lower = names.map((n) => n.toLowerCase())
  return {
    names,
    headerNames: lower,
    altHeaderNames: lower.map((n) => (n.includes('_') ? n.replace(/_/g, '-') : null)),
    hide: c.hide_credentials === true,
    anonymous: prepareAnonymous(c.anonymous, env),
    inHeader: c.key_in_header !== false,
    inQuery: c.key_in_query !== false,
    inBody: c.key_in_body === true,
    preflight: c.run_on_preflight !== false,
    keys: env.memo('key-auth:keys', () => buildKeys(env)),
    noKey: fail('No API key found in request'),
    duplicate: fail('Duplicate API key found'),
    invalid: fail('Unauthorized'),
  }
}

const NEED_BODY = 1

function bodyField (body: ParsedBody | null, name: string): unknown {
  if (body === null) return undefined
  const v = body.value
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[name] : undefined
}

function hideKey (ctx: PluginContext, c: Prepared, i: number, body: ParsedBody | null | undefined): void {
  const name = c.names[i]!
  clearQueryArgKong(ctx, name)
  ctx.clearHeader(c.headerNames[i]!)
  const alt = c.altHeaderNames[i]
  if (alt !== null && alt !== undefined) ctx.clearHeader(alt)
  if (c.inBody && body !== null && body !== undefined) {
    const v = body.value
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) delete (v as Record<string, unknown>)[name]
    ctx.setBody(body)
  }
}

/** The key, a Failure, or NEED_BODY when the body must be read first (`body` undefined). */
function findKey (ctx: PluginContext, c: Prepared, body: ParsedBody | null | undefined): string | Failure | typeof NEED_BODY {
  const names = c.names
  for (let i = 0; i < names.length; i++) {
    let v: unknown
    if (c.inHeader) {
      v = ctx.getHeaderAll(c.headerNames[i]!)
      if (v === undefined) {
        const alt = c.altHeaderNames[i]
        if (alt !== null && alt !== undefined) v = ctx.getHeaderAll(alt)
      }
    }
    if (v === undefined && c.inQuery && ctx.query !== null) v = ctx.getQueryArg(names[i]!)
    if (v === undefined && c.inBody) {
      if (body === undefined) return NEED_BODY
      v = bodyField(body, names[i]!)
    }
    if (typeof v === 'string') {
      // Kong also strips the body field when hiding, wherever the key came from.
      if (c.hide && c.inBody && body === undefined) return NEED_BODY
      if (c.hide) hideKey(ctx, c, i, body)
      return v
    }
    if (Array.isArray(v)) return c.duplicate
  }
  return c.noKey
}

/** null on success, else the failure. */
function authenticate (ctx: PluginContext, c: Prepared, body: ParsedBody | null | undefined): Failure | null | Promise<Failure | null> {
  const found = findKey(ctx, c, body)
  if (found === NEED_BODY) {
    const b = ctx.getBody()
    if (b instanceof Promise) return b.then((parsed) => authenticate(ctx, c, parsed))
    return authenticate(ctx, c, b)
  }
  if (typeof found !== 'string') return found
  if (found === '') return c.noKey
  const entry = c.keys.get(found)
  if (entry === undefined || (entry.expiresAt !== 0 && entry.expiresAt <= Date.now() / 1000)) return c.invalid
  setConsumer(ctx, entry.consumer, entry.cred, entry.cred.id)
  return null
}

function conclude (ctx: PluginContext, c: Prepared, f: Failure | null): void {
  if (f === null) return
  if (c.anonymous !== null) setAnonymous(ctx, c.anonymous)
  else ctx.error(f.status, f.message, f.headers)
}

export const handler: PluginHandler<KeyAuthConfig, Prepared> = {
  name: 'key-auth',
  priority: 1250,
  prepare,
  access (ctx, c) {
    if (!c.preflight && ctx.method === 'OPTIONS') return
    // Logical OR: an earlier plugin already authenticated a credential.
    if (c.anonymous !== null && ctx.credential !== null) return
    const r = authenticate(ctx, c, undefined)
    if (r instanceof Promise) return r.then((f) => { conclude(ctx, c, f) })
    return conclude(ctx, c, r)
  },
}
