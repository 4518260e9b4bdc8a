/**
 * The connections of one upstream target for the `net` transport: idle ones on a LIFO stack
 * (the most recently used connection is warm and least likely to have been closed by the server),
 * a FIFO queue of exchanges waiting for one, and the coarse-timer sweep.
 *
 * - acquire: pop an idle connection (skipping dead ones) and start the exchange on it; else queue
 *   it and open connections while fewer are connecting than are queued (up to maxConnections;
 *   0 = unbounded, as undici's Pool with `connections: null`).
 * - connected: the new connection takes the oldest queued exchange, else goes idle.
 * - connect failure or timeout: the oldest queued exchange fails with that error (one failed
 *   connect fails one request: the proxy's retry then tries again), and queued ones left get new
 *   connects.
 * - release (response complete, reusable): next queued exchange, else idle if fewer than
 *   keepalivePoolSize are idle, else closed.
 * - close: graceful (queued and active exchanges finish, idle connections close, new dispatches
 *   fail with UND_ERR_CLOSED); destroy: everything fails with UND_ERR_DESTROYED.
 */
import { unwatch, watch, type Sweeper } from './coarse-timer.ts'
import { C_CONNECTING, C_IDLE, Connection } from './net-connection.ts'
import { destroyedTransport } from './errors.ts'
import { EX_QUEUED, type Exchange } from './net-exchange.ts'
import type { TransportPoolOptions, TransportTarget } from './types.ts'

export class NetPool implements Sweeper {
  readonly host: string
  readonly port: number
  readonly connectTimeout: number
  readonly idleTimeout: number
  readonly keepalivePoolSize: number
  readonly maxRequests: number
  readonly maxConnections: number
  readonly maxHeaderSize: number

  readonly idle: Connection[]
  readonly conns: Set<Connection>
  readonly queue: Exchange[]
  connecting: number
  closed: boolean
  destroyed: boolean
  watched: boolean
  closeWaiters: Array<() => void>

  constructor (target: TransportTarget, options: TransportPoolOptions, maxHeaderSize = 16384) {
    const h = target.host
    this.host = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h
    this.port = target.port
    this.connectTimeout = target.connectTimeout
    this.idleTimeout = Math.max(1, options.keepaliveIdleTimeoutMs)
    this.keepalivePoolSize = Math.max(0, options.keepalivePoolSize)
    this.maxRequests = Math.max(0, options.keepaliveMaxRequests)
    this.maxConnections = Math.max(0, options.maxConnections ?? 0)
    this.maxHeaderSize = maxHeaderSize
    this.idle = []
    this.conns = new Set()
    this.queue = []
    this.connecting = 0
    this.closed = false
    this.destroyed = false
    this.watched = false
    this.closeWaiters = []
  }

  acquire (ex: Exchange): void {
    if (this.destroyed) {
      ex.fail(destroyedTransport())
      return
    }
    const idle = this.idle
    while (idle.length > 0) {
      const c = idle.pop()!
      if (c.state === C_IDLE) {
        c.start(ex)
        return
      }
    }
    ex.state = EX_QUEUED
    this.queue.push(ex)
    this.#maybeConnect()
  }

  #maybeConnect (): void {
    if (this.destroyed) return
    const max = this.maxConnections
    while (this.connecting < this.queue.length && (max === 0 || this.conns.size < max)) {
      const c = new Connection(this, this.host, this.port)
      this.conns.add(c)
      this.connecting++
      if (!this.watched) {
        this.watched = true
        watch(this)
      }
    }
  }

  connected (c: Connection): void {
    this.connecting--
    const ex = this.queue.shift()
    if (ex !== undefined) c.start(ex)
    else this.#park(c)
  }

  connectFailed (c: Connection, err: Error): void {
    if (c.state !== C_CONNECTING) return
    const ex = this.queue.shift()
    c.destroy() // removed(): connecting--, and new connects for whatever is still queued
    if (ex !== undefined) ex.fail(err)
  }

  /** A complete, reusable exchange left `c`. */
  release (c: Connection): void {
    const ex = this.queue.shift()
    if (ex !== undefined) {
      c.start(ex)
      return
    }
    this.#park(c)
  }

  #park (c: Connection): void {
    if (this.closed || this.idle.length >= this.keepalivePoolSize) {
      c.destroy()
      return
    }
    c.goIdle()
    this.idle.push(c)
  }

  /** `c` closed (its state before closing is `was`). */
  removed (c: Connection, was: number): void {
    if (!this.conns.delete(c)) return
    if (was === C_CONNECTING) this.connecting--
    else if (was === C_IDLE) {
      const i = this.idle.lastIndexOf(c)
      if (i >= 0) this.idle.splice(i, 1)
    }
    if (this.conns.size === 0) {
      if (this.watched) {
        this.watched = false
        unwatch(this)
      }
      if (this.queue.length === 0) this.#settle()
    }
    if (this.queue.length > 0) this.#maybeConnect()
  }

  dequeue (ex: Exchange): void {
    const i = this.queue.indexOf(ex)
    if (i >= 0) this.queue.splice(i, 1)
    if (this.closed && this.conns.size === 0 && this.queue.length === 0) this.#settle()
  }

  sweep (now: number): void {
    for (const c of this.conns) c.sweep(now)
  }

  close (): Promise<void> {
    this.closed = true
    for (const c of this.idle.splice(0)) c.destroy()
    if (this.conns.size === 0 && this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => { this.closeWaiters.push(resolve) })
  }

  destroy (): Promise<void> {
    this.closed = true
    this.destroyed = true
    const err = destroyedTransport()
    for (const ex of this.queue.splice(0)) ex.fail(err)
    for (const c of [...this.conns]) c.failActive(err)
    this.#settle()
    return Promise.resolve()
  }

  #settle (): void {
    if (!this.closed) return
    const w = this.closeWaiters.splice(0)
    for (const f of w) f()
  }
}
