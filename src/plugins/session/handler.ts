/**
 * session (kong/plugins/session/handler.lua, access.lua, header_filter.lua, session.lua; PRIORITY
 * 1900, so it runs before every authentication plugin).
 *
 * Access: a request carrying a valid session cookie (or, with `remember`, a valid persistent
 * cookie) is authenticated as the consumer and credential the session holds: X-Consumer-ID,
 * X-Consumer-Custom-ID, X-Consumer-Username, X-Credential-Identifier and X-Authenticated-Groups go
 * upstream as Kong sets them, and an auth plugin configured with `anonymous` then leaves the request
 * alone. A logout request (a method of `logout_methods` with `logout_query_arg` in the query, or
 * `logout_post_arg` in the body when `read_body_for_logout`) ends the session and answers 200 with
 * the cookies cleared. A session whose consumer is gone is destroyed. A session nearing the end of its
 * rolling period is renewed (a new id and cookie; with `kong` storage the old row is kept
 * `stale_ttl` seconds more), an idle clock is moved forward at most every quarter of the idling
 * timeout (one minute at most).
 *
 * Header filter: once an auth plugin identified a consumer with a credential (never the anonymous
 * one), and the session did not already hold that pair, a new session is saved and its cookie set.
 *
 * Cookies are Sluice's own (codec.ts): AES-256-GCM with a key derived from `secret`. With `cookie`
 * storage the cookie carries the data; with `kong` storage it carries the id and the clocks, and the
 * data sits (sealed as well) in the `sessions` table, reached through the primary (store-client.ts).
 * The persistent (`remember`) cookie always carries its data. With `kong` storage and
 * `store_metadata`, each saved session also gets a session_metadatas row (base64url audience and
 * subject, or with `hash_subject` the first 16 bytes of the subject's SHA-256).
 *
 * Not as in lua-resty-session: one audience per cookie (a cookie of another audience is no
 * session), no cookie chunking past 4 KB, and with `cookie` storage an old cookie stays usable
 * until its own timeouts after a renewal (`stale_ttl` applies to `kong` rows).
 */
import { createHash } from 'node:crypto'
import { setConsumer, H_AUTHENTICATED_GROUPS } from '../auth-consumer.ts'
import type { ConsumerIndex, ConsumerRow, CredentialRow, PluginContext, PluginHandler } from '../types.ts'
import { deriveKey, newSessionId, seal, unseal } from './codec.ts'
import { randomSecret } from './schema.ts'
import type { SessionMetadata } from './messages.ts'
import { storeDelete, storeGet, storeSet, storeSetLater } from './store-client.ts'

export interface SessionConfig {
  secret?: string | null
  storage?: string | null
  audience?: string | null
  idling_timeout?: number | null
  rolling_timeout?: number | null
  absolute_timeout?: number | null
  stale_ttl?: number | null
  cookie_name?: string | null
  cookie_path?: string | null
  cookie_domain?: string | null
  cookie_same_site?: string | null
  cookie_http_only?: boolean | null
  cookie_secure?: boolean | null
  remember?: boolean | null
  remember_cookie_name?: string | null
  remember_rolling_timeout?: number | null
  remember_absolute_timeout?: number | null
  response_headers?: string[] | null
  request_headers?: string[] | null
  read_body_for_logout?: boolean | null
  logout_methods?: string[] | null
  logout_query_arg?: string | null
  logout_post_arg?: string | null
  hash_subject?: boolean | null
  store_metadata?: boolean | null
}

/** What a session holds: consumer id, credential id (or the consumer id), authenticated groups. */
export type SessionData = [string, string, string[] | null]

/** A session cookie's plaintext. `d` is absent with `kong` storage (the row has it). */
interface CookieBody { k: 's'; a: string; i: string; c: number; r: number; t: number; s: string | null; d?: SessionData; m?: number }
/** A persistent cookie's plaintext. */
interface RememberBody { k: 'r'; a: string; c: number; r: number; s: string | null; d: SessionData }
/** A `sessions.data` value's plaintext (bound to its id). */
interface RowBody { i: string; d: SessionData }

/** A session as opened or created (times in epoch ms). */
export interface Session {
  sid: string
  c: number
  r: number
  t: number
  sub: string | null
  d: SessionData
  /** Restored from the persistent cookie: saved again on this response. */
  restored: boolean
  /** When the persistent cookie was first issued (its absolute timeout runs from there). */
  rememberSince?: number
}

