/**
 * RequestContext: everything one proxied request needs, in one object of one shape (every field
 * is assigned in the constructor, in the same order; undici's Parser habit), so V8 keeps a single
 * hidden class for it. It holds the copy of the uWS request (uWS's request object is dead once the
 * handler returns), the compiled snapshot the request started with, and the per-request state of
 * the upstream exchange.
 *
 * Lifecycle (`state`), one way only:
 *
 *   ROUTING --(body expected)--> BODY --(body buffered or streaming)--> UPSTREAM
 *      |                                                                  |
 *      +--(no body)---------------------------------------------------->--+
 *      |                                             (upstream response head arrived;
 *      +--(gateway response: 404, 503, 426, 413, ...)--+  written with its first body bytes)
 *                                                      |                  v
 *                                                      v             STREAMING
 *                                                    DONE <---------------+
 *
 * Two independent things must settle before a request is DONE: the client side (`resDone`: the
 * response was ended, closed, or the client aborted; from then on `res` must not be touched, uWS
 * throws) and the upstream side (`attempt === null`: no dispatch in flight, or the one in flight
 * was abandoned and aborted). `finishRequest()` in proxy.ts runs once, when both hold.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { HttpResponse } from 'uWebSockets.js'
import type { Dispatcher } from 'undici'
import type { RouteMatch } from '../router/types.ts'
import type { CompiledRoute, CompiledSnapshot } from './compile.ts'
import type { UpstreamPool } from './upstreams.ts'
import type { BodyStream } from './request-body.ts'
import { nextRequestId } from './request-id.ts'
import type {
  ConsumerRow, CredentialRow, FlatHeaders, LogContext, ParsedBody, QueryValue,
} from '../plugins/types.ts'
import type { PhaseChains } from './plugin-chains.ts'
import * as pdk from './pdk.ts'
import type { WsUpgrade } from './websocket/behavior.ts'

export const ST_ROUTING = 0
export const ST_BODY = 1
export const ST_UPSTREAM = 2
export const ST_STREAMING = 3
export const ST_DONE = 4

/** Request body handling. */
export const BODY_NONE = 0
/** Collecting chunks up to request-body.ts COLLECT_LIMIT before dispatching. */
export const BODY_COLLECTING = 1
/** Whole body in `bodyBuffer`: replayable on retries, sent with Content-Length. */
export const BODY_BUFFERED = 2
/** Larger body flowing through `bodyStream` while the upstream request runs. */
export const BODY_STREAMING = 3
/** Remaining client bytes are read and dropped (the exchange was answered or abandoned). */
export const BODY_DISCARD = 4

/** Response body framing toward the client. */
export const FRAME_NONE = 0
/** Upstream Content-Length known: `tryEnd(chunk, total)`. */
export const FRAME_LENGTH = 1
/** Unknown length: uWS chunked `write()`. */
export const FRAME_CHUNKED = 2

/** One upstream try. A new object per try, so late callbacks of an abandoned try are recognisable. */
export interface AttemptRef {
  readonly ctx: RequestContext
  controller: Dispatcher.DispatchController | null
}

export class RequestContext implements LogContext {
  res: HttpResponse
  snap: CompiledSnapshot
  /** Listener port that accepted the request (X-Forwarded-Port, router `port`). */
  port: number
  // ---- TLS (worker/tls.ts; set by server.ts) ----
  /** Came over the TLS listener: scheme `https`. */
  tls: boolean
  /** The client's SNI as the TLS listener knows it (tls.ts requestSni); null over plain HTTP. */
  sni: string | null
  /** The TLS App's counters; lifecycle.ts maybeFinish decrements `inflight`. */
  tlsSlot: { inflight: number } | null
  // ---- end TLS ----
  method: string
  /** Raw request path, percent-encoded, without the query. */
  path: string
  /** Raw query string without '?'; null when the target had no '?'. */
  query: string | null
  /** Flat `[name0, value0, ...]`, lowercase names, client order. */
  headers: string[]

