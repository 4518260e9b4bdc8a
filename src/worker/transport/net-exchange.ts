/**
 * One request through the `net` transport, and the controller its handler drives (undici's
 * DispatchController: pause / resume / abort). Its connection does the I/O; this object holds the
 * prepared request, the handler, and the flags both sides read.
 *
 *   QUEUED --a connection takes it--> ACTIVE --response complete / error / abort--> DONE
 *      |                                                                            ^
 *      +------------------------abort, transport destroyed---------------------------+
 *
 * DONE is reached once: fail() and the connection's complete() both check it, so a handler sees
 * exactly one of onResponseEnd / onResponseError and nothing after it.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { Connection } from './net-connection.ts'
import type { BodyWriter, PreparedRequest } from './net-request.ts'
import type { NetPool } from './net-pool.ts'
import type { TransportController, TransportHandler } from './types.ts'

export const EX_NEW = 0
export const EX_QUEUED = 1
export const EX_ACTIVE = 2
export const EX_DONE = 3

export class Exchange implements TransportController, PreparedRequest {
  readonly handler: TransportHandler
  readonly pool: NetPool
  conn: Connection | null
  state: number

  // PreparedRequest (net-request.ts prepareRequest fills these).
  method: string
  isHead: boolean
  head: string
  framing: string
  body: Buffer | null
  stream: Readable | AsyncIterable<Uint8Array> | null
  chunked: boolean
  declaredLength: number
  headersTimeout: number
  bodyTimeout: number
  writeTimeout: number
  reset: boolean

  writer: BodyWriter | null
  /** Every request byte is written. */
  requestDone: boolean
  /** The final (>= 200) head was delivered. */
  responseStarted: boolean

  // TransportController.
  paused: boolean
  aborted: boolean
  /** Body chunks are views of the thread's read buffer (the handler asked: transientChunks). */
  readonly transientChunks: boolean
  reason: Error | null
  rawHeaders: IncomingHttpHeaders | null
  rawTrailers: IncomingHttpHeaders | null

  constructor (pool: NetPool, handler: TransportHandler) {
    this.handler = handler
    this.pool = pool
    this.conn = null
    this.state = EX_NEW
    this.method = ''
    this.isHead = false
    this.head = ''
    this.framing = ''
    this.body = null
    this.stream = null
    this.chunked = false
    this.declaredLength = -1
    this.headersTimeout = 0
    this.bodyTimeout = 0
    this.writeTimeout = 0
    this.reset = false
    this.writer = null
    this.requestDone = false
    this.responseStarted = false
    this.paused = false
    this.aborted = false
    this.transientChunks = handler.transientChunks === true
    this.reason = null
    this.rawHeaders = null
    this.rawTrailers = null
  }

  pause (): void {
    if (this.paused || this.state === EX_DONE) return
    this.paused = true
    const c = this.conn
    if (c !== null) c.onPause()
  }

  resume (): void {
    if (!this.paused) return
    this.paused = false
    const c = this.conn
    if (c !== null) c.onResume()
  }

  abort (reason: Error): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.fail(reason)
  }

  /** The one error path: detach (the connection is destroyed, never reused), then tell the handler. */
  fail (err: Error): void {
    const was = this.state
    if (was === EX_DONE) return
    this.state = EX_DONE
    this.stopWriter()
    const c = this.conn
    if (c !== null) {
      this.conn = null
      c.exchangeFailed()
    } else if (was === EX_QUEUED) {
      this.pool.dequeue(this)
    }
    this.handler.onResponseError?.(this, err)
  }

  stopWriter (): void {
    const w = this.writer
    if (w !== null) {
      this.writer = null
      w.stop()
    }
  }
}
