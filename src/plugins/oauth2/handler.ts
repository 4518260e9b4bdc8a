/**
 * oauth2 (kong/plugins/oauth2/handler.lua + access.lua, PRIORITY 1400, access phase only).
 *
 * Three jobs, by request path:
 * - `.../oauth2/token` and `.../oauth2/authorize` (POST only, else 405 `invalid_method`): the
 *   grant endpoints. They write codes and tokens, and a worker never touches PostgreSQL, so the
 *   worker forwards the parameters (query, then body fields over them), the auth header and the
 *   HTTPS verdict to the primary, which runs the grant with the DAO (grants.ts) and returns the
 *   status, body and headers to send. One request/response message pair per call
 *   (messages.ts), like the proxy-cache Admin relay but initiated by the worker.
 * - any other path: bearer-token verification. Tokens are far too many, and too short-lived,
 *   for the snapshot, so a token is looked up on the primary once and then held in a per-worker
 *   cache (client.ts) that honours the row's expiry, is bounded by db_update_frequency (Kong's
 *   cross-node cache lag), and is invalidated at once when a token or client application
 *   changes through this node (dao-hooks.ts -> primary.ts -> every worker that asked). Consumers
 *   come from the snapshot, so a deleted consumer's tokens stop working with the next snapshot.
 *
 * Errors are RFC 6749 bodies `{error, error_description}` sent as is (kong.response.exit), with
 * `WWW-Authenticate: Bearer [realm="..."][, error="...", error_description="..."]`.
 */
import { clearQueryArgKong, setAnonymous, setConsumer, prepareAnonymous, type Anonymous } from '../auth-consumer.ts'
import type { ConsumerIndex, CredentialRow, FlatHeaders, PluginContext, PluginHandler, PrepareEnv } from '../types.ts'
import { callEndpoint, lookupToken } from './client.ts'
import type { OAuth2Conf, TokenInfo } from './messages.ts'

export interface OAuth2Config extends OAuth2Conf {
  hide_credentials: boolean
  accept_http_if_already_terminated: boolean
  anonymous?: string | null
  auth_header_name?: string | null
  realm?: string | null
}

interface Failure { readonly status: number; readonly body: Record<string, string>; readonly headers: FlatHeaders }

interface Prepared {
  readonly conf: OAuth2Conf
  readonly pluginId: string
  readonly hide: boolean
  readonly acceptHttp: boolean
  readonly authHeader: string
  readonly realm: string | null
  readonly anonymous: Anonymous | null
  readonly global: boolean
  readonly consumers: ConsumerIndex
  readonly missing: Failure
  readonly invalid: Failure
  readonly globalToken: Failure
}

const H_SCOPE = 'x-authenticated-scope'
const H_USERID = 'x-authenticated-userid'
const INVALID_TOKEN = 'The access token is invalid or has expired'

/** make_www_authenticate_header */
function wwwAuthenticate (realm: string | null, error?: string, description?: string): string {
  const params: string[] = []
  if (realm !== null && realm !== '') params.push(`realm="${realm}"`)
  if (error !== undefined) params.push(`error="${error}"`)
  if (description !== undefined) params.push(`error_description="${description}"`)
  return params.length > 0 ? `Bearer ${params.join(', ')}` : 'Bearer'
}

