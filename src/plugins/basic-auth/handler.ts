/**
 * basic-auth (kong/plugins/basic-auth/access.lua, PRIORITY 1100).
 *
 * Reads `Proxy-Authorization` first, then `Authorization`: `\s*[Bb]asic\s*(.+)` (unanchored),
 * strict base64 (ngx.decode_base64: bad characters or a length of 4n+1 are refused, padding is
 * optional), then `([^:]+):(.*)`. The password is checked as Kong stores it:
 * `sha1(password .. consumer_id)` in hex. Every failure is 401 `Unauthorized` with
 * `WWW-Authenticate: Basic realm="<realm>"`. hide_credentials removes the header(s) read.
 * X-Credential-Identifier is the credential's username. Usernames are indexed once per snapshot.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { credentialIndex, decodeBase64Strict, prepareAnonymous, setAnonymous, setConsumer, type Anonymous, type CredentialLookup } from '../auth-consumer.ts'
import type { ConsumerRow, CredentialRow, FlatHeaders, PluginContext, PluginHandler, PrepareEnv } from '../types.ts'

export { decodeBase64Strict }

export interface BasicAuthConfig {
  anonymous?: string | null
  hide_credentials: boolean
  realm: string
}

interface Entry {
  readonly cred: CredentialRow
  readonly consumer: ConsumerRow | null
  readonly consumerId: Buffer
  readonly hash: Buffer
  readonly username: string
}

interface Prepared {
  readonly anonymous: Anonymous | null
  readonly hide: boolean
  readonly headers: FlatHeaders
  readonly users: CredentialLookup<Entry>
}

function buildUsers (env: PrepareEnv): CredentialLookup<Entry> {
  return credentialIndex(env, 'basicauth_credentials', 'username', (row, consumer) => {
    const username = row.username
    const password = row.password
    const consumerId = (row.consumer as { id?: unknown } | null)?.id
    if (typeof username !== 'string' || typeof password !== 'string' || typeof consumerId !== 'string') return undefined
    return {
      cred: row as unknown as CredentialRow,
      consumer,
      consumerId: Buffer.from(consumerId),
      hash: Buffer.from(password.toLowerCase(), 'latin1'),
      username,
    }
  })
}

const BASIC = /\s*[Bb]asic\s*(.+)/
// PCRE without DOTALL, as Kong matches it: the password ends at a newline.
const PARTS = /([^:]+):(.*)/
interface Given { readonly username: string; readonly password: Buffer }

function retrieve (ctx: PluginContext, header: string, value: string | undefined, hide: boolean): Given | null {
  let given: Given | null = null
  if (value !== undefined) {
    const m = BASIC.exec(value)
    if (m !== null) {
      const decoded = decodeBase64Strict(m[1]!)
      if (decoded !== null) {
        const p = PARTS.exec(decoded)
        if (p !== null) {
          given = {
            username: Buffer.from(p[1]!, 'latin1').toString('utf8'),
            password: Buffer.from(p[2]!, 'latin1'),
          }
        }
      }
    }
  }
  if (hide) ctx.clearHeader(header)
  return given
}

function valid (e: Entry, password: Buffer): boolean {
  const digest = Buffer.from(createHash('sha1').update(password).update(e.consumerId).digest('hex'), 'latin1')
  return digest.length === e.hash.length && timingSafeEqual(digest, e.hash)
}

function authenticate (ctx: PluginContext, c: Prepared): boolean {
  const authorization = ctx.getHeader('authorization')
  const proxyAuthorization = ctx.getHeader('proxy-authorization')
  if (authorization === undefined && proxyAuthorization === undefined) return false
  let entry: Entry | undefined
  let given = retrieve(ctx, 'proxy-authorization', proxyAuthorization, c.hide)
  if (given !== null) entry = c.users.get(given.username)
  if (entry === undefined) {
    given = retrieve(ctx, 'authorization', authorization, c.hide)
    if (given === null) return false
    entry = c.users.get(given.username)
  }
  if (entry === undefined || !valid(entry, given!.password)) return false
  setConsumer(ctx, entry.consumer, entry.cred, entry.username)
  return true
}

export const handler: PluginHandler<BasicAuthConfig, Prepared> = {
  name: 'basic-auth',
  priority: 1100,
  prepare (c, env) {
    return {
      anonymous: prepareAnonymous(c.anonymous, env),
      hide: c.hide_credentials === true,
      headers: ['WWW-Authenticate', `Basic realm="${c.realm ?? 'service'}"`],
      users: env.memo('basic-auth:users', () => buildUsers(env)),
    }
  },
  access (ctx, c) {
    if (c.anonymous !== null && ctx.credential !== null) return
    if (authenticate(ctx, c)) return
    if (c.anonymous !== null) setAnonymous(ctx, c.anonymous)
    else ctx.error(401, 'Unauthorized', c.headers)
  },
}
