/**
 * The session plugin's `kong` storage between a worker and the primary (which owns the
 * `sessions` table; workers have no database connection).
 *
 * A worker that needs the table for the first time makes a MessageChannel and posts one end to
 * the primary in a SessionChannel message (joined to WorkerToPrimary in common/protocol.ts); every
 * request and answer then goes over that channel, so the worker's main message loop and the
 * messages of requests without a session cookie never see any of it.
 *
 *   worker --SessionRequest{seq, op}--> primary --SessionReply{seq}--> worker
 *
 * `get`: the row's data by session id (null: none, or expired). `set`: a new row, and (renewal)
 * the old one kept `staleTtl` seconds more, or removed (`remember`). `delete`: logout. A request
 * with `seq` 0 is not answered (the header filter cannot wait; Kong's own insert runs in a timer).
 */
import type { MessagePort } from 'node:worker_threads'

export interface SessionChannel { type: 'session'; workerId: number; port: MessagePort }

export type SessionRequest =
  | { seq: number; op: 'get'; sid: string }
  | { seq: number; op: 'set'; sid: string; data: string; ttl: number; oldSid: string | null; staleTtl: number; remember: boolean; metadata?: SessionMetadata | null }
  | { seq: number; op: 'delete'; sid: string }

/** `store_metadata`: a session_metadatas row with the new session (values already base64url). */
export interface SessionMetadata { audience: string; subject: string }

export interface SessionReply {
  seq: number
  /** `get`: the stored data, null when there is no live row. */
  data?: string | null
  error?: string
}