function prepare (c: OAuth2Config, env: PrepareEnv): Prepared {
  const realm = typeof c.realm === 'string' ? c.realm : null
  const invalidHeaders = ['www-authenticate', wwwAuthenticate(realm, 'invalid_token', INVALID_TOKEN)]
  return {
    conf: {
      scopes: Array.isArray(c.scopes) ? c.scopes : null,
      mandatory_scope: c.mandatory_scope === true,
      provision_key: c.provision_key,
      token_expiration: typeof c.token_expiration === 'number' ? c.token_expiration : 7200,
      enable_authorization_code: c.enable_authorization_code === true,
      enable_implicit_grant: c.enable_implicit_grant === true,
      enable_client_credentials: c.enable_client_credentials === true,
      enable_password_grant: c.enable_password_grant === true,
      global_credentials: c.global_credentials === true,
      refresh_token_ttl: typeof c.refresh_token_ttl === 'number' ? c.refresh_token_ttl : 1209600,
      reuse_refresh_token: c.reuse_refresh_token === true,
      pkce: typeof c.pkce === 'string' ? c.pkce : 'lax',
    },
    pluginId: env.plugin.id,
    hide: c.hide_credentials === true,
    acceptHttp: c.accept_http_if_already_terminated === true,
    // kong.request.get_header reads nginx's $http_<name>: `_` and `-` are the same there
    authHeader: (typeof c.auth_header_name === 'string' ? c.auth_header_name : 'authorization').toLowerCase().replace(/_/g, '-'),
    realm,
    anonymous: prepareAnonymous(c.anonymous, env),
    global: c.global_credentials === true,
    consumers: env.consumers,
    missing: { status: 401, body: { error: 'invalid_request', error_description: 'The access token is missing' }, headers: ['www-authenticate', wwwAuthenticate(realm)] },
    invalid: { status: 401, body: { error: 'invalid_token', error_description: INVALID_TOKEN }, headers: invalidHeaders },
    globalToken: {
      status: 401,
      body: { error: 'invalid_token', error_description: "The access token is global, but the current plugin is configured without 'global_credentials'" },
      headers: invalidHeaders,
    },
  }
}

// ---- request parameters (retrieve_parameters)

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

function withBody (ctx: PluginContext): boolean {
  const m = ctx.method
  return m === 'POST' || m === 'PUT' || m === 'PATCH'
}

/** Query arguments, and for POST/PUT/PATCH the body fields over them. */
function parameters (ctx: PluginContext): Record<string, unknown> | Promise<Record<string, unknown>> {
  const query: Record<string, unknown> = { ...ctx.getQueryArgs() }
  if (!withBody(ctx)) return query
  const merge = (b: { value: unknown } | null): Record<string, unknown> => (b !== null && isObject(b.value) ? { ...query, ...b.value } : query)
  const body = ctx.getBody()
  return body instanceof Promise ? body.then(merge) : merge(body)
}

/** kong.tools.http check_https: true, false, or an error text. */
function checkHttps (ctx: PluginContext, c: Prepared): true | false | string {
  if (ctx.scheme === 'https') return true
  if (!c.acceptHttp) return false
  // `trusted`: the peer is in trusted_ips (worker/context.ts; not part of the plugin PDK surface)
  if ((ctx as unknown as { trusted?: boolean }).trusted !== true) return false
  const proto = ctx.getHeader('x-forwarded-proto')
  if (proto === undefined) return false
  if (proto.includes(',')) return 'Only one X-Forwarded-Proto header allowed'
  return proto.toLowerCase() === 'https'
}

async function endpoint (ctx: PluginContext, c: Prepared, op: 'token' | 'authorize'): Promise<void> {
  const params = await parameters(ctx)
  const r = await callEndpoint(op, {
    pluginId: c.pluginId,
    serviceId: typeof ctx.serviceRow?.id === 'string' ? ctx.serviceRow.id : null,
    conf: c.conf,
    params,
    authHeader: ctx.getHeader(c.authHeader) ?? null,
    https: checkHttps(ctx, c),
  })
  ctx.exit(r.status, r.body, r.headers)
}

function invalidMethod (ctx: PluginContext, c: Prepared, name: string): void {
  const description = `The HTTP method ${ctx.method} is invalid for the ${name} endpoint`
  ctx.exit(405, { error: 'invalid_method', error_description: description },
    ['www-authenticate', wwwAuthenticate(c.realm, 'invalid_method', description)])
}

// ---- token verification (do_authentication)

/** parse_access_token: the token, or undefined; hides it when configured. */
function accessToken (ctx: PluginContext, c: Prepared): string | undefined | Promise<string | undefined> {
  const header = ctx.getHeader(c.authHeader)
  let token: unknown
  let inHeader = false
  if (header !== undefined) {
    token = header
    const parts = header.split(/[ \t\n\v\f\r]+/).filter((p) => p !== '')
    if (parts.length === 2 && (parts[0]!.toLowerCase() === 'token' || parts[0]!.toLowerCase() === 'bearer')) {
      token = parts[1]
      inHeader = true
    }
  } else {
    const params = parameters(ctx)
    if (params instanceof Promise) return params.then((p) => finish(ctx, c, p.access_token, false))
    token = params.access_token
  }
  return finish(ctx, c, token, inHeader)
}

