/**
 * One upstream TCP connection of the `net` transport: the socket, its response parser, the
 * exchange it carries, and its timer.
 *
 * Lifecycle (`state`):
 *
 *                 connect error / connect timeout: the oldest queued exchange fails with it
 *   CONNECTING ------------------------------------------------------------------------+
 *      | 'connect'                                                                      |
 *      v                   queue non-empty: start(next)                                 v
 *   (pool.connected) ---------------------------------------------> ACTIVE           CLOSED
 *      | queue empty                                                 |   ^             ^ ^
 *      v                      pool.acquire (LIFO pop)                |   |             | |
 *    IDLE -----------------------------------------------------------+   |             | |
 *      |  ^                                                              |             | |
 *      |  +-- response complete AND reusable AND queue empty ------------+             | |
 *      |      (another queued exchange: start() at once, stays ACTIVE)                 | |
 *      |                                                                               | |
 *      +-- idle timeout, EOF, error, unsolicited bytes, pool close --------------------+ |
 *                                                                                        |
 *   ACTIVE -- response complete but not reusable, error, EOF before the end, timeout, ---+
 *             abort, parser error
 *
 * ACTIVE begins `unsent`: the request is written by the thread's next flush (setImmediate), so
 * that uWS has finished with the client's bytes first. While unsent, an abort gives the clean
 * connection back to the pool (release), and an EOF, error or stray bytes on it put the exchange
 * back in the pool's hands for another connection (requeue): nothing was sent, so that is safe
 * for any method.
 *
 * Reusable means all of: the parser's keepAlive (HTTP/1.1 without `Connection: close`, HTTP/1.0
 * with `keep-alive`, not read-until-close), no bytes after the end of the response, the request
 * completely written, no `reset` on the request, below keepalive_max_requests, and a server
 * `Keep-Alive: timeout` (if any) above one second. Anything else closes the connection, so a
 * connection whose response was not complete is never reused.
 *
 * Reading: `onread` into READ_BUF, one buffer shared by every connection of the thread (callbacks
 * never overlap). Body bytes are copied out per event, so handlers may keep chunks (undici's
 * contract), unless the handler declares `transientChunks` (it copies what it keeps): then it
 * gets views of READ_BUF, valid during the call. Bytes still unparsed when the handler pauses
 * are copied into `hold` and parsed on resume, before the socket reads again. EOF is ordered after every read.
 *
 * Timer (one per connection, coarse, see coarse-timer.ts): CONNECT while connecting, IDLE while
 * idle, then per exchange: BODY once the final head arrived (off while paused), else WRITE while a
 * write is blocked (writeTimeout, or headersTimeout as undici), else HEADERS once the request is
 * written. Reads, drains and timer changes count as activity; the timer measures silence.
 */
import { connect, type Socket } from 'node:net'
import { EV_BODY, EV_END, EV_HEAD, EV_NONE, ResponseParser } from './h1-parser.ts'
import { bodyTimeoutError, closedError, connectTimeoutError, headersTimeoutError, parserError, writeTimeoutError } from './errors.ts'
import { EX_ACTIVE, EX_DONE, type Exchange } from './net-exchange.ts'
import { BodyWriter, ONE_WRITE_LIMIT, type BodySink } from './net-request.ts'
import type { NetPool } from './net-pool.ts'

export const C_CONNECTING = 0
export const C_IDLE = 1
export const C_ACTIVE = 2
export const C_CLOSED = 3

const T_NONE = 0
const T_CONNECT = 1
const T_IDLE = 2
const T_HEADERS = 3
const T_BODY = 4
const T_WRITE = 5

/** Connections with a request to write in the next flush (one setImmediate per loop turn). */
let writeQueue: Connection[] = []
let flushScheduled = false

function queueWrite (c: Connection): void {
  writeQueue.push(c)
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flushWrites)
  }
}

function flushWrites (): void {
  flushScheduled = false
  const q = writeQueue
  writeQueue = []
  for (let i = 0; i < q.length; i++) q[i]!.writeRequest()
}

/**
 * The thread's read buffer: every connection reads into it. 256 KiB: a big body arrives in a
 * quarter of the reads (and handler calls) that Node's 64 KiB stream reads take.
 */
const READ_BUF = Buffer.allocUnsafe(256 * 1024)
const NO_BYTES = Buffer.alloc(0)

