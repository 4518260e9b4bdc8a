/**
 * The worker's side of the session plugin's `kong` storage (messages.ts): requests to the
 * primary over this worker's own channel, answers matched by `seq`. The channel is made on first
 * use: only requests carrying a session cookie of a `kong` storage instance, or that just
 * authenticated on one, ever get here.
 */
import { MessageChannel, parentPort, workerData, type MessagePort } from 'node:worker_threads'
import type { SessionChannel, SessionMetadata, SessionReply, SessionRequest } from './messages.ts'
import { PendingCalls } from '../../worker/primary-calls.ts'

const data = (workerData ?? {}) as { workerId?: number }
const workerId = typeof data.workerId === 'number' ? data.workerId : 0

const calls = new PendingCalls<SessionReply>('session')
let port: MessagePort | null = null

function channel (): MessagePort {
  if (port !== null) return port
  const parent = parentPort
  if (parent === null) throw new Error('session: not running in a worker thread')
  const ch = new MessageChannel()
  ch.port1.on('message', onReply)
  ch.port1.unref()
  parent.postMessage({ type: 'session', workerId, port: ch.port2 } satisfies SessionChannel, [ch.port2])
  port = ch.port1
  return port
}

function onReply (msg: SessionReply): void {
  calls.settle(msg)
}

type Op = SessionRequest extends infer R ? R extends { seq: number } ? Omit<R, 'seq'> : never : never

function ask (op: Op): Promise<SessionReply> {
  let p: MessagePort
  try { p = channel() } catch (err) { return Promise.reject(err) }
  return calls.call((seq) => { p.postMessage({ seq, ...op } as SessionRequest) })
}

export async function storeGet (sid: string): Promise<string | null> {
  const r = await ask({ op: 'get', sid })
  return r.data ?? null
}

export async function storeSet (sid: string, value: string, ttl: number, oldSid: string | null, staleTtl: number, remember: boolean, metadata: SessionMetadata | null = null): Promise<void> {
  await ask({ op: 'set', sid, data: value, ttl, oldSid, staleTtl, remember, metadata })
}

/** A `set` nobody waits for (header filter). */
export function storeSetLater (sid: string, value: string, ttl: number, oldSid: string | null, staleTtl: number, remember: boolean, metadata: SessionMetadata | null = null): void {
  try {
    channel().postMessage({ seq: 0, op: 'set', sid, data: value, ttl, oldSid, staleTtl, remember, metadata } satisfies SessionRequest)
  } catch {}
}

export async function storeDelete (sid: string): Promise<void> {
  await ask({ op: 'delete', sid })
}