function finish (ctx: PluginContext, c: Prepared, token: unknown, inHeader: boolean): string | undefined {
  if (typeof token !== 'string') return undefined
  if (c.hide) {
    if (inHeader) ctx.clearHeader(c.authHeader)
    else {
      clearQueryArgKong(ctx, 'access_token')
      const type = ctx.getHeader('content-type')
      if (ctx.method !== 'GET' && type !== undefined && type.includes('application/x-www-form-urlencoded')) {
        const body = ctx.getBody()
        // the body was read and parsed by parameters() already: this is synchronous
        if (body !== null && !(body instanceof Promise) && isObject(body.value)) {
          const v = { ...body.value }
          delete v.access_token
          ctx.setBody({ type: body.type, value: v })
        }
      }
    }
  }
  return token
}

/** null on success, else the failure. */
function verify (ctx: PluginContext, c: Prepared, info: TokenInfo | null): Failure | null {
  if (info === null) return c.invalid
  const serviceId = typeof ctx.serviceRow?.id === 'string' ? ctx.serviceRow.id : null
  if (!c.global && info.serviceId === null) return c.globalToken
  if (info.serviceId !== null ? info.serviceId !== serviceId : !c.global) return c.invalid
  if (info.expiresIn > 0 && Date.now() / 1000 - info.createdAt > info.expiresIn) return c.invalid
  const consumer = info.consumerId === null ? undefined : c.consumers.byId(info.consumerId)
  if (consumer === undefined) return c.invalid // the consumer (and with it this token) was deleted
  const credential: CredentialRow = { id: info.credentialId, consumer: { id: consumer.id }, client_id: info.clientId }
  setConsumer(ctx, consumer, credential, info.clientId)
  if (info.scope !== null) ctx.setHeader(H_SCOPE, info.scope)
  else ctx.clearHeader(H_SCOPE)
  if (info.authenticatedUserid !== null) ctx.setHeader(H_USERID, info.authenticatedUserid)
  else ctx.clearHeader(H_USERID)
  return null
}

function authenticate (ctx: PluginContext, c: Prepared, token: string | undefined): Failure | null | Promise<Failure | null> {
  if (token === undefined || token === '') return c.missing
  const info = lookupToken(token)
  return info instanceof Promise ? info.then((i) => verify(ctx, c, i)) : verify(ctx, c, info)
}

function conclude (ctx: PluginContext, c: Prepared, f: Failure | null): void {
  if (f === null) return
  // a global token on a plugin without global_credentials is refused even in "logical OR" mode
  if (c.anonymous !== null && f !== c.globalToken) {
    setAnonymous(ctx, c.anonymous)
    if (!ctx.exited) { ctx.clearHeader(H_SCOPE); ctx.clearHeader(H_USERID) }
    return
  }
  ctx.exit(f.status, f.body, f.headers)
}

function run (ctx: PluginContext, c: Prepared): void | Promise<void> {
  const token = accessToken(ctx, c)
  const r = token instanceof Promise ? token.then((t) => authenticate(ctx, c, t)) : authenticate(ctx, c, token)
  if (r instanceof Promise) return r.then((f) => { conclude(ctx, c, f) })
  conclude(ctx, c, r)
}

/** Kong: string.find(path, "/oauth2/token", -13 or -14 with a trailing slash, true). */
function endsWith (path: string, suffix: string): boolean {
  return path.endsWith(suffix) || path.endsWith(`${suffix}/`)
}

export const handler: PluginHandler<OAuth2Config, Prepared> = {
  name: 'oauth2',
  priority: 1400,
  prepare,
  access (ctx, c) {
    const path = ctx.path
    if (endsWith(path, '/oauth2/token')) {
      if (ctx.method !== 'POST') return invalidMethod(ctx, c, 'token')
      return endpoint(ctx, c, 'token')
    }
    if (endsWith(path, '/oauth2/authorize')) {
      if (ctx.method !== 'POST') return invalidMethod(ctx, c, 'authorization')
      return endpoint(ctx, c, 'authorize')
    }
    if (c.anonymous !== null && ctx.credential !== null) {
      // "logical OR": an earlier plugin authenticated the request
      ctx.clearHeader(H_SCOPE)
      ctx.clearHeader(H_USERID)
      return
    }
    return run(ctx, c)
  },
}
