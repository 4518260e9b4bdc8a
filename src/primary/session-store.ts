/**
 * The primary's side of the session plugin's `kong` storage (plugins/session/messages.ts): the
 * `sessions` table (migration 000022) read and written for this node's workers, each over the
 * channel it opened.
 *
 * One SessionStore per node, made by the primary's start-up (primary/main.ts, with the node's
 * pool) and closed by its shutdown; each worker generation's Supervisor gets it through
 * attachSessions (primary/main.ts, and primary/lifecycle.ts for a reload's generation), as it
 * gets the oauth2 plugin's primary side. DB-less nodes have none: NO_SESSION_STORE answers every
 * request with an error (Kong keeps no `kong` session storage without a database).
 *
 * A `set` the header filter sent (nobody waits for it) may still be running when the client's
 * next request asks for the row, possibly through another worker: a `get` of a session id
 * whose insert is under way waits for it.
 */
import { randomUUID } from 'node:crypto'
import type { MessagePort } from 'node:worker_threads'
import type { Pool } from '../db/pool.ts'
import { log } from '../common/log.ts'
import type { SessionMetadata, SessionReply, SessionRequest } from '../plugins/session/messages.ts'

type WorkerThread = object & { once?: (ev: string, fn: () => void) => unknown }

/** What a Supervisor needs (Supervisor.attachSessions). */
export interface SessionStoreHandler {
  /** A worker's channel: `thread` is its Worker object (the channel closes when it exits). */
  attach (thread: WorkerThread, port: MessagePort): void
}

function serve (thread: WorkerThread, port: MessagePort, answer: (m: SessionRequest) => Promise<SessionReply>): void {
  port.on('message', (m: SessionRequest) => {
    answer(m).then((r) => { if (m.seq !== 0) port.postMessage(r) }, (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err)
      log.warn(`session storage: ${m.op} failed: ${message}`)
      if (m.seq !== 0) port.postMessage({ seq: m.seq, error: message } satisfies SessionReply)
    })
  })
  port.unref()
  thread.once?.('exit', () => { port.close() })
}

export const NO_SESSION_STORE: SessionStoreHandler = {
  attach (thread, port) {
    serve(thread, port, async () => { throw new Error('the session plugin\'s kong storage needs a database') })
  },
}

export class SessionStore implements SessionStoreHandler {
  readonly #pool: Pool
  readonly #pending = new Map<string, Promise<unknown>>()
  #closed = false

  constructor (pool: Pool) {
    this.#pool = pool
  }

  attach (thread: WorkerThread, port: MessagePort): void {
    serve(thread, port, (m) => this.#answer(m))
  }

  /** Node shutdown (after its workers stopped). */
  close (): void {
    this.#closed = true
  }

  async #answer (m: SessionRequest): Promise<SessionReply> {
    if (this.#closed) throw new Error('the node is stopping')
    if (typeof m.sid !== 'string' || m.sid === '' || m.sid.includes('\0')) return { seq: m.seq, data: null }
    switch (m.op) {
      case 'get': {
        const pending = this.#pending.get(m.sid)
        if (pending !== undefined) await pending.catch(() => {})
        return { seq: m.seq, data: await this.get(m.sid) }
      }
      case 'set': {
        const p = this.set(m.sid, m.data, m.ttl, m.oldSid, m.staleTtl, m.remember, m.metadata ?? null)
        this.#pending.set(m.sid, p)
        try { await p } finally { if (this.#pending.get(m.sid) === p) this.#pending.delete(m.sid) }
        return { seq: m.seq }
      }
      case 'delete':
        await this.delete(m.sid)
        return { seq: m.seq }
    }
    throw new Error('unknown operation')
  }

  /** The data of a live row. */
  async get (sid: string): Promise<string | null> {
    const r = await this.#pool.query<{ data: string | null }>(
      `select data from sessions where session_id = $1 and (ttl is null or ttl > now())
         and (expires is null or expires > extract(epoch from now()))`, [sid])
    return r.rows[0]?.data ?? null
  }

  /**
   * storage/kong.lua insert_session: the new row (ttl seconds, 0: no expiry); then the old one
   * is removed (`remember`) or kept `staleTtl` seconds more, never longer than it had. With
   * `metadata` (store_metadata), its session_metadatas row goes in with the session.
   */
  async set (sid: string, data: string, ttl: number, oldSid: string | null, staleTtl: number, remember: boolean, metadata: SessionMetadata | null = null): Promise<void> {
    const secs = typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? Math.ceil(ttl) : null
    const id = randomUUID()
    const insert = `insert into sessions (id, session_id, expires, data, created_at, ttl)
       values ($1, $2, case when $4::integer is null then null else extract(epoch from now())::integer + $4::integer end, $3,
               date_trunc('second', now()), case when $4::integer is null then null else now() + make_interval(secs => $4::integer) end)`
    if (metadata !== null && typeof metadata.audience === 'string' && typeof metadata.subject === 'string') {
      await this.#pool.query(
        `with s as (${insert} returning id)
         insert into session_metadatas (id, session_id, sid, subject, audience, created_at)
         select $5, s.id, $2, $6, $7, date_trunc('second', now()) from s`,
        [id, sid, data, secs, randomUUID(), metadata.subject, metadata.audience])
    } else {
      await this.#pool.query(insert, [id, sid, data, secs])
    }
    if (oldSid === null || oldSid === sid) return
    if (remember) {
      await this.delete(oldSid)
      return
    }
    const stale = Math.max(0, Math.ceil(typeof staleTtl === 'number' && Number.isFinite(staleTtl) ? staleTtl : 0))
    await this.#pool.query(
      `update sessions set
         expires = least(coalesce(expires, 2147483647), extract(epoch from now())::integer + $2::integer),
         ttl = least(coalesce(ttl, 'infinity'::timestamptz), now() + make_interval(secs => $2::integer))
       where session_id = $1`, [oldSid, stale])
  }

  async delete (sid: string): Promise<void> {
    await this.#pool.query('delete from sessions where session_id = $1', [sid])
  }
}
