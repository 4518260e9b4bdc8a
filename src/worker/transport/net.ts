/**
 * The `net` transport: a lean HTTP/1.1 client on `node:net` behind the seam (types.ts), for plain
 * `http` targets. One NetPool per target (net-pool.ts) of keep-alive connections
 * (net-connection.ts) reading with `onread` into one reusable buffer, a strict hand-written
 * response parser (h1-parser.ts), requests preformatted and written in one write
 * (net-request.ts), coarse timers (coarse-timer.ts), undici's error classes and codes (errors.ts).
 * No pipelining: one request per connection at a time, as undici's `pipelining: 1`.
 *
 * TLS upstreams (`https`, tls_verify, client certificates) are not served here: createTransport()
 * (index.ts) gives them the undici transport.
 *
 * dispatch() validates and formats the request at once (invalid: onResponseError with undici's
 * error, and false), calls onRequestStart with the controller (usable at once: an abort before a
 * connection is free takes the request out of the queue), then hands it to the pool.
 */
import { closedTransport } from './errors.ts'
import { EX_DONE, Exchange } from './net-exchange.ts'
import { NetPool } from './net-pool.ts'
import { prepareRequest } from './net-request.ts'
import type { Transport, TransportHandler, TransportPoolOptions, TransportRequest, TransportTarget } from './types.ts'

export interface NetTransportOptions {
  /** Largest response head or trailer section in bytes (undici's default: 16 KiB). */
  maxHeaderSize?: number
}

export class NetTransport implements Transport {
  readonly kind = 'net' as const
  readonly pool: NetPool
  /** Host field when the caller sends none: host, plus `:port` unless 80. */
  readonly hostHeader: string

  constructor (target: TransportTarget, options: TransportPoolOptions, extra: NetTransportOptions = {}) {
    if (target.protocol !== 'http') throw new Error('the net transport serves http targets only (https goes to undici)')
    this.pool = new NetPool(target, options, extra.maxHeaderSize ?? 16384)
    const h = target.host.includes(':') && !target.host.startsWith('[') ? `[${target.host}]` : target.host
    this.hostHeader = target.port === 80 ? h : `${h}:${target.port}`
  }

  dispatch (req: TransportRequest, handler: TransportHandler): boolean {
    const pool = this.pool
    const ex = new Exchange(pool, handler)
    try {
      if (pool.closed) throw closedTransport()
      prepareRequest(ex, req, this.hostHeader)
    } catch (err) {
      ex.state = EX_DONE
      handler.onResponseError?.(ex, err as Error)
      return false
    }
    try {
      handler.onRequestStart(ex, undefined)
    } catch (err) {
      ex.fail(err as Error)
      return true
    }
    if (ex.state === EX_DONE) return true
    pool.acquire(ex)
    return true
  }

  close (): Promise<void> {
    return this.pool.close()
  }

  destroy (): Promise<void> {
    return this.pool.destroy()
  }
}

export function createNetTransport (target: TransportTarget, options: TransportPoolOptions): NetTransport {
  return new NetTransport(target, options)
}
