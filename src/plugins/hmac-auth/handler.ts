/**
 * hmac-auth (kong/plugins/hmac-auth/access.lua, PRIORITY 1030).
 *
 * `Authorization` (or `Proxy-Authorization`, read first):
 * `hmac username="u", algorithm="hmac-sha256", headers="date request-line", signature="<b64>"`.
 * Checks, in Kong's order and with its 401 messages (`WWW-Authenticate: hmac`, or
 * `hmac realm="<realm>"`): a header at all (`Unauthorized`); X-Date or Date within clock_skew
 * seconds (`HMAC signature cannot be verified, a valid date or x-date header is required for HMAC
 * Authentication`); username and signature present, enforce_headers all signed, algorithm
 * allowed, credential known (`HMAC signature cannot be verified`); the signature, then with
 * validate_request_body the `Digest: SHA-256=<b64>` of the body (`HMAC signature does not match`).
 *
 * Signing string: each listed header as `name: value` joined by `\n`; `request-line` is
 * `METHOD /path?query HTTP/1.1` (HTTP/1.0 requests never reach plugins: the edge refuses them),
 * `@request-target` is `method /path?query`, an absent header is `name:`. Dates are read as
 * ngx.parse_http_time does (http-time.ts). X-Credential-Identifier is the credential's username.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { credentialIndex, decodeBase64Strict, prepareAnonymous, setAnonymous, setConsumer, type Anonymous, type CredentialLookup } from '../auth-consumer.ts'
import type { ConsumerRow, CredentialRow, FlatHeaders, PluginContext, PluginHandler, PrepareEnv } from '../types.ts'
import { parseHttpTime } from './http-time.ts'

export interface HmacAuthConfig {
  hide_credentials: boolean
  clock_skew: number
  anonymous?: string | null
  validate_request_body: boolean
  enforce_headers?: string[] | null
  algorithms?: string[] | null
  realm?: string | null
}

interface Credential {
  readonly row: CredentialRow
  readonly username: string
  readonly consumer: ConsumerRow | null
  readonly secret: Buffer
}

interface Prepared {
  readonly hide: boolean
  readonly skew: number
  readonly anonymous: Anonymous | null
  readonly validateBody: boolean
  readonly enforce: readonly string[]
  readonly algorithms: ReadonlySet<string>
  readonly headers: FlatHeaders
  readonly users: CredentialLookup<Credential>
}

const DIGEST_OF: Record<string, string> = {
  'hmac-sha1': 'sha1', 'hmac-sha256': 'sha256', 'hmac-sha384': 'sha384', 'hmac-sha512': 'sha512',
}
const PARAMS = /\s*[Hh]mac\s*username="(.+)",\s*algorithm="(.+)",\s*headers="(.+)",\s*signature="(.+)"/
const NEEDS_DATE = 'HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication'
const NOT_VALID = 'HMAC signature cannot be verified'
const NOT_SAME = 'HMAC signature does not match'

function buildUsers (env: PrepareEnv): CredentialLookup<Credential> {
  return credentialIndex(env, 'hmacauth_credentials', 'username', (row, consumer) => ({
    row: row as unknown as CredentialRow,
    username: row.username as string,
    consumer,
    secret: Buffer.from(typeof row.secret === 'string' ? row.secret : ''),
  }))
}

interface Params { readonly username: string; readonly algorithm: string; readonly headers: string[]; readonly signature: string }

function retrieve (value: string | undefined): Params | null {
  if (value === undefined) return null
  const m = PARAMS.exec(value)
  if (m === null) return null
  return { username: m[1]!, algorithm: m[2]!, headers: m[3]!.split(' '), signature: m[4]! }
}

function dateOk (ctx: PluginContext, name: string, skew: number): boolean {
  const date = ctx.getHeader(name)
  if (date === undefined) return false
  const t = parseHttpTime(date)
  if (t === null) return false
  return Math.abs(Math.floor(Date.now() / 1000) - t) <= skew
}

function signingString (ctx: PluginContext, headers: readonly string[]): string {
  // kong.request.get_path_with_query: no `?` for an empty query
  const uri = ctx.query === null || ctx.query === '' ? ctx.path : `${ctx.path}?${ctx.query}`
  let s = ''
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    const v = ctx.getHeader(h.toLowerCase())
    if (v === undefined) {
      if (h === '@request-target') s += `${h}: ${ctx.method.toLowerCase()} ${uri}`
      else if (h === 'request-line') s += `${ctx.method} ${uri} HTTP/1.1`
      else s += `${h}:`
    } else {
      s += `${h}: ${v}`
    }
    if (i < headers.length - 1) s += '\n'
  }
  return s
}

function signatureOk (ctx: PluginContext, p: Params, cred: Credential): boolean {
  const mac = createHmac(DIGEST_OF[p.algorithm]!, cred.secret).update(signingString(ctx, p.headers)).digest()
  // ngx.decode_base64: strict (no URL-safe alphabet, no stray characters)
  const decoded = decodeBase64Strict(p.signature)
  if (decoded === null) return false
  const given = Buffer.from(decoded, 'latin1')
  return mac.length === given.length && timingSafeEqual(mac, given)
}

function bodyOk (ctx: PluginContext, body: Buffer | null): boolean {
  if (body === null) return false
  const digest = ctx.getHeader('digest')
  if (digest === undefined) return body.length === 0
  return digest === `SHA-256=${createHash('sha256').update(body).digest('base64')}`
}

/** The failure message, null on success, or a Promise of either (body validation). */
function authenticate (ctx: PluginContext, c: Prepared): string | null | Promise<string | null> {
  const authorization = ctx.getHeader('authorization')
  const proxyAuthorization = ctx.getHeader('proxy-authorization')
  if (authorization === undefined && proxyAuthorization === undefined) return 'Unauthorized'
  if (!dateOk(ctx, 'x-date', c.skew) && !dateOk(ctx, 'date', c.skew)) return NEEDS_DATE
  let p = retrieve(proxyAuthorization)
  if (p === null) {
    p = retrieve(authorization)
    if (c.hide) ctx.clearHeader('authorization')
  } else if (c.hide) {
    ctx.clearHeader('proxy-authorization')
  }
  if (p === null || p.username === '' || p.signature === '') return NOT_VALID
  for (const h of c.enforce) if (!p.headers.includes(h)) return NOT_VALID
  if (!c.algorithms.has(p.algorithm) || DIGEST_OF[p.algorithm] === undefined) return NOT_VALID
  const cred = c.users.get(p.username)
  if (cred === undefined) return NOT_VALID
  if (!signatureOk(ctx, p, cred)) return NOT_SAME
  if (c.validateBody) {
    const body = ctx.readBody()
    if (body instanceof Promise) return body.then((b) => (bodyOk(ctx, b) ? success(ctx, cred) : NOT_SAME))
    if (!bodyOk(ctx, body)) return NOT_SAME
  }
  return success(ctx, cred)
}