export interface Prepared {
  readonly key: Buffer
  readonly kong: boolean
  readonly audience: string
  readonly idleMs: number
  readonly rollingMs: number
  readonly absoluteMs: number
  readonly staleTtl: number
  readonly touchMs: number
  readonly cookieName: string
  readonly remember: boolean
  readonly rememberName: string
  readonly rememberRollingMs: number
  readonly rememberAbsoluteMs: number
  /** `; Path=/; Domain=..; SameSite=..; Secure; HttpOnly` */
  readonly attrs: string
  readonly clearCookies: readonly string[]
  readonly responseHeaders: readonly string[]
  readonly requestHeaders: readonly string[]
  readonly logoutMethods: ReadonlySet<string> | null
  readonly logoutQueryArg: string | null
  readonly logoutPostArg: string | null
  readonly readBodyForLogout: boolean
  /** `store_metadata` with `kong` storage: a session_metadatas row per saved session. */
  readonly storeMetadata: boolean
  readonly hashSubject: boolean
  readonly consumers: ConsumerIndex
}

/** kong.ctx.shared key of the session that authenticated the request (Kong's name). */
export const SHARED_KEY = 'authenticated_session'
const READ_BODY_METHODS = new Set(['DELETE', 'PATCH', 'POST', 'PUT'])
const EPOCH = 'Thu, 01 Jan 1970 00:00:01 GMT'
/** The secret of instances whose row has none (Kong: lua-resty-session's per-process random one). */
const PROCESS_SECRET = randomSecret()

const seconds = (v: unknown, def: number): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : (v === 0 ? 0 : def))

export function prepareSession (c: SessionConfig, consumers: ConsumerIndex): Prepared {
  const idleMs = seconds(c.idling_timeout, 900) * 1000
  let attrs = `; Path=${c.cookie_path ?? '/'}`
  if (typeof c.cookie_domain === 'string' && c.cookie_domain !== '') attrs += `; Domain=${c.cookie_domain}`
  const sameSite = c.cookie_same_site ?? 'Strict'
  if (sameSite !== 'Default') attrs += `; SameSite=${sameSite}`
  if (c.cookie_secure !== false) attrs += '; Secure'
  if (c.cookie_http_only !== false) attrs += '; HttpOnly'
  const cookieName = c.cookie_name ?? 'session'
  const remember = c.remember === true
  const rememberName = c.remember_cookie_name ?? 'remember'
  const clear = (name: string): string => `${name}=${attrs}; Expires=${EPOCH}; Max-Age=0`
  return {
    key: deriveKey(typeof c.secret === 'string' && c.secret !== '' ? c.secret : PROCESS_SECRET),
    kong: c.storage === 'kong',
    audience: c.audience ?? 'default',
    idleMs,
    rollingMs: seconds(c.rolling_timeout, 3600) * 1000,
    absoluteMs: seconds(c.absolute_timeout, 86400) * 1000,
    staleTtl: seconds(c.stale_ttl, 10),
    touchMs: Math.min(60_000, idleMs / 4),
    cookieName,
    remember,
    rememberName,
    rememberRollingMs: seconds(c.remember_rolling_timeout, 604800) * 1000,
    rememberAbsoluteMs: seconds(c.remember_absolute_timeout, 2592000) * 1000,
    attrs,
    clearCookies: remember ? [clear(cookieName), clear(rememberName)] : [clear(cookieName)],
    responseHeaders: c.response_headers ?? [],
    requestHeaders: c.request_headers ?? [],
    logoutMethods: Array.isArray(c.logout_methods) ? new Set(c.logout_methods) : null,
    logoutQueryArg: c.logout_query_arg ?? null,
    logoutPostArg: c.logout_post_arg ?? null,
    readBodyForLogout: c.read_body_for_logout === true,
    storeMetadata: c.store_metadata === true && c.storage === 'kong',
    hashSubject: c.hash_subject === true,
    consumers,
  }
}

// --- cookies ---

const isData = (d: unknown): d is SessionData =>
  Array.isArray(d) && typeof d[0] === 'string' && typeof d[1] === 'string' &&
  (d[2] === null || (Array.isArray(d[2]) && d[2].every((g) => typeof g === 'string')))

const live = (since: number, limitMs: number, now: number): boolean => limitMs <= 0 || now - since <= limitMs

function readSessionCookie (c: Prepared, raw: string, now: number): CookieBody | null {
  const b = unseal(c.key, 'cookie', raw) as CookieBody | undefined
  if (b === undefined || b === null || typeof b !== 'object' || b.k !== 's' || b.a !== c.audience || typeof b.i !== 'string') return null
  if (typeof b.c !== 'number' || typeof b.r !== 'number' || typeof b.t !== 'number') return null
  if (!live(b.c, c.absoluteMs, now) || !live(b.r, c.rollingMs, now) || !live(b.t, c.idleMs, now)) return null
  if (!c.kong && !isData(b.d)) return null
  return b
}