  // Headers classified while copying (server.ts collectHeader).
  hostCount: number
  host: string
  /** First Content-Length value; `clBad` when a value is not digits or two values differ. */
  contentLength: string | null
  clBad: boolean
  transferEncoding: string | null
  teCount: number
  connection: string | null
  /** The Connection field lists a `close` token (any case, in a list): the response closes the connection. */
  closeAfter: boolean
  /** A local answer to a chunked request is held for one turn (responses.ts holdLocalAnswer): 0 no, 1 held, 2 being written. */
  answerHold: number
  /** A plugin answered in place of the upstream as if proxied (proxy-cache Hit): Via and the upstream latencies. */
  proxiedExit: boolean
  /** A Kong-Debug request field was sent (allow_debug_header). */
  kongDebug: boolean
  te: string | null
  accept: string | null
  contentType: string | null
  xForwardedFor: string | null
  xForwardedProto: string | null
  xForwardedHost: string | null
  xForwardedPort: string | null
  xForwardedPath: string | null
  xForwardedPrefix: string | null
  via: string | null
  realIp: string | null

  remoteAddr: string
  trusted: boolean
  route: CompiledRoute | null
  match: RouteMatch<CompiledRoute> | null
  state: number
  resDone: boolean
  /** Bytes went to the client (a response head, or a gateway response): no error page any more. */
  headSent: boolean
  t0: number
  tUpstream: number
  upstreamLatency: number
  proxyLatency: number
  requestIdValue: string

  // Upstream exchange.
  pool: UpstreamPool | null
  upstreamPath: string
  upstreamHeaders: string[] | null
  attempt: AttemptRef | null
  tries: number
  lastError: string

  // Request body.
  bodyMode: number
  bodyChunks: Buffer[] | null
  bodyBytes: number
  bodyBuffer: Buffer | null
  bodyStream: BodyStream | null
  /** The client's last body byte arrived. */
  bodyReceived: boolean
  readPaused: boolean

  // Response from upstream. The head is written together with the first body bytes (one cork,
  // one syscall for small responses), so it waits here until then.
  headPending: boolean
  resStatus: number
  resMessage: string | undefined
  resHeaders: IncomingHttpHeaders | null
  /** Upstream Content-Length when it is a plain number. */
  resLength: string | undefined
  frame: number
  total: number
  pending: Buffer | null
  pendingOffset: number
  writableHooked: boolean
  /** TE: trailers was asked for: keep the upstream Trailer header (Kong header_filter.before). */
  wantsTrailers: boolean

  readonly onAborted: () => void
  onData: ((chunk: ArrayBuffer, last: boolean) => void) | null
  onWritable: ((offset: number) => boolean) | null

  // Plugins (plugin-chains.ts, plugin-runner.ts, pdk.ts).
  /** Chains of the downstream phases: the route's once access starts, the global ones before. */
  chains: PhaseChains | null
  /** Chains of the authenticated consumer, used after `switchOrder`. */
  altChains: PhaseChains | null
  switchOrder: number
  consumerChanged: boolean
  consumer: ConsumerRow | null
  credential: CredentialRow | null
  authenticatedGroups: readonly string[] | null
  /** A plugin ended the request (kong.response.exit / error). */
  exited: boolean
  sharedMap: Map<string, unknown> | null
  /** Response headers: staged by access (kong.response.set_header), the live list in header filter. */
  respHeaders: string[] | null
  /** The staged list, kept while `respHeaders` holds the upstream response's headers. */
  respStaged: string[] | null
  upstreamStatus: number
  bodyFilterDone: boolean
  /** Upstream body bytes handed to the body filters (a length-framed body's last chunk is known by it). */
  bodyFiltered: number
  /** The upstream's headers once written on the fast path (kept for getResponseHeaders in log). */
  resHeadersSent: IncomingHttpHeaders | null
  /** The header filters are running (an exit then replaces the response: status, headers, body). */
  inHeaderFilter: boolean
  /** Body of an exit made during the header filter; it replaces the response body. */
  replacedBody: Buffer | null
  /** Response body bytes written to the client. */
  bytesOut: number
  queryArgs: Record<string, QueryValue> | null
  realIpValue: string | null
  /** 0: no plugin asked for the body; 1: being read; 2: read (rawBody). */
  pluginBody: number
  rawBody: Buffer | null
  bodyWaiter: ((body: Buffer | null) => void) | null
  parsedBody: ParsedBody | null | undefined
  /** Body set by a plugin: sent upstream instead of the client's. */
  bodyReplaced: Buffer | null
  upstreamHost: string | null
  upstreamPathOverride: string | null
  upstreamMethod: string | null
  /** A request body larger than this (bytes) is refused while it streams (request-size-limiting). */
  bodyLimit: number
  /** A WebSocket handshake (websocket/behavior.ts): proxied by websocket/tunnel.ts after access. */
  ws: WsUpgrade | null

