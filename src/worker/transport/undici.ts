/**
 * The `undici` transport (the default): today's undici Pool behind the seam, unchanged. The seam is
 * undici's own dispatch shape, so requests and handlers pass straight through; this file only
 * builds the Pool the way upstreams.ts always has (keep-alive from Kong's upstream_keepalive_*,
 * connect timeout and the TLS profile from the target: client certificate, trust store,
 * verification and its depth, SNI) and maps the seam's options.
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
 *
 * The seam's handler (undici's new API) goes to undici as a legacy handler of ours (`Legacy`, which
 * is its own controller): undici 7 would otherwise wrap it in its UnwrapHandler and UnwrapController
 * (two objects with private fields per request) and parse the (almost always empty) trailers into
 * an object. The response head is parsed into the same lowercase-name object undici makes.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { Pool, type Dispatcher } from 'undici'
import type { Transport, TransportController, TransportHandler, TransportPoolOptions, TransportRequest, TransportTarget } from './types.ts'

/** Lowercased header names seen before (a response repeats the same few): no toString + toLowerCase each time. */
const NAMES = new Map<string, string>()

/** Buffer's own latin1 decoder (what toString('latin1') ends in, without its argument checks). */
type Latin1 = Buffer & { latin1Slice (start: number, end: number): string }

function headerName (b: Buffer | string): string {
  const raw = typeof b === 'string' ? b : (b as Latin1).latin1Slice(0, b.length)
  let n: string | undefined = NAMES.get(raw)
  if (n === undefined) {
    n = raw.toLowerCase()
    if (NAMES.size < 1024) NAMES.set(raw, n)
  }
  return n
}

function headerValue (b: Buffer | string): string {
  return typeof b === 'string' ? b : (b as Latin1).latin1Slice(0, b.length)
}

/**
 * undici's raw `[name, value, ...]` as node's IncomingHttpHeaders (undici parseHeaders' shape:
 * lowercase names, repeated ones as arrays, `__proto__` as an own property).
 */
export function headersObject (raw: ReadonlyArray<Buffer | string> | null): IncomingHttpHeaders {
  const obj: Record<string, string | string[]> = {}
  if (raw === null) return obj
  for (let i = 0; i < raw.length; i += 2) {
    const key = headerName(raw[i]!)
    const v = headerValue(raw[i + 1]!)
    const prev = Object.hasOwn(obj, key) ? obj[key] : undefined
    if (prev === undefined) {
      if (key === '__proto__') Object.defineProperty(obj, key, { value: v, enumerable: true, configurable: true, writable: true })
      else obj[key] = v
    } else if (typeof prev === 'string') {
      obj[key] = [prev, v]
    } else {
      prev.push(v)
    }
  }
  return obj as IncomingHttpHeaders
}

const NO_TRAILERS: IncomingHttpHeaders = Object.freeze({}) as IncomingHttpHeaders

/** The seam's handler as an undici legacy handler, and its controller (one object per request). */
class Legacy implements Dispatcher.DispatchHandler, TransportController {
  readonly handler: TransportHandler
  abortFn: ((err?: Error) => void) | null
  resumeFn: (() => void) | null
  aborted: boolean
  paused: boolean
  reason: Error | null
  rawHeaders: Buffer[] | null
  rawTrailers: Buffer[] | string[] | null

  constructor (handler: TransportHandler) {
    this.handler = handler
    this.abortFn = null
    this.resumeFn = null
    this.aborted = false
    this.paused = false
    this.reason = null
    this.rawHeaders = null
    this.rawTrailers = null
  }

  // ---- controller ----
  abort (reason: Error): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.abortFn?.(reason)
  }

  pause (): void { this.paused = true }

  resume (): void {
    if (!this.paused) return
    this.paused = false
    this.resumeFn?.()
  }

  // ---- undici legacy handler ----
  onConnect (abort: (err?: Error) => void, context?: object): void {
    this.abortFn = abort
    this.handler.onRequestStart(this, context)
  }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    this.resumeFn = resume
    this.rawHeaders = rawHeaders
    this.handler.onResponseStart?.(this, statusCode, headersObject(rawHeaders), statusText)
    return !this.paused
  }

  onData (chunk: Buffer): boolean {
    this.handler.onResponseData?.(this, chunk)
    return !this.paused
  }

  onComplete (rawTrailers: Buffer[] | string[] | null): void {
    this.rawTrailers = rawTrailers
    this.handler.onResponseEnd?.(this, rawTrailers === null || rawTrailers.length === 0 ? NO_TRAILERS : headersObject(rawTrailers))
  }

  onError (err: Error): void {
    this.handler.onResponseError?.(this, err)
  }

  onUpgrade (): void {
    // The proxy never asks undici for an upgrade (WebSocket tunnels go their own way): undici
    // fails an unasked 101 itself before this is reached.
  }
}

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
        ...(target.tls != null ? target.tls.options : { rejectUnauthorized: target.tlsVerify }),
        ...(target.protocol === 'https' && (target.servername ?? null) !== null ? { servername: target.servername! } : target.protocol === 'https' && !isIp(target.host) ? { servername: target.host } : {}),
      },
    })
  }

  dispatch (req: TransportRequest, handler: TransportHandler): boolean {
    // The seam's request and handler are undici's shapes: passed as they are (no copy per request).
    // undici reads the options it knows; `writeTimeout` is not one of them.
    const opts = this.#oneRequestPerConnection && req.reset !== true ? { ...req, reset: true } : req
    return this.pool.dispatch(opts as Dispatcher.DispatchOptions, new Legacy(handler) as unknown as Dispatcher.DispatchHandler)
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
