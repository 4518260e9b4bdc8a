/**
 * jwt (kong/plugins/jwt/handler.lua, PRIORITY 1450).
 *
 * Tokens come from the query (uri_param_names), cookies (cookie_names) and headers
 * (header_names, `Bearer <token>`); none: 401 `Unauthorized` with `WWW-Authenticate: Bearer`;
 * several distinct ones: `Multiple tokens provided`. The secret is found by the claim (or header
 * field) named key_claim_name; its `algorithm` must equal the token's `alg`. Then the signature,
 * claims_to_verify (exp, nbf; the error map is the body, e.g. `{"exp":"token expired"}`) and
 * maximum_expiration. Failures use kong.response.exit (`{"message":...}`, no request_id) with
 * `WWW-Authenticate: Bearer error="invalid_token"` (realm first when set).
 *
 * Secrets are indexed per snapshot with their HMAC keys as bytes (plain and base64url-decoded for
 * secret_is_base64) and their public keys imported as KeyObjects, so a request does no parsing
 * of key material. X-Credential-Identifier is the secret's `key`.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { credentialIndex, prepareAnonymous, setAnonymous, setConsumer, type Anonymous, type CredentialLookup } from '../auth-consumer.ts'
import type { ConsumerRow, CredentialRow, FlatHeaders, PluginContext, PluginHandler, PrepareEnv } from '../types.ts'
import { decodeBase64Url, decodeJwt, verifyClaims, verifySignature } from './token.ts'

export interface JwtConfig {
  uri_param_names?: string[] | null
  cookie_names?: string[] | null
  header_names?: string[] | null
  key_claim_name: string
  secret_is_base64: boolean
  claims_to_verify?: string[] | null
  anonymous?: string | null
  run_on_preflight: boolean
  maximum_expiration: number
  realm?: string | null
}

interface Secret {
  readonly row: CredentialRow
  readonly key: string
  readonly consumer: ConsumerRow | null
  readonly algorithm: string
  readonly symmetric: boolean
  readonly hmacKey: Buffer | null
  readonly hmacKeyBase64: Buffer | null
  readonly publicKey: KeyObject | null
  /** rsa_public_key present but not a key: Kong's parser asserts (500). */
  readonly badPublicKey: boolean
}

interface Prepared {
  readonly uriParams: readonly string[]
  readonly cookies: readonly string[]
  readonly headerNames: readonly string[]
  readonly claim: string
  readonly base64: boolean
  readonly claims: readonly string[]
  readonly anonymous: Anonymous | null
  readonly preflight: boolean
  readonly maxExp: number
  readonly secrets: CredentialLookup<Secret>
  readonly base: FlatHeaders
  readonly withError: FlatHeaders
  readonly msgNoClaim: string
  readonly msgBadClaim: string
  readonly msgNoCredentials: string
}

function buildSecrets (env: PrepareEnv): CredentialLookup<Secret> {
  return credentialIndex(env, 'jwt_secrets', 'key', (row, consumer) => {
    const key = row.key as string
    const algorithm = typeof row.algorithm === 'string' ? row.algorithm : 'HS256'
    const symmetric = algorithm.startsWith('HS')
    const secret = typeof row.secret === 'string' ? row.secret : null
    let publicKey: KeyObject | null = null
    let badPublicKey = false
    if (!symmetric && typeof row.rsa_public_key === 'string') {
      try {
        publicKey = createPublicKey(row.rsa_public_key)
      } catch {
        badPublicKey = true
      }
    }
    return {
      row: row as unknown as CredentialRow,
      key,
      consumer,
      algorithm,
      symmetric,
      hmacKey: secret === null ? null : Buffer.from(secret),
      hmacKeyBase64: secret === null ? null : decodeBase64Url(secret),
      publicKey,
      badPublicKey,
    }
  })
}

function prepare (c: JwtConfig, env: PrepareEnv): Prepared {
  const base = typeof c.realm === 'string' ? `Bearer realm="${c.realm}"` : 'Bearer'
  const withError = typeof c.realm === 'string' ? `${base}, error="invalid_token"` : 'Bearer error="invalid_token"'
  const claim = c.key_claim_name ?? 'iss'
  return {
    uriParams: c.uri_param_names ?? ['jwt'],
    cookies: c.cookie_names ?? [],
    // kong.request.get_headers()[name] falls back to the name lowercased with `_` as `-`
    headerNames: (c.header_names ?? ['authorization']).map((h) => h.toLowerCase().replace(/_/g, '-')),
    claim,
    base64: c.secret_is_base64 === true,
    claims: c.claims_to_verify ?? [],
    anonymous: prepareAnonymous(c.anonymous, env),
    preflight: c.run_on_preflight !== false,
    maxExp: typeof c.maximum_expiration === 'number' ? c.maximum_expiration : 0,
    secrets: env.memo('jwt:secrets', () => buildSecrets(env)),
    base: ['WWW-Authenticate', base],
    withError: ['WWW-Authenticate', withError],
    msgNoClaim: `No mandatory '${claim}' in claims`,
    msgBadClaim: `Invalid '${claim}' in claims`,
    msgNoCredentials: `No credentials found for given '${claim}'`,
  }
}