function success (ctx: PluginContext, cred: Credential): null {
  setConsumer(ctx, cred.consumer, cred.row, cred.username)
  return null
}

function conclude (ctx: PluginContext, c: Prepared, message: string | null): void {
  if (message === null) return
  if (c.anonymous !== null) setAnonymous(ctx, c.anonymous)
  else ctx.error(401, message, c.headers)
}

export const handler: PluginHandler<HmacAuthConfig, Prepared> = {
  name: 'hmac-auth',
  priority: 1030,
  prepare (c, env) {
    return {
      hide: c.hide_credentials === true,
      skew: typeof c.clock_skew === 'number' ? c.clock_skew : 300,
      anonymous: prepareAnonymous(c.anonymous, env),
      validateBody: c.validate_request_body === true,
      enforce: c.enforce_headers ?? [],
      algorithms: new Set(c.algorithms ?? Object.keys(DIGEST_OF)),
      headers: ['WWW-Authenticate', typeof c.realm === 'string' ? `hmac realm="${c.realm}"` : 'hmac'],
      users: env.memo('hmac-auth:users', () => buildUsers(env)),
    }
  },
  access (ctx, c) {
    if (c.anonymous !== null && ctx.credential !== null) return
    const r = authenticate(ctx, c)
    if (r instanceof Promise) return r.then((m) => { conclude(ctx, c, m) })
    return conclude(ctx, c, r)
  },
}
