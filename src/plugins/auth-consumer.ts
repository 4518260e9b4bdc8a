/**
 * What every authentication plugin does on success or in "logical OR" mode (kong.md §4.3; the
 * `set_consumer` / `set_anonymous_consumer` functions repeated in each Kong auth handler):
 * authenticate the request, then set or clear X-Consumer-ID, X-Consumer-Custom-ID,
 * X-Consumer-Username, X-Credential-Identifier and X-Anonymous-Consumer upstream.
 */
import type { ConsumerRow, CredentialRow, PluginContext, PrepareEnv } from './types.ts'

export const H_CONSUMER_ID = 'x-consumer-id'
export const H_CONSUMER_CUSTOM_ID = 'x-consumer-custom-id'
export const H_CONSUMER_USERNAME = 'x-consumer-username'
export const H_CREDENTIAL_IDENTIFIER = 'x-credential-identifier'
export const H_ANONYMOUS = 'x-anonymous-consumer'
export const H_CONSUMER_GROUPS = 'x-consumer-groups'
export const H_AUTHENTICATED_GROUPS = 'x-authenticated-groups'

/**
 * `identifier`: the X-Credential-Identifier value (credential id for key-auth, username for
 * basic-auth and hmac-auth, the jwt_secret key for jwt); null for the anonymous consumer.
 */
export function setConsumer (ctx: PluginContext, consumer: ConsumerRow | null, credential: CredentialRow | null, identifier: string | null): void {
  ctx.authenticate(consumer, credential)
  if (consumer !== null && typeof consumer.id === 'string') ctx.setHeader(H_CONSUMER_ID, consumer.id)
  else ctx.clearHeader(H_CONSUMER_ID)
  if (consumer !== null && typeof consumer.custom_id === 'string') ctx.setHeader(H_CONSUMER_CUSTOM_ID, consumer.custom_id)
  else ctx.clearHeader(H_CONSUMER_CUSTOM_ID)
  if (consumer !== null && typeof consumer.username === 'string') ctx.setHeader(H_CONSUMER_USERNAME, consumer.username)
  else ctx.clearHeader(H_CONSUMER_USERNAME)
  if (credential !== null && identifier !== null) ctx.setHeader(H_CREDENTIAL_IDENTIFIER, identifier)
  else ctx.clearHeader(H_CREDENTIAL_IDENTIFIER)
  if (credential !== null) ctx.clearHeader(H_ANONYMOUS)
  else ctx.setHeader(H_ANONYMOUS, 'true')
}

/**
 * kong.service.request.clear_query_arg as Kong 3.10 does it (lua-resty-ada's search remove): the
 * query is parsed as application/x-www-form-urlencoded, the name dropped and the rest serialized
 * again (so `valu%651` goes upstream as `value1`), with `+` written as `%20`. The shared
 * ctx.clearQueryArg keeps the other arguments' raw bytes; this is used for hide_credentials.
 */
export function clearQueryArgKong (ctx: PluginContext, name: string): void {
  const q = ctx.query
  if (q === null || q === '') return
  const p = new URLSearchParams(q)
  p.delete(name)
  const s = p.toString()
  ctx.setRawQuery(s.includes('+') ? s.replace(/\+/g, '%20') : s)
}

const B64 = /^[A-Za-z0-9+/]*$/

/** ngx.decode_base64 as latin1 text (byte-preserving); null when nginx would refuse it. */
export function decodeBase64Strict (s: string): string | null {
  const eq = s.indexOf('=')
  const data = eq < 0 ? s : s.slice(0, eq)
  if (!B64.test(data) || data.length % 4 === 1) return null
  return Buffer.from(data, 'base64').toString('latin1')
}

/** `config.anonymous` resolved at compile time. */
export interface Anonymous {
  /** The consumer, or null when it does not exist (the request then answers 500). */
  readonly consumer: ConsumerRow | null
  readonly missing: string
}

export function prepareAnonymous (anonymous: unknown, env: PrepareEnv): Anonymous | null {
  if (typeof anonymous !== 'string' || anonymous === '') return null
  return {
    consumer: env.consumers.find(anonymous) ?? null,
    missing: `anonymous consumer ${anonymous} is configured but doesn't exist`,
  }
}

/** On a failed authentication in "logical OR" mode. */
export function setAnonymous (ctx: PluginContext, a: Anonymous): void {
  if (a.consumer === null) {
    ctx.error(500, a.missing)
    return
  }
  setConsumer(ctx, a.consumer, null, null)
}

/** The consumer a credential row belongs to (the consumer index is per snapshot). */
export function consumerOf (env: PrepareEnv, cred: { consumer?: { id?: unknown } | null }): ConsumerRow | null {
  const id = cred.consumer?.id
  return typeof id === 'string' ? (env.consumers.byId(id) ?? null) : null
}

/** A credential index of one auth plugin: the entry of a credential by its key, username, ... */
export interface CredentialLookup<E> { get (key: string): E | undefined }

/** Entries kept per index over a compact table (the cache starts over when full). */
const ENTRY_CACHE = 4096

/**
 * `table`'s credentials by their string field `field`, built once per snapshot (through env.memo).
 * Over a compact table (the worker keeps consumers and credentials as columns) the index holds
 * row positions and `entry` runs on first use of a credential (the last 4096 entries kept): no
 * object per credential. Otherwise a Map of every entry. `entry` returns undefined for a row that
 * cannot authenticate; it gets the credential's consumer (null when it has none or it is unknown).
 */
export function credentialIndex<E> (env: PrepareEnv, table: string, field: string, entry: (row: Record<string, unknown>, consumer: ConsumerRow | null) => E | undefined): CredentialLookup<E> {
  const t = env.table?.(table)
  const find = t?.indexOf(field) ?? null
  const consumers = env.consumers
  if (t !== undefined && find !== null) {
    let cache = new Map<number, E | undefined>()
    return {
      get (key) {
        const i = find(key)
        if (i < 0) return undefined
        if (cache.has(i)) return cache.get(i)
        const cid = t.field(i, 'consumer')
        const e = entry(t.row(i), typeof cid === 'string' ? (consumers.byId(cid) ?? null) : null)
        if (cache.size >= ENTRY_CACHE) cache = new Map()
        cache.set(i, e)
        return e
      },
    }
  }
  const out = new Map<string, E>()
  for (const row of env.rows(table)) {
    const key = row[field]
    if (typeof key !== 'string') continue
    const e = entry(row, consumerOf(env, row as { consumer?: { id?: unknown } | null }))
    if (e !== undefined) out.set(key, e)
  }
  return out
}
