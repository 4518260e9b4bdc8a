/**
 * The primary <-> worker messages of the oauth2 plugin, joined to the unions of
 * common/protocol.ts. Plain data only: these cross postMessage.
 *
 *   worker --OAuth2Request{seq, op}--> primary --OAuth2Reply{kind: 'result', seq}--> that worker
 *   primary --OAuth2Reply{kind: 'invalidate'}--> every worker that ever asked (their token caches)
 *
 * `token` / `authorize`: the primary runs the whole grant (it owns the DAO) and answers the HTTP
 * response the worker sends. `lookup`: one access token, with what verification needs.
 */

/** What the grants need of a plugin instance's config (kong/plugins/oauth2/schema.lua names). */
export interface OAuth2Conf {
  scopes: string[] | null
  mandatory_scope: boolean
  provision_key: string
  token_expiration: number
  enable_authorization_code: boolean
  enable_implicit_grant: boolean
  enable_client_credentials: boolean
  enable_password_grant: boolean
  global_credentials: boolean
  refresh_token_ttl: number
  reuse_refresh_token: boolean
  pkce: string
}

export interface OAuth2EndpointCall {
  /** Plugin instance id (codes remember it), service of the matched route (or null). */
  pluginId: string
  serviceId: string | null
  conf: OAuth2Conf
  /** Query arguments, then (POST/PUT/PATCH) body fields over them: retrieve_parameters. */
  params: Record<string, unknown>
  /** The `auth_header_name` request header (token endpoint: HTTP Basic client credentials). */
  authHeader: string | null
  /** check_https: true, false, or the error text (several X-Forwarded-Proto values). */
  https: true | false | string
}

export type OAuth2Request =
  | ({ type: 'oauth2'; workerId: number; seq: number; op: 'token' | 'authorize' } & OAuth2EndpointCall)
  | { type: 'oauth2'; workerId: number; seq: number; op: 'lookup'; accessToken: string }

/** A token as verification needs it. */
export interface TokenInfo {
  accessToken: string
  credentialId: string
  serviceId: string | null
  expiresIn: number
  createdAt: number
  /** Epoch seconds the row itself expires (its ttl); 0: never. */
  rowExpiresAt: number
  scope: string | null
  authenticatedUserid: string | null
  /** The credential: its client_id (X-Credential-Identifier) and consumer. */
  clientId: string | null
  consumerId: string | null
}

export interface OAuth2Response { status: number; body: Record<string, unknown>; headers: string[] }

export type OAuth2Reply =
  | { type: 'oauth2-reply'; kind: 'result'; seq: number; response?: OAuth2Response; token?: TokenInfo | null; error?: string }
  | { type: 'oauth2-reply'; kind: 'invalidate'; tokens: string[]; credentials: string[] }