  constructor (res: HttpResponse, snap: CompiledSnapshot, port: number, onAborted: (ctx: RequestContext) => void) {
    this.res = res
    this.snap = snap
    this.port = port
    this.tls = false // TLS
    this.sni = null // TLS
    this.tlsSlot = null // TLS
    this.method = ''
    this.path = ''
    this.query = null
    this.headers = []
    this.hostCount = 0
    this.host = ''
    this.contentLength = null
    this.clBad = false
    this.transferEncoding = null
    this.teCount = 0
    this.connection = null
    this.closeAfter = false
    this.answerHold = 0
    this.proxiedExit = false
    this.kongDebug = false
    this.te = null
    this.accept = null
    this.contentType = null
    this.xForwardedFor = null
    this.xForwardedProto = null
    this.xForwardedHost = null
    this.xForwardedPort = null
    this.xForwardedPath = null
    this.xForwardedPrefix = null
    this.via = null
    this.realIp = null
    this.remoteAddr = ''
    this.trusted = false
    this.route = null
    this.match = null
    this.state = ST_ROUTING
    this.resDone = false
    this.headSent = false
    this.t0 = performance.now()
    this.tUpstream = 0
    this.upstreamLatency = -1
    this.proxyLatency = -1
    this.requestIdValue = ''
    this.pool = null
    this.upstreamPath = ''
    this.upstreamHeaders = null
    this.attempt = null
    this.tries = 0
    this.lastError = ''
    this.bodyMode = BODY_NONE
    this.bodyChunks = null
    this.bodyBytes = 0
    this.bodyBuffer = null
    this.bodyStream = null
    this.bodyReceived = false
    this.readPaused = false
    this.headPending = false
    this.resStatus = 0
    this.resMessage = undefined
    this.resHeaders = null
    this.resLength = undefined
    this.frame = FRAME_NONE
    this.total = 0
    this.pending = null
    this.pendingOffset = 0
    this.writableHooked = false
    this.wantsTrailers = false
    // uWS callbacks get no arguments that identify the response, so one closure per request is
    // unavoidable for onAborted; onData/onWritable closures are made only when needed.
    this.onAborted = () => { onAborted(this) }
    this.onData = null
    this.onWritable = null
    this.chains = snap.plugins.global
    this.altChains = null
    this.switchOrder = -1
    this.consumerChanged = false
    this.consumer = null
    this.credential = null
    this.authenticatedGroups = null
    this.exited = false
    this.sharedMap = null
    this.respHeaders = null
    this.respStaged = null
    this.upstreamStatus = 0
    this.bodyFilterDone = false
    this.bodyFiltered = 0
    this.resHeadersSent = null
    this.inHeaderFilter = false
    this.replacedBody = null
    this.bytesOut = 0
    this.queryArgs = null
    this.realIpValue = null
    this.pluginBody = 0
    this.rawBody = null
    this.bodyWaiter = null
    this.parsedBody = undefined
    this.bodyReplaced = null
    this.upstreamHost = null
    this.upstreamPathOverride = null
    this.upstreamMethod = null
    this.bodyLimit = 0
    this.ws = null
  }

  get requestId (): string {
    if (this.requestIdValue === '') this.requestIdValue = nextRequestId()
    return this.requestIdValue
  }

  // ---- PDK (plugins/types.ts PluginContext); implementations in pdk.ts ----