const BEARER = /\s*[Bb]earer\s+(.+)/

/** retrieve_tokens: undefined (none), the token, `true` (a bare `?jwt`), or MULTIPLE. */
const MULTIPLE = 2
function retrieveToken (ctx: PluginContext, c: Prepared): string | true | typeof MULTIPLE | undefined {
  let one: string | true | undefined
  let set: Set<string | true> | undefined
  const add = (t: string | true): void => {
    if (one === undefined) one = t
    else if (one !== t) (set ??= new Set([one])).add(t)
  }
  if (ctx.query !== null) {
    for (const name of c.uriParams) {
      const v = ctx.getQueryArg(name)
      if (v === undefined) continue
      if (Array.isArray(v)) { for (const t of v) if (t !== '') add(t) } else if (v !== '') add(v)
    }
  }
  for (const name of c.cookies) {
    const v = ctx.getCookie(name)
    if (v !== undefined && v !== '') add(v)
  }
  for (const name of c.headerNames) {
    const all = ctx.getHeaderAll(name)
    if (all === undefined) continue
    const m = BEARER.exec(typeof all === 'string' ? all : all[0]!)
    if (m !== null && m[1] !== '') add(m[1]!)
  }
  if (set !== undefined && set.size > 1) return MULTIPLE
  return one
}

interface Failure { readonly status: number; readonly body: string; readonly headers: FlatHeaders | null }

function fail (message: string, headers: FlatHeaders | null): Failure {
  return { status: 401, body: JSON.stringify({ message }), headers }
}

function authenticate (ctx: PluginContext, c: Prepared): Failure | null {
  const token = retrieveToken(ctx, c)
  if (token === undefined) return fail('Unauthorized', c.base)
  if (token === MULTIPLE) return fail('Multiple tokens provided', c.withError)
  if (token === true) return fail('Unrecognizable token', c.withError)
  const jwt = decodeJwt(token)
  if (typeof jwt === 'string') return fail(`Bad token; ${jwt}`, c.withError)
  let k = jwt.claims[c.claim]
  if (k === undefined || k === null || k === false) k = jwt.header[c.claim]
  if (k === undefined || k === null || k === false) return fail(c.msgNoClaim, c.withError)
  if (k === '') return fail(c.msgBadClaim, c.withError)
  const keyValue = typeof k === 'string' ? k : String(k)
  const secret = c.secrets.get(keyValue)
  if (secret === undefined) return fail(c.msgNoCredentials, c.withError)
  if (jwt.header.alg !== secret.algorithm) return fail('Invalid algorithm', c.withError)
  let key: Buffer | KeyObject | null
  if (secret.symmetric) key = c.base64 ? secret.hmacKeyBase64 : secret.hmacKey
  else if (secret.badPublicKey) throw new Error('Consumer Public Key is Invalid')
  else key = secret.publicKey
  if (key === null) return fail('Invalid key/secret', c.withError)
  if (!verifySignature(jwt, secret.algorithm, key)) return fail('Invalid signature', c.withError)
  const now = Math.floor(Date.now() / 1000)
  if (c.claims.length > 0) {
    const errors = verifyClaims(jwt.claims, c.claims, now)
    if (errors !== null) return { status: 401, body: JSON.stringify(errors), headers: c.withError }
  }
  if (c.maxExp > 0) {
    const exp = jwt.claims.exp
    if (exp === undefined || exp === null || (exp as number) - now > c.maxExp) {
      return { status: 401, body: '{"exp":"exceeds maximum allowed expiration"}', headers: c.withError }
    }
  }
  if (secret.consumer === null) return fail(`Could not find consumer for '${c.claim}=${keyValue}'`, null)
  setConsumer(ctx, secret.consumer, secret.row, secret.key)
  ctx.shared.set('authenticated_jwt_token', token)
  return null
}

export const handler: PluginHandler<JwtConfig, Prepared> = {
  name: 'jwt',
  priority: 1450,
  prepare,
  access (ctx, c) {
    if (!c.preflight && ctx.method === 'OPTIONS') return
    if (c.anonymous !== null && ctx.credential !== null) return
    const f = authenticate(ctx, c)
    if (f === null) return
    if (c.anonymous !== null) setAnonymous(ctx, c.anonymous)
    else ctx.exitJson(f.status, f.body, f.headers)
  },
}
