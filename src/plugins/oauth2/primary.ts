/**
 * The primary's side of the oauth2 plugin: answers the workers' OAuth2Requests (messages.ts)
 * with the database, and tells workers when tokens they may have cached changed.
 *
 * One registry per node, keyed by the node's prefix (tests run several nodes in one process):
 * the Admin API start-up attaches the node's pool (admin/routes/oauth2.ts), the supervisor hands
 * over every oauth2 message with a way to answer the worker that sent it (primary/workers.ts).
 *
 * Invalidation: only a worker that asked for a token can hold it in its cache, so the workers
 * that ever sent a message are the ones told. A write's invalidation (dao-hooks.ts) is held until
 * its transaction's connection is released (after COMMIT or ROLLBACK), so a worker that re-reads
 * at once cannot see the old row again.
 */
import type { Pool } from '../../db/pool.ts'
import { daoFor } from '../../db/dao/index.ts'
import { getSchema } from '../../db/schema/registry.ts'
import { log } from '../../common/log.ts'
import { authorize, issueToken, type GrantEnv } from './grants.ts'
import { setInvalidationSink, type Invalidation } from './invalidation.ts'
import type { OAuth2Reply, OAuth2Request, TokenInfo } from './messages.ts'

type Post = (m: OAuth2Reply) => void

const fkId = (v: unknown): string | null => {
  const id = (v as { id?: unknown } | null | undefined)?.id
  return typeof id === 'string' ? id : null
}

/** How long a worker's message waits for the Admin API start-up to attach the pool. */
const ATTACH_WAIT_MS = 10_000

class Node {
  env: GrantEnv | null = null
  readonly workers = new Map<object, Post>()
  readonly #waiting: Array<(env: GrantEnv | null) => void> = []

  attach (env: GrantEnv): void {
    this.env = env
    for (const w of this.#waiting.splice(0)) w(env)
  }

  ready (): Promise<GrantEnv | null> {
    if (this.env !== null) return Promise.resolve(this.env)
    return new Promise((resolve) => {
      const timer = setTimeout(() => { resolve(null) }, ATTACH_WAIT_MS)
      timer.unref()
      this.#waiting.push((env) => { clearTimeout(timer); resolve(env) })
    })
  }

  broadcast (inv: Invalidation): void {
    const msg: OAuth2Reply = { type: 'oauth2-reply', kind: 'invalidate', tokens: inv.tokens, credentials: inv.credentials }
    for (const post of this.workers.values()) post(msg)
  }
}

const nodes = new Map<string, Node>()
/** Invalidations waiting for their transaction's connection to be released. */
const held = new WeakMap<object, Invalidation>()

function nodeFor (key: string): Node {
  let n = nodes.get(key)
  if (n === undefined) { n = new Node(); nodes.set(key, n) }
  return n
}

function broadcastAll (inv: Invalidation): void {
  for (const n of nodes.values()) n.broadcast(inv)
}

setInvalidationSink((client, inv) => {
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
})

/** Admin API start-up: the node's pool and id. */
export function attachOAuth2 (key: string, pool: Pool, nodeId: string): void {
  nodeFor(key).attach({ pool, nodeId })
}

/** A worker's message; `thread` identifies the worker (its Worker object), `post` answers it. */
export function onOAuth2Message (key: string, thread: object & { once?: (ev: string, fn: () => void) => unknown }, msg: OAuth2Request, post: Post): void {
  const node = nodeFor(key)
  if (!node.workers.has(thread)) {
    node.workers.set(thread, post)
    thread.once?.('exit', () => { node.workers.delete(thread) })
  }
  answer(node, msg).then(post, (err: unknown) => {
    log.error(`oauth2: ${msg.op} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    post({ type: 'oauth2-reply', kind: 'result', seq: msg.seq, error: err instanceof Error ? err.message : String(err) })
  })
}

async function answer (node: Node, msg: OAuth2Request): Promise<OAuth2Reply> {
  const env = await node.ready()
  if (env === null) throw new Error('the oauth2 plugin needs a database')
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