function readRememberCookie (c: Prepared, raw: string, now: number): RememberBody | null {
  const b = unseal(c.key, 'cookie', raw) as RememberBody | undefined
  if (b === undefined || b === null || typeof b !== 'object' || b.k !== 'r' || b.a !== c.audience) return null
  if (typeof b.c !== 'number' || typeof b.r !== 'number' || !isData(b.d)) return null
  if (!live(b.c, c.rememberAbsoluteMs, now) || !live(b.r, c.rememberRollingMs, now)) return null
  return b
}

function sessionCookie (c: Prepared, s: Session): string {
  const body: CookieBody = { k: 's', a: c.audience, i: s.sid, c: s.c, r: s.r, t: s.t, s: s.sub }
  if (!c.kong) body.d = s.d
  if (s.rememberSince !== undefined) body.m = s.rememberSince
  return `${c.cookieName}=${seal(c.key, 'cookie', body)}${c.attrs}`
}

function rememberCookie (c: Prepared, s: Session, rememberSince: number, now: number): string {
  const body: RememberBody = { k: 'r', a: c.audience, c: rememberSince, r: now, s: s.sub, d: s.d }
  // The browser keeps it for the rolling window (0: no rolling, so until the absolute limit).
  const ms = c.rememberRollingMs > 0 ? c.rememberRollingMs : c.rememberAbsoluteMs > 0 ? c.rememberAbsoluteMs - (now - rememberSince) : 0
  const value = `${c.rememberName}=${seal(c.key, 'cookie', body)}${c.attrs}`
  if (ms <= 0) return value
  const maxAge = Math.max(1, Math.ceil(ms / 1000))
  return `${value}; Expires=${new Date(now + maxAge * 1000).toUTCString()}; Max-Age=${maxAge}`
}

/** The `sessions` row's ttl in seconds (0: none): until the session can no longer be used. */
function rowTtl (c: Prepared, s: Session, now: number): number {
  let ms = c.rollingMs > 0 ? c.rollingMs : 0
  if (c.absoluteMs > 0) {
    const left = c.absoluteMs - (now - s.c)
    ms = ms === 0 ? left : Math.min(ms, left)
  }
  return ms <= 0 ? 0 : Math.max(1, Math.ceil(ms / 1000))
}

// --- opening ---

/** The session of the request, or null; a Promise with `kong` storage. */
export function openSession (ctx: PluginContext, c: Prepared, now: number): Session | null | Promise<Session | null> {
  const raw = ctx.getCookie(c.cookieName)
  if (raw !== undefined && raw !== '') {
    const b = readSessionCookie(c, raw, now)
    if (b !== null) {
      const base = { sid: b.i, c: b.c, r: b.r, t: b.t, sub: typeof b.s === 'string' ? b.s : null, restored: false, ...(typeof b.m === 'number' ? { rememberSince: b.m } : {}) }
      if (!c.kong) return { ...base, d: b.d! }
      return storeGet(b.i).then((row) => {
        if (row === null) return fromRemember(ctx, c, now)
        const rb = unseal(c.key, 'row', row) as RowBody | undefined
        if (rb === undefined || rb === null || rb.i !== b.i || !isData(rb.d)) return fromRemember(ctx, c, now)
        return { ...base, d: rb.d }
      })
    }
  }
  return fromRemember(ctx, c, now)
}

function fromRemember (ctx: PluginContext, c: Prepared, now: number): Session | null {
  if (!c.remember) return null
  const raw = ctx.getCookie(c.rememberName)
  if (raw === undefined || raw === '') return null
  const b = readRememberCookie(c, raw, now)
  if (b === null) return null
  return { sid: newSessionId(), c: now, r: now, t: now, sub: typeof b.s === 'string' ? b.s : null, d: b.d, restored: true, rememberSince: b.c }
}

// --- logout ---

function truthy (v: unknown): boolean {
  return v !== undefined && v !== false
}