export class Connection implements BodySink {
  readonly pool: NetPool
  readonly socket: Socket
  readonly parser: ResponseParser
  state: number
  ex: Exchange | null
  /** Requests started on this connection. */
  requests: number
  /** Idle timeout for this connection (the pool's, capped by the server's Keep-Alive hint). */
  idleMs: number
  /** Unparsed bytes held while the handler is paused. */
  hold: Buffer | null
  /** Inside feed(): pause/resume from handler callbacks are picked up by the loop. */
  feeding: boolean
  readStopped: boolean
  writeBlocked: boolean
  /** EOF seen while the handler was paused: handled after the held bytes. */
  eofPending: boolean
  /** An exchange is assigned but its request waits for the next flush. */
  unsent: boolean

  timerKind: number
  timerMs: number
  activity: number
  seen: number
  since: number

  constructor (pool: NetPool, host: string, port: number) {
    this.pool = pool
    this.parser = new ResponseParser(pool.maxHeaderSize)
    this.state = C_CONNECTING
    this.ex = null
    this.requests = 0
    this.idleMs = pool.idleTimeout
    this.hold = null
    this.feeding = false
    this.readStopped = false
    this.writeBlocked = false
    this.eofPending = false
    this.unsent = false
    this.timerKind = T_NONE
    this.timerMs = 0
    this.activity = 0
    this.seen = -1
    this.since = 0
    const socket = connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: READ_BUF, callback: (n: number) => this.onRead(n) },
    })
    this.socket = socket
    socket.on('connect', () => { this.onConnect() })
    socket.on('drain', () => { this.onDrain() })
    socket.on('end', () => { this.onEnd() })
    socket.on('error', (err: Error) => { this.onError(err) })
    socket.on('close', () => { this.onClose() })
    this.setTimer(T_CONNECT, pool.connectTimeout)
  }

  // -------------------------------------------------------------------------------------------
  // Pool side

  /**
   * Gives `ex` to this (connected, idle) connection. The request is written in the thread's next
   * flush (setImmediate, all connections at once), not now: uWS finishes parsing what the client
   * sent first, so a request the client side abandons at once (a pipelined request behind it, a
   * broken trailer section) is never sent, and a connection found closed before the flush hands
   * its exchange to another one. undici writes a tick later too.
   */
  start (ex: Exchange): void {
    this.state = C_ACTIVE
    this.ex = ex
    ex.conn = this
    ex.state = EX_ACTIVE
    this.hold = null
    this.writeBlocked = false
    if (this.readStopped) {
      this.readStopped = false
      this.socket.resume()
    }
    this.parser.reset(ex.isHead)
    this.unsent = true
    this.setTimer(T_NONE, 0)
    queueWrite(this)
  }

  /** Writes the request (from the flush): head and small body in one write, or head then stream. */
  writeRequest (): void {
    const ex = this.ex
    if (!this.unsent || ex === null || this.state !== C_ACTIVE) return
    this.unsent = false
    this.requests++
    const pool = this.pool
    if (pool.keepalivePoolSize === 0 || (pool.maxRequests > 0 && this.requests >= pool.maxRequests)) ex.reset = true
    const head = ex.head + (ex.reset ? 'connection: close\r\n' : 'connection: keep-alive\r\n') + ex.framing
    const socket = this.socket
    const body = ex.body
    let ok: boolean
    if (body === null) {
      ok = socket.write(head, 'latin1')
    } else if (body.length <= ONE_WRITE_LIMIT) {
      const n = head.length
      const out = Buffer.allocUnsafe(n + body.length)
      out.write(head, 0, n, 'latin1')
      body.copy(out, n)
      ok = socket.write(out)
    } else {
      socket.cork()
      socket.write(head, 'latin1')
      ok = socket.write(body)
      socket.uncork()
    }
    this.writeBlocked = !ok
    if (ex.stream !== null) {
      const w = new BodyWriter(this, ex.stream, ex.chunked, ex.declaredLength)
      ex.writer = w
      this.updateTimer()
      w.start()
      return
    }
    ex.requestDone = true
    this.updateTimer()
  }

  /**
   * The connection failed before its request was written: the exchange goes back to the pool for
   * another connection (nothing was sent, so any method may be), and this one closes.
   */
  requeue (): void {
    const ex = this.ex!
    this.ex = null
    this.unsent = false
    ex.conn = null
    this.destroy()
    this.pool.acquire(ex)
  }

  /** Parks the connection in the idle stack (the pool pushed it). */
  goIdle (): void {
    this.state = C_IDLE
    this.hold = null
    if (this.readStopped) {
      this.readStopped = false
      this.socket.resume()
    }
    this.setTimer(T_IDLE, this.idleMs)
  }

  /** Closes the socket and leaves the pool. The exchange, if any, must be detached first. */
  destroy (): void {
    const was = this.state
    if (was === C_CLOSED) return
    this.state = C_CLOSED
    this.ex = null
    this.hold = null
    this.timerKind = T_NONE
    this.socket.destroy()
    this.pool.removed(this, was)
  }

  /** Fails the exchange in flight (the connection goes with it), or just closes. */
  failActive (err: Error): void {
    const ex = this.ex
    if (ex !== null) ex.fail(err)
    else this.destroy()
  }

  /**
   * Called by Exchange.fail(): the exchange is gone. A connection that had not written its request
   * yet is still clean and goes back to the pool; otherwise it closes.
   */
  exchangeFailed (): void {
    this.ex = null
    if (this.unsent && this.state === C_ACTIVE) {
      this.unsent = false
      this.pool.release(this)
      return
    }
    this.destroy()
  }

  sweep (now: number): void {
    const kind = this.timerKind
    if (kind === T_NONE) return
    if (this.activity !== this.seen) {
      this.seen = this.activity
      this.since = now
      return
    }
    if (now - this.since < this.timerMs) return
    this.timerKind = T_NONE
    switch (kind) {
      case T_CONNECT: this.pool.connectFailed(this, connectTimeoutError()); break
      case T_IDLE: this.destroy(); break
      case T_HEADERS: this.failActive(headersTimeoutError()); break
      case T_BODY: this.failActive(bodyTimeoutError()); break
      case T_WRITE: this.failActive(writeTimeoutError()); break
    }
  }

  setTimer (kind: number, ms: number): void {
    this.timerKind = ms > 0 ? kind : T_NONE
    this.timerMs = ms
    this.activity++
  }

  updateTimer (): void {
    const ex = this.ex
    if (ex === null) return
    if (ex.responseStarted) this.setTimer(ex.paused ? T_NONE : T_BODY, ex.bodyTimeout)
    else if (this.writeBlocked) this.setTimer(T_WRITE, ex.writeTimeout > 0 ? ex.writeTimeout : ex.headersTimeout)
    else if (ex.requestDone) this.setTimer(T_HEADERS, ex.headersTimeout)
    else this.setTimer(T_NONE, 0)
  }

  // -------------------------------------------------------------------------------------------
  // BodySink (the request body writer)

  write (chunk: Buffer | string): boolean {
    if (this.state !== C_ACTIVE) return true
    return typeof chunk === 'string' ? this.socket.write(chunk, 'latin1') : this.socket.write(chunk)
  }

  drained (): boolean {
    const socket = this.socket
    return this.state !== C_ACTIVE || socket.writableLength < socket.writableHighWaterMark
  }

  cork (): void { this.socket.cork() }
  uncork (): void { this.socket.uncork() }

  blocked (): void {
    this.writeBlocked = true
    this.updateTimer()
  }

  bodyDone (): void {
    const ex = this.ex
    if (ex === null) return
    ex.writer = null
    ex.requestDone = true
    this.updateTimer()
  }

  bodyFailed (err: Error): void {
    const ex = this.ex
    if (ex !== null) ex.fail(err)
  }

  // -------------------------------------------------------------------------------------------
  // Socket events

  onConnect (): void {
    if (this.state !== C_CONNECTING) return
    this.state = C_IDLE
    this.pool.connected(this)
  }

  onDrain (): void {
    this.activity++
    if (!this.writeBlocked) return
    this.writeBlocked = false
    const ex = this.ex
    if (ex === null) return
    this.updateTimer()
    const w = ex.writer
    if (w !== null) w.onDrain()
  }

  onRead (n: number): boolean {
    this.activity++
    if (this.state !== C_ACTIVE || this.unsent) {
      // Bytes nobody asked for (idle connection, or before the request went out): out of step.
      if (this.unsent) this.requeue()
      else this.destroy()
      return false
    }
    this.feed(READ_BUF, 0, n)
    return true
  }

  /** EOF: completes a read-until-close body, fails anything unfinished, closes an idle connection. */
  onEnd (): void {
    const ex = this.ex
    if (this.state !== C_ACTIVE || ex === null) { this.destroy(); return }
    if (this.unsent) { this.requeue(); return }
    if (this.hold !== null || ex.paused) {
      // Not reached while paused (reading is stopped then), kept for safety: finish on resume.
      this.eofPending = true
      return
    }
    this.finishAtEof(ex)
  }

  finishAtEof (ex: Exchange): void {
    const p = this.parser
    p.finish()
    if (p.event === EV_END) this.complete(ex, false)
    else ex.fail(closedError())
  }

  onError (err: Error): void {
    if (this.state === C_CONNECTING) this.pool.connectFailed(this, err)
    else if (this.unsent && this.ex !== null) this.requeue()
    else this.failActive(err)
  }

  onClose (): void {
    if (this.state === C_CLOSED) return
    if (this.state === C_CONNECTING) this.pool.connectFailed(this, closedError())
    else if (this.unsent && this.ex !== null) this.requeue()
    else this.failActive(closedError())
  }

  // -------------------------------------------------------------------------------------------
  // Response

  /** Parses b[i, end) for the exchange in flight and drives its handler. */
  feed (b: Buffer, i: number, end: number): void {
    const ex = this.ex!
    const p = this.parser
    const h = ex.handler
    this.feeding = true
    try {
      for (;;) {
        i = p.execute(b, i, end)
        const ev = p.event
        if (ev === EV_NONE) return
        if (ev === EV_BODY) {
          const s = p.bodyStart
          const e = p.bodyEnd
          let chunk: Buffer
          if (b === READ_BUF && !ex.transientChunks) {
            chunk = Buffer.allocUnsafe(e - s)
            b.copy(chunk, 0, s, e)
          } else {
            // A handler with transientChunks copies what it keeps: no allocation and copy per read.
            chunk = b.subarray(s, e)
          }
          try {
            h.onResponseData?.(ex, chunk)
          } catch (err) {
            ex.abort(err as Error)
          }
        } else if (ev === EV_HEAD) {
          if (p.status >= 200) {
            ex.responseStarted = true
            this.updateTimer()
          }
          try {
            h.onResponseStart?.(ex, p.status, p.headers, p.reason)
          } catch (err) {
            ex.abort(err as Error)
          }
        } else if (ev === EV_END) {
          this.complete(ex, i < end)
          return
        } else {
          ex.fail(parserError(p.errorCode, p.errorMessage))
          return
        }
        if (ex.state === EX_DONE) return
        if (ex.paused) {
          this.hold = i < end ? (b === READ_BUF ? Buffer.from(b.subarray(i, end)) : b.subarray(i, end)) : null
          this.stopReading()
          return
        }
      }
    } finally {
      this.feeding = false
    }
  }

  /** The response is complete: back to the pool or closed, then the handler's onResponseEnd. */
  complete (ex: Exchange, extraBytes: boolean): void {
    const p = this.parser
    // Read before release(): a queued exchange may start on this connection and reset the parser.
    const trailers = p.trailers
    ex.state = EX_DONE
    ex.conn = null
    this.ex = null
    ex.stopWriter()
    let reusable = p.keepAlive && !extraBytes && ex.requestDone && !ex.reset && !this.eofPending
    if (reusable && p.keepAliveTimeout >= 0) {
      const ms = Math.min(this.pool.idleTimeout, p.keepAliveTimeout - 1000)
      if (ms <= 0) reusable = false
      else this.idleMs = ms
    }
    if (reusable) this.pool.release(this)
    else this.destroy()
    ex.handler.onResponseEnd?.(ex, trailers)
  }

  stopReading (): void {
    if (this.readStopped) return
    this.readStopped = true
    this.socket.pause()
  }

  onPause (): void {
    this.updateTimer()
    if (!this.feeding) this.stopReading()
  }

  /** The handler resumed: parse what was held, then read again. */
  onResume (): void {
    if (this.feeding) return
    const ex = this.ex
    if (ex === null) return
    this.updateTimer()
    const held = this.hold
    this.hold = null
    this.feed(held ?? NO_BYTES, 0, held === null ? 0 : held.length)
    if (this.ex !== ex || ex.paused) return
    if (this.eofPending) {
      this.eofPending = false
      this.finishAtEof(ex)
      return
    }
    if (this.readStopped && this.state === C_ACTIVE) {
      this.readStopped = false
      this.socket.resume()
    }
  }
}
