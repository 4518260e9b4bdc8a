/**
 * The oauth2 endpoints, run on the primary (kong/plugins/oauth2/access.lua `authorize` and
 * `issue_token`): the worker forwards the request's parameters (messages.ts OAuth2EndpointCall)
 * and sends back the status, JSON body and headers computed here. Every check runs in Kong's
 * order, and a later failing check replaces an earlier one's error, as access.lua's reassigned
 * `response_params` does. Codes and tokens are written through the DAO (cluster events, hooks).
 */
import { createHash } from 'node:crypto'
import { daoFor, withWrite, type Entity } from '../../db/dao/index.ts'
import type { Pool } from '../../db/pool.ts'
import { randomString } from '../../db/schema/process.ts'
import { getSchema } from '../../db/schema/registry.ts'
import type { EntitySchema } from '../../db/schema/types.ts'
import type { OAuth2Conf, OAuth2EndpointCall, OAuth2Response } from './messages.ts'
import { verifySecret } from './secret.ts'

export interface GrantEnv { pool: Pool; nodeId: string }

type Params = Record<string, unknown>
type Body = Record<string, unknown>

const CREDENTIALS = (): EntitySchema => getSchema('oauth2_credentials')!
const CODES = (): EntitySchema => getSchema('oauth2_authorization_codes')!
const TOKENS = (): EntitySchema => getSchema('oauth2_tokens')!

