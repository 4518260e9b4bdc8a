/**
 * The `undici` transport (the default): today's undici Pool behind the seam, unchanged. The seam is
 * undici's own dispatch shape, so requests and handlers pass straight through; this file only
 * builds the Pool the way upstreams.ts always has (keep-alive from Kong's upstream_keepalive_*,
 * connect timeout and TLS verification from the target) and maps the seam's options.
 *
 * Differences from the seam's wording, all undici's own behaviour:
 * - `writeTimeout` is ignored: undici has no write timer. Its headersTimeout also fires while a
 *   request write is blocked, which is what bounds a stalled upload here.
 * - `maxConnections` maps to Pool `connections` (null: unbounded).
 * - keepalive_max_requests N (nginx keepalive_requests: N requests per connection, the Nth sent
 *   with `connection: close`) is undici's maxRequestsPerClient N - 1: undici counts the requests
 *   before the limit and closes on the one after it (N + 1 per connection; measured). N = 1 is
 *   `reset` on every request.
 * - TLS upstreams (`https`) are served here; the `net` transport hands them to this one.
 */
import { Pool, type Dispatcher } from 'undici'
import type { Transport, TransportHandler, TransportPoolOptions, TransportRequest, TransportTarget } from './types.ts'

export class UndiciTransport implements Transport {
  readonly kind = 'undici' as const
  readonly pool: Pool
  /** keepalive_max_requests = 1: every request closes its connection. */
  readonly #oneRequestPerConnection: boolean

  constructor (target: TransportTarget, options: TransportPoolOptions) {
    const idle = Math.max(1, options.keepaliveIdleTimeoutMs)
    const max = options.maxConnections ?? 0
    const perConnection = options.keepaliveMaxRequests
    this.#oneRequestPerConnection = perConnection === 1
    this.pool = new Pool(target.origin, {
      connections: max > 0 ? max : null,
      pipelining: 1,
      keepAliveTimeout: idle,
      keepAliveMaxTimeout: idle,
      maxRequestsPerClient: perConnection > 1 ? perConnection - 1 : undefined,
      connect: {
        timeout: target.connectTimeout,
        rejectUnauthorized: target.tlsVerify,
        ...(target.protocol === 'https' && (target.servername ?? null) !== null ? { servername: target.servername! } : target.protocol === 'https' && !isIp(target.host) ? { servername: target.host } : {}),
      },
    })
  }

  dispatch (req: TransportRequest, handler: TransportHandler): boolean {
    // The seam's request and handler are undici's shapes: passed as they are (no copy per request).
    // undici reads the options it knows; `writeTimeout` is not one of them.
    const opts = this.#oneRequestPerConnection && req.reset !== true ? { ...req, reset: true } : req
    return this.pool.dispatch(opts as Dispatcher.DispatchOptions, handler as Dispatcher.DispatchHandler)
  }

  close (): Promise<void> {
    return this.pool.close()
  }

  destroy (): Promise<void> {
    return this.pool.destroy()
  }
}

export function createUndiciTransport (target: TransportTarget, options: TransportPoolOptions): UndiciTransport {
  return new UndiciTransport(target, options)
}

function isIp (host: string): boolean {
  return host.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(host)
}