/** session.lua logout(): is this request a logout? A Promise when the body must be read. */
export function isLogout (ctx: PluginContext, c: Prepared): boolean | Promise<boolean> {
  if (c.logoutMethods === null || !c.logoutMethods.has(ctx.method)) return false
  if (c.logoutQueryArg !== null && ctx.query !== null && truthy(ctx.getQueryArg(c.logoutQueryArg))) return true
  if (c.readBodyForLogout && c.logoutPostArg !== null && READ_BODY_METHODS.has(ctx.method)) {
    const name = c.logoutPostArg
    const check = (body: { value: unknown } | null): boolean => {
      const v = body?.value
      return v !== null && typeof v === 'object' && !Array.isArray(v) && truthy((v as Record<string, unknown>)[name])
    }
    const b = ctx.getBody()
    return b instanceof Promise ? b.then(check) : check(b)
  }
  return false
}

// --- saving ---

/** Set-Cookie values for a saved session (and its persistent cookie). */
function saveCookies (c: Prepared, s: Session, now: number): string[] {
  const out = [sessionCookie(c, s)]
  if (c.remember) out.push(rememberCookie(c, s, s.rememberSince ?? s.c, now))
  return out
}

/** The session_metadatas values: base64url audience and subject (with hash_subject, of the subject's SHA-256, first 16 bytes). */
function metadata (c: Prepared, s: Session): SessionMetadata | null {
  if (!c.storeMetadata || s.sub === null) return null
  const subject = c.hashSubject ? createHash('sha256').update(s.sub).digest().subarray(0, 16) : Buffer.from(s.sub, 'utf8')
  return { audience: Buffer.from(c.audience, 'utf8').toString('base64url'), subject: subject.toString('base64url') }
}

function rowValue (c: Prepared, s: Session): string {
  return seal(c.key, 'row', { i: s.sid, d: s.d } satisfies RowBody)
}

const HEADER_NAMES: Record<string, string> = {
  id: 'session-id',
  audience: 'session-audience',
  subject: 'session-subject',
  timeout: 'session-timeout',
  'idling-timeout': 'session-idling-timeout',
  'rolling-timeout': 'session-rolling-timeout',
  'absolute-timeout': 'session-absolute-timeout',
}

function headerValue (c: Prepared, s: Session, which: string, now: number): string | null {
  const idle = c.idleMs > 0 ? c.idleMs - (now - s.t) : -1
  const rolling = c.rollingMs > 0 ? c.rollingMs - (now - s.r) : -1
  const absolute = c.absoluteMs > 0 ? c.absoluteMs - (now - s.c) : -1
  const secs = (ms: number): string | null => (ms < 0 ? null : String(Math.max(0, Math.floor(ms / 1000))))
  switch (which) {
    case 'id': return s.sid
    case 'audience': return c.audience
    case 'subject': return s.sub
    case 'idling-timeout': return secs(idle)
    case 'rolling-timeout': return secs(rolling)
    case 'absolute-timeout': return secs(absolute)
    case 'timeout': {
      const all = [idle, rolling, absolute].filter((x) => x >= 0)
      return all.length === 0 ? null : secs(Math.min(...all))
    }
  }
  return null
}

function setResponseHeaders (ctx: PluginContext, c: Prepared, s: Session, now: number): void {
  for (const h of c.responseHeaders) {
    const v = headerValue(c, s, h, now)
    if (v !== null && HEADER_NAMES[h] !== undefined) ctx.setResponseHeader(HEADER_NAMES[h], v)
  }
}

function setRequestHeaders (ctx: PluginContext, c: Prepared, s: Session, now: number): void {
  for (const h of c.requestHeaders) {
    const v = headerValue(c, s, h, now)
    if (v !== null && HEADER_NAMES[h] !== undefined) ctx.setHeader(HEADER_NAMES[h], v)
  }
}

// --- phases ---

function authenticate (ctx: PluginContext, consumer: ConsumerRow, s: Session): void {
  const [, credentialId, groups] = s.d
  const credential: CredentialRow = { id: credentialId, consumer: { id: consumer.id } }
  setConsumer(ctx, consumer, credential, credentialId)
  if (groups !== null) {
    ctx.setHeader(H_AUTHENTICATED_GROUPS, groups.join(', '))
    ctx.authenticatedGroups = groups
  } else {
    ctx.clearHeader(H_AUTHENTICATED_GROUPS)
  }
}

function withSession (ctx: PluginContext, c: Prepared, s: Session, now: number): void | Promise<void> {
  const logout = isLogout(ctx, c)
  if (logout instanceof Promise) return logout.then((l) => afterLogoutCheck(ctx, c, s, now, l))
  return afterLogoutCheck(ctx, c, s, now, logout)
}