const NO_STORE = ['cache-control', 'no-store', 'pragma', 'no-cache']
const INVALID_CLIENT: Body = { error: 'invalid_client', error_description: 'Invalid client authentication' }
const BAD_REDIRECT: Body = {
  error: 'invalid_request',
  error_description: 'Invalid redirect_uri that does not match with any redirect_uri created with the application',
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const fkId = (v: unknown): string | null => {
  const id = (v as { id?: unknown } | null | undefined)?.id
  return typeof id === 'string' ? id : null
}
const blank = (v: unknown): boolean => typeof v !== 'string' || v.trim() === ''

async function selectBy (env: GrantEnv, schema: EntitySchema, field: string, value: unknown): Promise<Entity | null> {
  if (typeof value !== 'string' || value === '') return null
  try {
    return await daoFor(schema).selectByField(env.pool, field, value)
  } catch (err) {
    if ((err as { errT?: unknown }).errT !== undefined && (err as { errT: { code?: number } }).errT.code === 10) return null // invalid unique value
    throw err
  }
}

/** retrieve_scope: the granted scopes joined by spaces (or null), or the error body. */
function retrieveScope (params: Params, conf: OAuth2Conf): { scope: string | null } | { error: Body } {
  const scope = params.scope
  const scopes: string[] = []
  if (conf.scopes !== null && scope !== undefined) {
    if (typeof scope !== 'string') return { error: { error: 'invalid_scope', error_description: 'scope must be a string' } }
    for (const v of scope.split(/[ \t\n\v\f\r]+/)) {
      if (v === '') continue
      if (!conf.scopes.includes(v)) return { error: { error: 'invalid_scope', error_description: `"${v}" is an invalid scope` } }
      scopes.push(v)
    }
  } else if (scope === undefined && conf.mandatory_scope) {
    return { error: { error: 'invalid_scope', error_description: 'You must specify a scope' } }
  }
  return { scope: scopes.length > 0 ? scopes.join(' ') : null }
}

/** ngx.decode_base64 (padding optional); null when malformed. */
function decodeBase64 (s: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null
  const bare = s.replace(/=+$/, '')
  if (bare.length % 4 === 1) return null
  return Buffer.from(bare, 'base64')
}

/** retrieve_code_challenge: the normalised challenge and method, or an error description. */
function retrieveCodeChallenge (params: Params): { challenge: string | undefined; method: string } | { error: string } {
  let challenge = str(params.code_challenge)
  let method = params.code_challenge_method
  if (method !== undefined && params.code_challenge === undefined) return { error: 'code_challenge is required when code_method is present' }
  if (challenge !== undefined) {
    const decoded = decodeBase64(challenge.replace(/-/g, '+').replace(/_/g, '/'))
    if (decoded !== null) challenge = decoded.toString('base64url')
    if (method !== undefined && method !== 'S256') {
      if (method !== 's256') return { error: 'code_challenge_method is not supported, must be S256' }
      method = 'S256'
    }
  }
  return { challenge, method: typeof method === 'string' ? method : 'S256' }
}

function requiresPkce (conf: OAuth2Conf, client: Entity | null, usedPkce: unknown): boolean {
  if (client === null) return false
  return (usedPkce !== null && usedPkce !== undefined) ||
    (client.client_type === 'public' && conf.pkce !== 'none') ||
    (client.client_type === 'confidential' && conf.pkce === 'strict')
}

/** generate_token: a new token row (or, reusing a refresh token, the old row renewed). */
async function generateToken (env: GrantEnv, conf: OAuth2Conf, serviceId: string | null, client: Entity, userid: unknown,
  scope: unknown, state: unknown, disableRefresh: boolean, existing: Entity | null = null): Promise<Body> {
  const expiration = Math.floor(conf.token_expiration)
  const refreshTtl = conf.refresh_token_ttl > 0 ? Math.floor(conf.refresh_token_ttl) : null
  const ttl = expiration > 0 && refreshTtl !== null ? refreshTtl : undefined
  const tokens = daoFor(TOKENS())
  let token: Entity
  let refresh: unknown = null
  if (existing !== null && conf.reuse_refresh_token) {
    token = await withWrite(env.pool, env.nodeId, TOKENS(), (tx) => tokens.update(tx, { id: existing.id as string }, {
      access_token: randomString(), expires_in: expiration, created_at: Math.floor(Date.now() / 1000),
    }, { ttl }))
    refresh = token.refresh_token
  } else {
    if (!disableRefresh && expiration > 0) refresh = randomString()
    const sid = conf.global_credentials ? null : serviceId
    token = await withWrite(env.pool, env.nodeId, TOKENS(), (tx) => tokens.insert(tx, {
      service: sid === null ? null : { id: sid },
      credential: { id: client.id },
      authenticated_userid: typeof userid === 'string' ? userid : null,
      expires_in: expiration,
      refresh_token: refresh,
      scope: typeof scope === 'string' ? scope : null,
    }, { ttl }))
  }
  const out: Body = { access_token: token.access_token, token_type: 'bearer' }
  if (expiration > 0) out.expires_in = token.expires_in
  if (refresh !== null && refresh !== undefined) out.refresh_token = refresh
  if (state !== undefined) out.state = state
  return out
}

// ---- redirect_uri composition (socket.url parse/build, kong.tools.http encode_args)

/** ngx.escape_uri: everything but unreserved characters percent-encoded. */
const escapeUri = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

function decodeArgs (s: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (s === '') return out
  for (const part of s.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const dec = (x: string): string => { try { return decodeURIComponent(x.replace(/\+/g, ' ')) } catch { return x } }
    const k = dec(eq < 0 ? part : part.slice(0, eq))
    const v: unknown = eq < 0 ? true : dec(part.slice(eq + 1))
    const prev = out[k]
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
  }
  return out
}

/** encode_args: keys sorted, values escaped, arrays repeated, `true` as a bare key. */
function encodeArgs (args: Record<string, unknown>): string {
  const parts: string[] = []
  for (const k of Object.keys(args).sort()) {
    const v = args[k]
    for (const x of Array.isArray(v) ? v : [v]) {
      if (x === undefined || x === null || x === false) continue
      parts.push(x === true ? escapeUri(k) : `${escapeUri(k)}=${escapeUri(String(x))}`)
    }
  }
  return parts.join('&')
}

/** The redirect_uri with the response parameters merged into its query (or, implicit grant, fragment). */
function withParams (uri: string, params: Body, inFragment: boolean): string {
  const hash = uri.indexOf('#')
  const beforeHash = hash < 0 ? uri : uri.slice(0, hash)
  let fragment = hash < 0 ? null : uri.slice(hash + 1)
  const q = beforeHash.indexOf('?')
  const base = q < 0 ? beforeHash : beforeHash.slice(0, q)
  let query = q < 0 ? null : beforeHash.slice(q + 1)
  if (inFragment) fragment = encodeArgs({ ...decodeArgs(fragment ?? ''), ...params })
  else query = encodeArgs({ ...decodeArgs(query ?? ''), ...params })
  return base + (query !== null && query !== '' ? `?${query}` : '') + (fragment !== null && fragment !== '' ? `#${fragment}` : '')
}

const httpsError = (https: true | false | string): Body | null =>
  https === true ? null : { error: 'access_denied', error_description: typeof https === 'string' ? https : 'You must use HTTPS' }

// ---- POST .../oauth2/authorize

export async function authorize (env: GrantEnv, call: OAuth2EndpointCall): Promise<OAuth2Response> {
  const { conf, params } = call
  let response: Body = {}
  const state = params.state
  let redirectUri: string | null = null
  let implicit = false
  const denied = httpsError(call.https)
  if (denied !== null) response = denied
  else if (conf.provision_key !== params.provision_key) response = { error: 'invalid_provision_key', error_description: 'Invalid provision_key' }
  else if (blank(params.authenticated_userid)) response = { error: 'invalid_authenticated_userid', error_description: 'Missing authenticated_userid parameter' }
  else {
    const responseType = params.response_type
    if (!((responseType === 'code' && conf.enable_authorization_code) || (conf.enable_implicit_grant && responseType === 'token'))) {
      response = { error: 'unsupported_response_type', error_description: 'Invalid response_type' }
    }
    const scoped = retrieveScope(params, conf)
    if ('error' in scoped) response = scoped.error
    const client = await selectBy(env, CREDENTIALS(), 'client_id', params.client_id)
    const allowed = (client?.redirect_uris ?? null) as string[] | null
    if (allowed === null || allowed.length === 0) response = INVALID_CLIENT
    else {
      const wanted = params.redirect_uri ?? allowed[0]
      if (typeof wanted === 'string' && allowed.includes(wanted)) redirectUri = wanted
      else { response = BAD_REDIRECT; redirectUri = allowed[0]! }
    }
    const pkce = retrieveCodeChallenge(params)
    let challenge: string | undefined
    let method: string | null = null
    if ('error' in pkce) response = { error: 'invalid_request', error_description: pkce.error }
    else if (client !== null && pkce.challenge === undefined && requiresPkce(conf, client, null)) {
      response = { error: 'invalid_request', error_description: `code_challenge is required for ${String(client.client_type)} clients` }
    } else if (pkce.challenge !== undefined) { challenge = pkce.challenge; method = pkce.method }

    if (response.error === undefined && client !== null) {
      if (responseType === 'code') {
        const serviceId = conf.global_credentials ? null : call.serviceId
        const code = await withWrite(env.pool, env.nodeId, CODES(), (tx) => daoFor(CODES()).insert(tx, {
          service: serviceId === null ? null : { id: serviceId },
          credential: { id: client.id },
          authenticated_userid: params.authenticated_userid,
          scope: 'scope' in scoped ? scoped.scope : null,
          challenge: challenge ?? null,
          challenge_method: method,
          plugin: { id: call.pluginId },
        }, { ttl: 300 }))
        response = { code: code.code }
      } else {
        response = await generateToken(env, conf, call.serviceId, client, params.authenticated_userid,
          'scope' in scoped ? scoped.scope : null, state, true)
        implicit = true
      }
    }
  }
  if (state !== undefined) response.state = state
  else delete response.state
  const status = response.error !== undefined ? 400 : 200
  const body = redirectUri !== null ? { redirect_uri: withParams(redirectUri, response, implicit) } : response
  return { status, body, headers: NO_STORE }
}

// ---- POST .../oauth2/token

/** retrieve_client_credentials: body/query first, then HTTP Basic in the auth header. */
function clientCredentials (params: Params, authHeader: string | null): { id: unknown; secret: unknown; fromHeader: boolean } {
  if (params.client_id !== undefined && params.client_secret !== undefined) return { id: params.client_id, secret: params.client_secret, fromHeader: false }
  if (authHeader !== null) {
    const m = /\s*[Bb]asic\s*(.+)/.exec(authHeader)
    const decoded = m === null ? null : decodeBase64(m[1]!)
    if (decoded === null) return { id: undefined, secret: undefined, fromHeader: true }
    const s = decoded.toString('latin1')
    const i = s.indexOf(':')
    return i < 0 ? { id: s, secret: undefined, fromHeader: true } : { id: s.slice(0, i), secret: s.slice(i + 1), fromHeader: true }
  }
  return { id: params.client_id, secret: undefined, fromHeader: false }
}

/** validate_pkce_verifier */
function pkceError (params: Params, code: Entity): Body | null {
  const verifier = params.code_verifier
  if (verifier === undefined) return { error: 'invalid_request', error_description: 'code_verifier is required for PKCE authorization requests' }
  if (typeof verifier !== 'string') return { error: 'invalid_request', error_description: 'code_verifier is not a string' }
  if (verifier.length < 43 || verifier.length > 128) return { error: 'invalid_request', error_description: 'code_verifier must be between 43 and 128 characters' }
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  if (typeof code.challenge !== 'string' || challenge !== code.challenge) return { error: 'invalid_grant', error_description: 'Invalid code' }
  return null
}

export async function issueToken (env: GrantEnv, call: OAuth2EndpointCall): Promise<OAuth2Response> {
  const { conf, params } = call
  let response: Body = {}
  let unauthorized = false
  const state = params.state
  const denied = httpsError(call.https)
  if (denied !== null) response = denied
  else {
    const grant = params.grant_type
    if (!(grant === 'authorization_code' || grant === 'refresh_token' ||
      (conf.enable_client_credentials && grant === 'client_credentials') || (conf.enable_password_grant && grant === 'password'))) {
      response = { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' }
    }
    const creds = clientCredentials(params, call.authHeader)
    const client = await selectBy(env, CREDENTIALS(), 'client_id', creds.id)
    const allowed = (client?.redirect_uris ?? null) as string[] | null
    if (grant !== 'client_credentials') {
      if (allowed !== null) {
        const wanted = params.redirect_uri ?? allowed[0]
        if (!(typeof wanted === 'string' && allowed.includes(wanted))) response = BAD_REDIRECT
      } else {
        response = INVALID_CLIENT
        if (creds.fromHeader) unauthorized = true
      }
    }
    if (client !== null) {
      if (client.client_type === 'confidential') {
        const ok = client.hash_secret === true
          ? await verifySecret(creds.secret, client.client_secret)
          : client.client_secret === creds.secret
        if (!ok) {
          response = INVALID_CLIENT
          if (creds.fromHeader) unauthorized = true
        }
      } else if (client.client_type === 'public' && typeof creds.secret === 'string' && creds.secret.trim() !== '') {
        response = { error: 'invalid_request', error_description: 'client_secret is disallowed for public clients' }
      }
    }

    if (response.error === undefined) response = await grantFor(env, call, grant, client, state)
  }
  if (state !== undefined) response.state = state
  else delete response.state
  const failed = response.error !== undefined
  const headers = unauthorized && failed ? [...NO_STORE, 'www-authenticate', 'Basic realm="OAuth2.0"'] : NO_STORE
  return { status: failed ? (unauthorized ? 401 : 400) : 200, body: response, headers }
}

async function grantFor (env: GrantEnv, call: OAuth2EndpointCall, grant: unknown, client: Entity | null, state: unknown): Promise<Body> {
  const { conf, params } = call
  const serviceId = conf.global_credentials ? null : call.serviceId
  switch (grant) {
    case 'authorization_code': {
      const code = await selectBy(env, CODES(), 'code', params.code)
      const invalid: Body = { error: 'invalid_request', error_description: 'Invalid code' }
      if (code === null || (serviceId !== null && serviceId !== fkId(code.service))) return invalid
      if (client === null || fkId(code.credential) !== client.id) return invalid
      if (requiresPkce(conf, client, code.challenge_method)) {
        const err = pkceError(params, code)
        if (err !== null) return err
      }
      const issuer = fkId(code.plugin)
      if (conf.global_credentials && issuer !== null && issuer !== call.pluginId) return invalid
      // The code is spent first: two concurrent exchanges cannot both get a token.
      const spent = await withWrite(env.pool, env.nodeId, CODES(), (tx) => daoFor(CODES()).delete(tx, { id: code.id as string }))
      if (!spent) return invalid
      return await generateToken(env, conf, call.serviceId, client, code.authenticated_userid, code.scope, state, false)
    }
    case 'client_credentials': {
      if (params.authenticated_userid !== undefined && conf.provision_key !== params.provision_key) {
        return { error: 'invalid_provision_key', error_description: 'Invalid provision_key' }
      }
      if (client === null) return INVALID_CLIENT
      const scoped = retrieveScope(params, conf)
      if ('error' in scoped) return scoped.error
      return await generateToken(env, conf, call.serviceId, client, params.authenticated_userid, scoped.scope, state, true)
    }
    case 'password': {
      if (conf.provision_key !== params.provision_key) return { error: 'invalid_provision_key', error_description: 'Invalid provision_key' }
      if (blank(params.authenticated_userid)) return { error: 'invalid_authenticated_userid', error_description: 'Missing authenticated_userid parameter' }
      const scoped = retrieveScope(params, conf)
      if ('error' in scoped) return scoped.error
      return await generateToken(env, conf, call.serviceId, client!, params.authenticated_userid, scoped.scope, state, false)
    }
    case 'refresh_token': {
      const token = await selectBy(env, TOKENS(), 'refresh_token', params.refresh_token)
      if (token === null || (serviceId !== null && serviceId !== fkId(token.service))) {
        return { error: 'invalid_request', error_description: 'Invalid refresh_token' }
      }
      if (client === null || fkId(token.credential) !== client.id) return INVALID_CLIENT
      if (typeof token.scope === 'string') {
        for (const s of token.scope.split(/[ \t\n\v\f\r]+/)) {
          if (s !== '' && !(conf.scopes ?? []).includes(s)) return { error: 'invalid_scope', error_description: 'Scope mismatch' }
        }
      }
      if (!conf.reuse_refresh_token) {
        // The old token goes first: a refresh token is exchanged once.
        const gone = await withWrite(env.pool, env.nodeId, TOKENS(), (tx) => daoFor(TOKENS()).delete(tx, { id: token.id as string }))
        if (!gone) return { error: 'invalid_request', error_description: 'Invalid refresh_token' }
        return await generateToken(env, conf, call.serviceId, client, token.authenticated_userid, token.scope, state, false)
      }
      return await generateToken(env, conf, call.serviceId, client, token.authenticated_userid, token.scope, state, false, token)
    }
  }
  return { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' }
}
