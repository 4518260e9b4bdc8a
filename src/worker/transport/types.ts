/**
 * The upstream transport seam (ARCHITECTURE.md "Hot path rules"): the one interface proxy.ts calls
 * to send a request to an upstream target, in undici's `dispatch(opts, handler)` shape with the new
 * handler API, so that undici's Pool fits it as is and the lean `net` transport is a drop-in.
 *
 * Contract, shared by both implementations and pinned down by test/transport/transport.conformance.ts:
 *
 *   dispatch(req, handler)
 *     -> onRequestStart(controller)                     at most once, before the response callbacks
 *                                                       (net: at dispatch; undici: once the request
 *                                                       has a connection). A request rejected or
 *                                                       failing before that gets onResponseError only.
 *     -> onResponseStart(controller, 1xx, headers)*     interim responses (103, ...), surfaced
 *     -> onResponseStart(controller, status, headers)   the final head (>= 200)
 *     -> onResponseData(controller, chunk)*             body bytes; chunks may be retained
 *     -> onResponseEnd(controller, trailers)            the body is complete and correctly framed
 *      | onResponseError(controller, err)               anything else, with an undici-style `code`
 *   and nothing after the terminal callback. A controller.abort(reason) by the handler before the
 *   end calls onResponseError(reason) at once.
 *
 * - `controller.pause()` stops data callbacks (at the latest after the current one returns) until
 *   `resume()`; while paused no read timeout runs.
 * - Error codes are undici's (`UND_ERR_CONNECT_TIMEOUT`, `UND_ERR_HEADERS_TIMEOUT`,
 *   `UND_ERR_BODY_TIMEOUT`, `UND_ERR_SOCKET`, `UND_ERR_INVALID_ARG`, `HPE_*` parse errors, ...) or
 *   the socket's own (`ECONNREFUSED`, `ECONNRESET`, `EPIPE`, `ETIMEDOUT`), so one mapping in the
 *   proxy (502 / 504 / retry) serves both transports.
 * - Retries are the caller's job; a transport never replays a request by itself.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { ConnectionOptions } from 'node:tls'

/** Request body: a whole buffer (replayable, sent with Content-Length) or a stream (backpressure). */
export type TransportBody = Buffer | Uint8Array | Readable | AsyncIterable<Uint8Array> | null

export interface TransportRequest {
  method: string
  /** Origin-form target: path plus query, already percent-encoded. */
  path: string
  /** Flat `[name0, value0, ...]`. `host` is added from the target when missing. */
  headers: string[] | null
  body?: TransportBody
  /** Milliseconds to wait for the response head once the request is out; 0: none. */
  headersTimeout?: number
  /** Milliseconds allowed between two reads of the body (never while paused); 0: none. */
  bodyTimeout?: number
  /**
   * Milliseconds a request write may stay blocked (Kong's write_timeout). undici has no such
   * timer: its headersTimeout also runs while a write is blocked, so the proxy passes both.
   */
  writeTimeout?: number
  /** Send `connection: close` and never reuse the connection. */
  reset?: boolean
}

/** undici's Dispatcher.DispatchController, member for member. */
export interface TransportController {
  readonly aborted: boolean
  readonly paused: boolean
  readonly reason: Error | null
  /**
   * True when this transport passes onResponseData views of its own read buffer, valid only during
   * the call (net, for a handler with `transientChunks`): the handler copies what it keeps.
   */
  readonly transientChunks?: boolean
  rawHeaders?: Buffer[] | string[] | IncomingHttpHeaders | null
  rawTrailers?: Buffer[] | string[] | IncomingHttpHeaders | null
  abort (reason: Error): void
  pause (): void
  resume (): void
}

/**
 * undici's new handler API (Dispatcher.DispatchHandler without the deprecated members).
 * `onRequestStart` is required: undici tells a new-API handler from a legacy one by its presence,
 * and without it rejects the handler (UND_ERR_INVALID_ARG "invalid onConnect method").
 */
export interface TransportHandler {
  /**
   * The handler copies any body bytes it keeps after onResponseData returns, so a transport may
   * pass views of its read buffer instead of a copy per chunk (net does; undici's chunks are
   * always the handler's to keep). Absent: chunks may be retained.
   */
  readonly transientChunks?: boolean
  onRequestStart (controller: TransportController, context: unknown): void
  onResponseStart? (controller: TransportController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void
  onResponseData? (controller: TransportController, chunk: Buffer): void
  onResponseEnd? (controller: TransportController, trailers: IncomingHttpHeaders): void
  onResponseError? (controller: TransportController, error: Error): void
}

/** One upstream target's connections. */
export interface Transport {
  readonly kind: TransportKind
  /** Starts a request; false when the transport is closed (the handler then got onResponseError). */
  dispatch (req: TransportRequest, handler: TransportHandler): boolean
  /** Graceful: requests in flight finish, idle connections close, new dispatches fail. */
  close (): Promise<void>
  /** Now: requests in flight fail with UND_ERR_DESTROYED. */
  destroy (): Promise<void>
}

export type TransportKind = 'undici' | 'net'

/** Where a transport connects (compile.ts UpstreamTarget carries these fields). */
export interface TransportTarget {
  readonly protocol: 'http' | 'https'
  readonly host: string
  readonly port: number
  /** `http://host:port` (IPv6 bracketed). */
  readonly origin: string
  /** Milliseconds for the TCP (and TLS) handshake. */
  readonly connectTimeout: number
  readonly tlsVerify: boolean
  /**
   * https: tls.connect options of the service's TLS profile (worker/upstream-tls.ts: client
   * certificate, trust store, verification and its depth); they replace `tlsVerify` when present.
   */
  readonly tls?: { readonly options: ConnectionOptions } | null
  /** TLS SNI / certificate name when `host` is an address (balancer targets); default: `host` unless an IP. */
  readonly servername?: string | null
}

/** Pool settings (Kong's upstream_keepalive_*). */
export interface TransportPoolOptions {
  /** Idle connections kept per target; 0 disables keep-alive (every request gets `reset`). */
  readonly keepalivePoolSize: number
  /** Requests per connection before it is closed; 0: unlimited. */
  readonly keepaliveMaxRequests: number
  /** Milliseconds an idle connection is kept (capped by the server's `Keep-Alive: timeout`). */
  readonly keepaliveIdleTimeoutMs: number
  /** Open connections per target at most; requests beyond wait in order. 0: unbounded (undici Pool's `connections: null`). */
  readonly maxConnections?: number
}

export type TransportFactory = (target: TransportTarget, options: TransportPoolOptions) => Transport