  get scheme (): string { return this.tls ? 'https' : 'http' } // TLS
  get hostName (): string { return pdk.hostName(this) }
  getHeader (name: string): string | undefined { return pdk.getHeader(this, name) }
  getHeaderAll (name: string): string | string[] | undefined { return pdk.getHeaderAll(this, name) }
  getHeaders (): Record<string, string | string[]> { return pdk.getHeaders(this) }
  getQueryArg (name: string): QueryValue | undefined { return pdk.getQueryArgs(this)[name] }
  getQueryArgs (): Readonly<Record<string, QueryValue>> { return pdk.getQueryArgs(this) }
  getCookie (name: string): string | undefined { return pdk.getCookie(this, name) }
  readBody (): Buffer | null | Promise<Buffer | null> { return pdk.readBody(this) }
  getBody (): ParsedBody | null | Promise<ParsedBody | null> { return pdk.getBody(this) }
  limitBodySize (bytes: number): void {
    this.bodyLimit = bytes
    if (this.bodyBytes > bytes) pdk.error(this, 413, 'Request size limit exceeded', null)
  }

  setHeader (name: string, value: string): void { pdk.setHeader(this, name, value) }
  addHeader (name: string, value: string): void { pdk.addHeader(this, name, value) }
  clearHeader (name: string): void { pdk.clearHeader(this, name) }
  setRawQuery (query: string | null): void { this.query = query; this.queryArgs = null }
  clearQueryArg (name: string): void { pdk.clearQueryArg(this, name) }
  setQueryArgs (args: Readonly<Record<string, QueryValue>>): void { pdk.setQueryArgs(this, args) }
  setPath (path: string): void { this.upstreamPathOverride = path }
  setMethod (method: string): void { this.upstreamMethod = method }
  setRawBody (body: Buffer | string, contentType?: string): void { pdk.setRawBody(this, body, contentType) }
  setBody (body: ParsedBody): void { pdk.setBody(this, body) }

  clientIp (): string { return this.remoteAddr }
  forwardedIp (): string { return pdk.forwardedIp(this) }
  authenticate (consumer: ConsumerRow | null, credential: CredentialRow | null): void {
    this.consumer = consumer
    this.credential = credential
    if (this.chains !== null && this.chains.forConsumer !== null) this.consumerChanged = true
  }

  get routeRow (): Record<string, unknown> | null { return (this.match?.route as unknown as Record<string, unknown>) ?? null }
  get serviceRow (): Record<string, unknown> | null { return (this.route?.service?.row as unknown as Record<string, unknown>) ?? null }
  /** kong.request.get_uri_captures(): the regex groups without the whole match (index 0). */
  get uriCaptures (): unknown {
    const c = this.match?.captures ?? null
    return c === null ? null : { unnamed: c.unnamed.slice(1), named: c.named }
  }

  markProxied (): void { this.proxiedExit = true }
  exit (status: number, body?: string | Buffer | object | null, headers?: FlatHeaders | null): void { pdk.exit(this, status, body, headers) }
  exitJson (status: number, json: string, headers?: FlatHeaders | null): void { pdk.exitJson(this, status, json, headers) }
  error (status: number, message?: string, headers?: FlatHeaders | null): void { pdk.error(this, status, message, headers) }
  get status (): number { return this.resStatus }
  getResponseHeader (name: string): string | undefined { return pdk.getResponseHeader(this, name) }
  getResponseHeaders (): FlatHeaders { return pdk.getResponseHeaders(this) }
  setResponseHeader (name: string, value: string): void { pdk.setResponseHeader(this, name, value) }
  addResponseHeader (name: string, value: string): void { pdk.addResponseHeader(this, name, value) }
  clearResponseHeader (name: string): void { pdk.clearResponseHeader(this, name) }

  get shared (): Map<string, unknown> { return (this.sharedMap ??= new Map()) }

  // ---- LogContext ----
  get startedAt (): number { return performance.timeOrigin + this.t0 }
  get requestLatency (): number { return Math.round(performance.now() - this.t0) }
  get bytesReceived (): number { return this.bodyBytes }
  get upstreamUri (): string { return this.tries > 0 ? this.upstreamPath : '' }
  get upstreamTarget (): { host: string; port: number } | null {
    const t = this.tries > 0 ? (this.route?.service?.target ?? null) : null
    return t === null ? null : { host: t.host, port: t.port }
  }
}
