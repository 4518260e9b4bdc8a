/**
 * The worker's side of the oauth2 messages (messages.ts): requests to the primary with their
 * answers matched by `seq`, and the token cache.
 *
 * Token cache: access token -> TokenInfo (or null: not found), so a token costs one message the
 * first time, then a Map get. An entry lives until the earliest of
 * - the token row's own expiry (its ttl), and
 * - a staleness bound, `db_update_frequency`: the time Kong's own node cache may lag behind a
 *   change made on another node;
 * and is dropped at once when the primary says the token (or its credential) changed
 * (invalidation: every change made through this node). A lookup that was under way when an
 * invalidation arrived is not cached (`generation`). The access-token expiry itself
 * (created_at + expires_in) is checked on every request by the handler.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { OAuth2EndpointCall, OAuth2Reply, OAuth2Request, OAuth2Response, TokenInfo } from './messages.ts'
import { PendingCalls } from '../../worker/primary-calls.ts'

const MAX_ENTRIES = 10_000

interface Cached { info: TokenInfo | null; until: number }

const data = (workerData ?? {}) as { workerId?: number; config?: { dbUpdateFrequencyMs?: unknown } }
const workerId = typeof data.workerId === 'number' ? data.workerId : 0
const staleMs = typeof data.config?.dbUpdateFrequencyMs === 'number' && data.config.dbUpdateFrequencyMs > 0 ? data.config.dbUpdateFrequencyMs : 5000

const calls = new PendingCalls<OAuth2Reply & { kind: 'result' }>('oauth2')
const cache = new Map<string, Cached>()
const inflight = new Map<string, Promise<TokenInfo | null>>()
let generation = 0

type Request = { op: 'token' | 'authorize' } & OAuth2EndpointCall | { op: 'lookup'; accessToken: string }

function ask (req: Request): Promise<OAuth2Reply & { kind: 'result' }> {
  const port = parentPort
  if (port === null) return Promise.reject(new Error('oauth2: not running in a worker thread'))
  return calls.call((seq) => { port.postMessage({ type: 'oauth2', workerId, seq, ...req } as OAuth2Request) })
}

/** worker/main.ts: every `oauth2-reply` from the primary. */
export function onOAuth2Reply (msg: OAuth2Reply): void {
  if (msg.kind === 'invalidate') {
    generation++
    for (const t of msg.tokens) cache.delete(t)
    if (msg.credentials.length > 0) {
      const creds = new Set(msg.credentials)
      for (const [k, v] of cache) if (v.info !== null && creds.has(v.info.credentialId)) cache.delete(k)
    }
    return
  }
  calls.settle(msg)
}

/** The token endpoint or the authorization endpoint, run by the primary. */
export async function callEndpoint (op: 'token' | 'authorize', call: OAuth2EndpointCall): Promise<OAuth2Response> {
  const r = await ask({ op, ...call })
  if (r.response === undefined) throw new Error('oauth2: empty answer')
  return r.response
}

/** The token (null: unknown or expired row); synchronous when cached. */
export function lookupToken (accessToken: string): TokenInfo | null | Promise<TokenInfo | null> {
  const now = Date.now()
  const hit = cache.get(accessToken)
  if (hit !== undefined) {
    if (hit.until > now) return hit.info
    cache.delete(accessToken)
  }
  let p = inflight.get(accessToken)
  if (p !== undefined) return p
  const gen = generation
  p = ask({ op: 'lookup', accessToken }).then((r) => {
    const info = r.token ?? null
    if (gen === generation) {
      let until = Date.now() + staleMs
      if (info !== null && info.rowExpiresAt > 0) until = Math.min(until, info.rowExpiresAt * 1000)
      if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string)
      cache.set(accessToken, { info, until })
    }
    return info
  }).finally(() => { inflight.delete(accessToken) })
  inflight.set(accessToken, p)
  return p
}
