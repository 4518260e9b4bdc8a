/**
 * The primary's side of the oauth2 plugin: answers the workers' OAuth2Requests (messages.ts)
 * with the database, and tells workers when tokens they may have cached changed.
 *
 * One OAuth2Primary per node, made by the primary's start-up (primary/main.ts, with the node's
 * pool and id, before the first worker starts) and closed by its shutdown, as the rate limiter's
 * writer is. DB-less nodes make none: a worker's message is answered at once with
 * "the oauth2 plugin needs a database" (oauth2Unavailable). Each worker generation's Supervisor
 * gets the node's OAuth2Primary through attachOAuth2 (primary/main.ts at start-up,
 * primary/lifecycle.ts for a reload's new generation), as it gets the rate limiter's writer, and
 * hands it every oauth2 message with a way to answer the worker that sent it.
 *
 * Invalidation: only a worker that asked for a token can hold it in its cache, so the workers
 * that ever sent a message are the ones told. A write's invalidation (dao-hooks.ts) is held until
 * its transaction's connection is released (after COMMIT or ROLLBACK), so a worker that re-reads
 * at once cannot see the old row again. The DAO hooks are process-wide: the sink is installed
 * while at least one node runs and tells every node of the process.
 */
import type { Pool } from '../../db/pool.ts'
import { daoFor } from '../../db/dao/index.ts'
import { getSchema } from '../../db/schema/registry.ts'
import { log } from '../../common/log.ts'
import { authorize, issueToken, type GrantEnv } from './grants.ts'
import { setInvalidationSink, type Invalidation } from './invalidation.ts'
import type { OAuth2Reply, OAuth2Request, TokenInfo } from './messages.ts'

type Post = (m: OAuth2Reply) => void
type WorkerThread = object & { once?: (ev: string, fn: () => void) => unknown }

/** What a Supervisor needs of the node's primary side (Supervisor.attachOAuth2). */
export interface OAuth2Handler {
  onMessage (thread: WorkerThread, msg: OAuth2Request, post: Post): void
}

const fkId = (v: unknown): string | null => {
  const id = (v as { id?: unknown } | null | undefined)?.id
  return typeof id === 'string' ? id : null
}

/** Nodes running in this process (one in production; several in tests). */
const live = new Set<OAuth2Primary>()
/** Invalidations waiting for their transaction's connection to be released. */
const held = new WeakMap<object, Invalidation>()

function broadcastAll (inv: Invalidation): void {
  for (const n of live) n.broadcast(inv)
}

function sink (client: object, inv: Invalidation): void {
  const prev = held.get(client)
  if (prev !== undefined) { prev.tokens.push(...inv.tokens); prev.credentials.push(...inv.credentials); return }
  const c = client as { release?: (...args: unknown[]) => unknown }
  const release = c.release
  if (typeof release !== 'function') { broadcastAll(inv); return }
  held.set(client, { tokens: [...inv.tokens], credentials: [...inv.credentials] })
  // pg-pool gives each checkout its own `release`; this one tells the workers once it has run.
  c.release = function (this: unknown, ...args: unknown[]): unknown {
    c.release = release
    try {
      return release.apply(this, args)
    } finally {
      const h = held.get(client)
      held.delete(client)
      if (h !== undefined) broadcastAll(h)
    }
  }
}

export class OAuth2Primary implements OAuth2Handler {
  readonly #env: GrantEnv
  readonly #workers = new Map<object, Post>()
  #closed = false

  constructor (pool: Pool, nodeId: string) {
    this.#env = { pool, nodeId }
    if (live.size === 0) setInvalidationSink(sink)
    live.add(this)
  }

  /** A worker's message; `thread` identifies the worker (its Worker object), `post` answers it. */
  onMessage (thread: WorkerThread, msg: OAuth2Request, post: Post): void {
    if (this.#closed) { post(failure(msg, 'the node is stopping')); return }
    if (!this.#workers.has(thread)) {
      this.#workers.set(thread, post)
      thread.once?.('exit', () => { this.#workers.delete(thread) })
    }
    answer(this.#env, msg).then(post, (err: unknown) => {
      log.error(`oauth2: ${msg.op} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      post(failure(msg, err instanceof Error ? err.message : String(err)))
    })
  }

  broadcast (inv: Invalidation): void {
    const msg: OAuth2Reply = { type: 'oauth2-reply', kind: 'invalidate', tokens: inv.tokens, credentials: inv.credentials }
    for (const post of this.#workers.values()) post(msg)
  }

  /** Node shutdown (after its workers stopped). */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#workers.clear()
    live.delete(this)
    if (live.size === 0) setInvalidationSink(null)
  }
}

function failure (msg: OAuth2Request, error: string): OAuth2Reply {
  return { type: 'oauth2-reply', kind: 'result', seq: msg.seq, error }
}

/** The answer of a node without a primary side (DB-less: Kong has no oauth2 without a database). */
export function oauth2Unavailable (msg: OAuth2Request): OAuth2Reply {
  return failure(msg, 'the oauth2 plugin needs a database')
}

async function answer (env: GrantEnv, msg: OAuth2Request): Promise<OAuth2Reply> {
  switch (msg.op) {
    case 'lookup':
      return { type: 'oauth2-reply', kind: 'result', seq: msg.seq, token: await lookupToken(env, msg.accessToken) }
    case 'token':
      return { type: 'oauth2-reply', kind: 'result', seq: msg.seq, response: await issueToken(env, msg) }
    case 'authorize':
      return { type: 'oauth2-reply', kind: 'result', seq: msg.seq, response: await authorize(env, msg) }
  }
}

/** select_by_access_token (live rows only) and the credential it belongs to. */
async function lookupToken (env: GrantEnv, accessToken: string): Promise<TokenInfo | null> {
  if (accessToken === '' || accessToken.includes('\0')) return null
  const token = await daoFor(getSchema('oauth2_tokens')!).selectByField(env.pool, 'access_token', accessToken)
  if (token === null) return null
  const credentialId = fkId(token.credential)
  const cred = credentialId === null ? null : await daoFor(getSchema('oauth2_credentials')!).selectById(env.pool, credentialId)
  if (cred === null) return null
  const now = Math.floor(Date.now() / 1000)
  const ttl = token.ttl
  return {
    accessToken,
    credentialId: cred.id as string,
    serviceId: fkId(token.service),
    expiresIn: typeof token.expires_in === 'number' ? token.expires_in : 0,
    createdAt: typeof token.created_at === 'number' ? token.created_at : now,
    rowExpiresAt: typeof ttl === 'number' ? now + ttl : 0,
    scope: typeof token.scope === 'string' ? token.scope : null,
    authenticatedUserid: typeof token.authenticated_userid === 'string' ? token.authenticated_userid : null,
    clientId: typeof cred.client_id === 'string' ? cred.client_id : null,
    consumerId: fkId(cred.consumer),
  }
}