function afterLogoutCheck (ctx: PluginContext, c: Prepared, s: Session, now: number, logout: boolean): void | Promise<void> {
  if (logout) {
    const exit = (): void => {
      for (const v of c.clearCookies) ctx.addResponseHeader('Set-Cookie', v)
      ctx.exit(200)
    }
    if (c.kong && !s.restored) return storeDelete(s.sid).catch(() => {}).then(exit)
    exit()
    return
  }
  const consumer = c.consumers.byId(s.d[0])
  if (consumer === undefined) {
    // The consumer is gone: the session goes too.
    const clear = (): void => { for (const v of c.clearCookies) ctx.addResponseHeader('Set-Cookie', v) }
    if (c.kong && !s.restored) return storeDelete(s.sid).catch(() => {}).then(clear)
    clear()
    return
  }
  const r = refresh(ctx, c, s, now)
  if (r !== undefined) return r.then(() => { authenticated(ctx, c, s, now, consumer) })
  authenticated(ctx, c, s, now, consumer)
}

function authenticated (ctx: PluginContext, c: Prepared, s: Session, now: number, consumer: ConsumerRow): void {
  setRequestHeaders(ctx, c, s, now)
  setResponseHeaders(ctx, c, s, now)
  ctx.shared.set(SHARED_KEY, s)
  authenticate(ctx, consumer, s)
}

/**
 * Renews a session near the end of its rolling period (or restored from the persistent cookie),
 * else touches an idle one. A Promise only when a `kong` storage row is written.
 */
function refresh (ctx: PluginContext, c: Prepared, s: Session, now: number): void | Promise<void> {
  if (s.restored || (c.rollingMs > 0 && now - s.r > c.rollingMs * 0.75)) {
    const old = s.restored ? null : s.sid
    const next: Session = { ...s, sid: s.restored ? s.sid : newSessionId(), r: now, t: now }
    const done = (): void => {
      Object.assign(s, next)
      for (const v of saveCookies(c, s, now)) ctx.addResponseHeader('Set-Cookie', v)
    }
    if (c.kong) {
      // On failure the old session stays as it was.
      return storeSet(next.sid, rowValue(c, next), rowTtl(c, next, now), old, c.staleTtl, false, metadata(c, next)).then(done, () => {})
    }
    done()
    return
  }
  if (c.idleMs > 0 && now - s.t > c.touchMs) {
    s.t = now
    ctx.addResponseHeader('Set-Cookie', sessionCookie(c, s))
  }
}

function access (ctx: PluginContext, c: Prepared): void | Promise<void> {
  // No cookie of this instance: nothing to do, and no Promise on the way.
  if (ctx.getCookie(c.cookieName) === undefined && (!c.remember || ctx.getCookie(c.rememberName) === undefined)) return
  const now = Date.now()
  const opened = openSession(ctx, c, now)
  if (opened instanceof Promise) {
    return opened.then((s) => (s === null ? undefined : withSession(ctx, c, s, now)), () => undefined)
  }
  if (opened === null) return
  return withSession(ctx, c, opened, now)
}

function headerFilter (ctx: PluginContext, c: Prepared): void {
  const credential = ctx.credential
  if (credential === null) return // no sessions for the anonymous consumer
  const consumer = ctx.consumer
  const consumerId = consumer !== null && typeof consumer.id === 'string' ? consumer.id : null
  const existing = ctx.shared.size > 0 ? (ctx.shared.get(SHARED_KEY) as Session | undefined) : undefined
  if (existing !== undefined && existing.d[1] === credential.id && existing.d[0] === consumerId) return
  if (consumerId === null) return
  const now = Date.now()
  const groups = ctx.authenticatedGroups
  const sub = typeof consumer!.username === 'string' ? consumer!.username : (typeof consumer!.custom_id === 'string' ? consumer!.custom_id : consumerId)
  const s: Session = {
    sid: newSessionId(),
    c: now,
    r: now,
    t: now,
    sub,
    d: [consumerId, typeof credential.id === 'string' ? credential.id : consumerId, groups === null ? null : [...groups]],
    restored: false,
  }
  if (c.kong) storeSetLater(s.sid, rowValue(c, s), rowTtl(c, s, now), existing !== undefined && !existing.restored ? existing.sid : null, c.staleTtl, false, metadata(c, s))
  for (const v of saveCookies(c, s, now)) ctx.addResponseHeader('Set-Cookie', v)
  setResponseHeaders(ctx, c, s, now)
}

export const handler: PluginHandler<SessionConfig, Prepared> = {
  name: 'session',
  priority: 1900,
  prepare: (conf, env) => prepareSession(conf, env.consumers),
  access,
  headerFilter,
}
