/**
 * One proxied WebSocket connection: the upstream handshake (ws package client, through the
 * balancer's address pick), the client upgrade (uWS `res.upgrade`), then messages both ways until
 * either side closes. The request context stays in flight for the whole connection, so the log
 * phase and the metrics run once, when it ends, with status 101.
 *
 *   pick address --connect/handshake error--> retry (connect failures, service.retries) or 502/503/504
 *        |
 *        +--non-101 answer--> passed to the client as an ordinary response (response-writer.ts)
 *        |
 *        +--101--> client upgraded with the upstream's subprotocol --> OPEN
 *                                                                       |
 *        either side closes: its code and reason go to the other side --+--> both closed: DONE
 *
 * Message level (uWS cannot hand over the raw socket): every message is re-sent with its type
 * (text/binary); fragmentation is not kept; no extension is negotiated on either hop.
 * Pings are relayed end to end (so liveness checks reach the far side, as through nginx); pongs
 * are made by each hop's own library (uWS answers the client, ws answers the upstream) and are
 * not relayed, so nobody sees a pong twice.
 *
 * Backpressure:
 *   upstream -> client: after a send, uWS's buffered amount above HIGH pauses the upstream socket
 *     (ws `pause()`); the client's `drain` below LOW resumes it.
 *   client -> upstream: the upstream's `bufferedAmount` above HIGH pauses the client where the uWS
 *     build can (`pause()` on its WebSocket); the flush callback of that send resumes it. On a build
 *     without WebSocket pause (20.30) the client is closed with 1013 once UPSTREAM_LIMIT is
 *     passed: memory stays bounded either way.
 * Timeouts (nginx's upgraded-connection timers, with the service's values): no data from the
 *   upstream for read_timeout (while it is not paused by us), or a side that has not taken our
 *   bytes for write_timeout, ends the connection (an abrupt close toward the client, as nginx's).
 */
import type { IncomingHttpHeaders, IncomingMessage, ClientRequest } from 'node:http'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { Dispatcher } from 'undici'
import type { WebSocket as UwsSocket } from 'uWebSockets.js'
import WebSocket from 'ws'
import { ERRORS } from '../../common/errors.ts'
import { log } from '../../common/log.ts'
import { SERVER_TOKEN } from '../../common/meta.ts'
import { ST_STREAMING, ST_UPSTREAM, type AttemptRef, type RequestContext } from '../context.ts'
import { maybeFinish } from '../lifecycle.ts'
import { needsFilteredPath } from '../gateway-response.ts'
import { runHeaderFilter } from '../plugin-runner.ts'
import { endResponse, startResponse, writeChunk } from '../response-writer.ts'
import { closeClient, sendErrorPage, sendKongError, VIA_TOKEN } from '../responses.ts'
import { settings } from '../settings.ts'
import type { Address } from '../balancer/address.ts'
import { hashInput } from '../balancer/hash-on.ts'
import { reportPassive, type ServiceBalancing } from '../balancer/runtime.ts'
import { internalFailure } from '../proxy.ts'

/** Largest message either side may send (Kong has no setting for it: nginx relays bytes). */
export const MAX_MESSAGE = 16 * 1024 * 1024
/** Buffered bytes toward one side above which the other side is paused, and below which it resumes. */
const HIGH = 1024 * 1024
const LOW = 256 * 1024
/** uWS drops a send beyond this; with HIGH pausing it is never reached (a drop closes with 1011). */
export const MAX_BACKPRESSURE = 2 * MAX_MESSAGE + HIGH
/** Client -> upstream bytes held when the uWS build cannot pause a WebSocket: beyond it, 1013. */
const UPSTREAM_LIMIT = 2 * MAX_MESSAGE + HIGH
const SWEEP_MS = 1000

// Error classes as proxy.ts maps them (kong.md 3.4).
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT', 'WS_HANDSHAKE_TIMEOUT'])
const DNS_FAILURES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA'])

/** Upstream 101 headers uWS writes itself, or that are hop-by-hop. */
const SKIP_101 = new Set([
  'connection', 'upgrade', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions',
  'content-length', 'transfer-encoding', 'date', 'keep-alive', 'proxy-connection', 'te',
])

export interface TunnelData { tunnel: Tunnel }
/** This uWS build copies userData's fields onto the WebSocket object. */
export type ClientSocket = UwsSocket<TunnelData> & TunnelData & { pause?: () => void, resume?: () => void }

const live = new Set<Tunnel>()
let sweepTimer: NodeJS.Timeout | null = null
let draining = false

export class Tunnel implements AttemptRef, Dispatcher.DispatchController {
  readonly ctx: RequestContext
  controller: Dispatcher.DispatchController | null
  address: Address | null
  tried: Address[] | null
  hash: number
  upstream: WebSocket | null
  /** A non-101 answer being passed on. */
  response: IncomingMessage | null
  client: ClientSocket | null
  upstreamOpen: boolean
  clientOpen: boolean
  upstreamPaused: boolean
  clientPaused: boolean
  lastUpstreamRead: number
  /** Since when the client has not taken our bytes (0: it has). */
  clientStalled: number
  /** Since when the upstream has not taken our bytes (0: it has). */
  upstreamStalled: number
  /** The upstream 101's headers (ws `upgrade` event, just before `open`). */
  head: IncomingHttpHeaders | null
  finished: boolean
  #aborted: boolean
  #paused: boolean
  #reason: Error | null
  readonly onFlushed: (err?: Error) => void

  constructor (ctx: RequestContext) {
    this.ctx = ctx
    this.controller = this
    this.address = null
    this.tried = null
    this.hash = -1
    this.upstream = null
    this.response = null
    this.client = null
    this.upstreamOpen = false
    this.clientOpen = false
    this.upstreamPaused = false
    this.clientPaused = false
    this.lastUpstreamRead = 0
    this.clientStalled = 0
    this.upstreamStalled = 0
    this.head = null
    this.finished = false
    this.#aborted = false
    this.#paused = false
    this.#reason = null
    this.onFlushed = () => { upstreamFlushed(this) }
  }

  // ---- Dispatcher.DispatchController: used by response-writer.ts (non-101 answer) and
  //      lifecycle.ts abandonAttempt (the client went away, or the gateway gave up).
  get aborted (): boolean { return this.#aborted }
  get paused (): boolean { return this.#paused }
  get reason (): Error | null { return this.#reason }
  abort (reason: Error): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    teardown(this)
  }

  pause (): void { this.#paused = true; this.response?.pause() }
  resume (): void { this.#paused = false; this.response?.resume() }
}

/** After access: the handshake goes upstream (pipeline.ts afterAccess; upstream headers built). */
export function proxyWebSocket (ctx: RequestContext): void {
  const t = new Tunnel(ctx)
  ctx.attempt = t
  ctx.state = ST_UPSTREAM
  pick(t)
}

function balancing (ctx: RequestContext): ServiceBalancing {
  return ctx.route!.service!.target.balancing!
}

function pick (t: Tunnel): void {
  const ctx = t.ctx
  if (ctx.attempt !== t) return
  const route = ctx.route!
  const svc = route.service!
  const sb = svc.target.balancing!
  const b = sb.balancer
  if (b.pending !== null) {
    b.pending.then(() => { pick(t) }, (err: unknown) => { internalFailure(ctx, err) })
    return
  }
  let addr: Address | null = null
  if (b.healthy) {
    if (t.hash < 0 && b.hashing !== null) t.hash = b.hashing.index(hashInput(ctx, b.hashSpec!))
    addr = b.algo.pick(t.hash, t.tried)
  }
  if (addr === null) {
    ctx.attempt = null
    if (ctx.tries > 0) { failWith(ctx, ctx.lastError); return }
    if (b.plain && b.dnsError !== null) {
      if (b.dnsError.notFound) sendKongError(ctx, 503, ERRORS.GW_ERR_DNS.message)
      else sendKongError(ctx, 500, `dns server error: ${b.dnsError.code}`)
    } else {
      sendKongError(ctx, 503, ERRORS.GW_ERR_NO_PEER.message)
    }
    return
  }
  t.address = addr
  addr.connections++
  if (!route.preserveHost && ctx.upstreamHost === null) ctx.upstreamHeaders![1] = sb.https ? addr.hostHttps : addr.hostHttp
  if (ctx.tries === 0) {
    const now = performance.now()
    ctx.tUpstream = now
    ctx.proxyLatency = Math.round(now - ctx.t0)
  }
  ctx.tries++
  let up: WebSocket
  try {
    up = openUpstream(t, sb, addr, svc.readTimeout)
  } catch (err) {
    // The client's Sec-WebSocket-Protocol is not a valid token list (ws refuses it).
    release(t)
    ctx.attempt = null
    log.debug(`websocket handshake refused: ${(err as Error).message}`)
    sendErrorPage(ctx, 400, ERRORS.GW_ERR_BAD_REQUEST.message, true, false)
    return
  }
  t.upstream = up
}

function subprotocols (offer: string): string[] {
  const out: string[] = []
  if (offer === '') return out
  for (const p of offer.split(',')) {
    const s = p.trim()
    if (s !== '') out.push(s)
  }
  return out
}

function openUpstream (t: Tunnel, sb: ServiceBalancing, addr: Address, readTimeout: number): WebSocket {
  const ctx = t.ctx
  const h = ctx.upstreamHeaders!
  const headers: Record<string, string | string[]> = {}
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!
    // The ws client makes its own handshake fields (key, version, protocol offer, extensions).
    if (name.startsWith('sec-websocket-')) continue
    const v = h[i + 1]!
    const prev = headers[name]
    headers[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
  }
  const host = addr.ip.includes(':') ? `[${addr.ip}]` : addr.ip
  const url = `${sb.https ? 'wss' : 'ws'}://${host}:${addr.port}${ctx.upstreamPath}`
  const up = new WebSocket(url, subprotocols(ctx.ws!.protocol), {
    headers,
    perMessageDeflate: false,
    maxPayload: MAX_MESSAGE,
    followRedirects: false,
    handshakeTimeout: readTimeout,
    createConnection: () => connectSocket(sb, addr),
  })
  up.on('upgrade', (res: IncomingMessage) => { t.head = res.headers })
  up.on('open', () => { upstreamOpened(t, up) })
  up.on('unexpected-response', (req: ClientRequest, res: IncomingMessage) => { unexpectedResponse(t, req, res) })
  up.on('error', (err: Error) => { upstreamError(t, err) })
  up.on('close', (code: number, reason: Buffer) => { upstreamClosed(t, code, reason) })
  up.on('message', (data: Buffer, isBinary: boolean) => { upstreamMessage(t, data, isBinary) })
  up.on('ping', (data: Buffer) => { upstreamPing(t, data) })
  up.on('pong', () => { t.lastUpstreamRead = performance.now() })
  return up
}

/** The upstream connection with the service's connect timeout (Kong: 504 when it passes). */
function connectSocket (sb: ServiceBalancing, addr: Address): Socket {
  const socket = sb.https
    ? tlsConnect({ host: addr.ip, port: addr.port, servername: addr.servername ?? undefined, rejectUnauthorized: sb.tlsVerify, ALPNProtocols: ['http/1.1'] })
    : netConnect({ host: addr.ip, port: addr.port })
  const timer = setTimeout(() => {
    socket.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }))
  }, sb.connectTimeout)
  socket.once(sb.https ? 'secureConnect' : 'connect', () => { clearTimeout(timer) })
  socket.once('close', () => { clearTimeout(timer) })
  return socket
}

function errorCode (err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string') return code
    const inner = (err as { errors?: unknown }).errors
    if (Array.isArray(inner) && inner.length > 0) return errorCode(inner[0])
    if (err instanceof Error && err.message === 'Opening handshake has timed out') return 'WS_HANDSHAKE_TIMEOUT'
  }
  return 'UNKNOWN'
}

/** The handshake failed before any answer reached the client: retry, or Kong's error page. */
function upstreamError (t: Tunnel, err: Error): void {
  if (t.upstreamOpen || t.response !== null || t.finished) {
    log.debug(`websocket upstream error: ${err.message}`)
    return
  }
  const ctx = t.ctx
  const code = errorCode(err)
  const addr = t.address
  if (addr !== null) {
    const b = balancing(ctx).balancer
    if (b.passive) {
      if (TIMEOUTS.has(code)) reportPassive(b, addr, 'timeout', 0)
      else if (CONNECT_FAILURES.has(code) || code === 'ECONNRESET') reportPassive(b, addr, 'tcp_failure', 0)
    }
  }
  release(t)
  t.upstream = null
  if (ctx.attempt !== t) return
  ctx.lastError = code
  if (ctx.resDone) { ctx.attempt = null; maybeFinish(ctx); return }
  if (CONNECT_FAILURES.has(code) && ctx.tries <= ctx.route!.service!.retries) {
    if (addr !== null) (t.tried ??= []).push(addr)
    t.address = null
    pick(t)
    return
  }
  ctx.attempt = null
  if (log.enabled('info')) log.info(`websocket upstream ${ctx.route!.service!.target.origin} failed after ${ctx.tries} tries: ${code} (${err.message})`)
  failWith(ctx, code)
}

function failWith (ctx: RequestContext, code: string): void {
  ctx.upstreamLatency = Math.round(performance.now() - ctx.tUpstream)
  if (DNS_FAILURES.has(code)) sendKongError(ctx, 503, ERRORS.GW_ERR_DNS.message)
  else if (TIMEOUTS.has(code)) sendErrorPage(ctx, 504, ERRORS.GW_ERR_UPSTREAM_TIMEOUT.message)
  else sendErrorPage(ctx, 502, ERRORS.GW_ERR_UPSTREAM_INVALID.message)
}

/** The upstream answered without upgrading: its answer goes to the client as an ordinary response. */
function unexpectedResponse (t: Tunnel, req: ClientRequest, res: IncomingMessage): void {
  const ctx = t.ctx
  if (ctx.attempt !== t || ctx.resDone) { req.destroy(); release(t); return }
  t.response = res
  const addr = t.address
  if (addr !== null) {
    const b = balancing(ctx).balancer
    if (b.passive) reportPassive(b, addr, 'status', res.statusCode ?? 502)
  }
  const done = (ok: boolean): void => {
    release(t)
    req.destroy()
    if (ctx.attempt !== t) return
    ctx.attempt = null
    try {
      if (!ok || !endResponse(ctx)) closeClient(ctx)
    } catch (err) {
      internalFailure(ctx, err)
    }
    maybeFinish(ctx)
  }
  try {
    startResponse(ctx, res.statusCode ?? 502, res.headers, res.statusMessage)
  } catch (err) {
    internalFailure(ctx, err)
    return
  }
  res.on('data', (chunk: Buffer) => {
    if (ctx.attempt !== t) return
    try { writeChunk(ctx, t, chunk) } catch (err) { internalFailure(ctx, err) }
  })
  res.on('end', () => { done(true) })
  res.on('error', () => { done(false) })
  res.on('aborted', () => { done(false) })
}

// ---- the client upgrade ----

let cT: Tunnel | null = null
let cProtocol = ''
let cList: string[] | null = null

/**
 * The 101's headers: the upstream's (minus what uWS writes and hop-by-hop ones), then those the
 * access phase staged (rate-limiting's X-RateLimit-*, ...), through the plugins' header filters
 * when the route has any (Kong runs header_filter on the handshake's response too).
 */
function headList (t: Tunnel): string[] {
  const list: string[] = []
  const head = t.head
  t.head = null
  if (head !== null) {
    for (const name in head) {
      const v = head[name]
      if (v === undefined || SKIP_101.has(name)) continue
      if (typeof v === 'string') list.push(name, v)
      else for (const one of v) list.push(name, one)
    }
  }
  const ctx = t.ctx
  const staged = ctx.respHeaders
  if (staged !== null) for (let i = 0; i < staged.length; i++) list.push(staged[i]!)
  ctx.respStaged = staged
  ctx.respHeaders = list
  if (needsFilteredPath(ctx)) runHeaderFilter(ctx)
  return ctx.respHeaders ?? list
}

function upgradeCorked (): void {
  const t = cT!
  const ctx = t.ctx
  const res = ctx.res
  res.writeStatus('101 Switching Protocols')
  const list = cList!
  let via: string | null = null
  let hasServer = false
  const s = settings
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!
    const v = list[i + 1]!
    if (SKIP_101.has(name)) continue
    if (name === 'via' && s.hdrVia) { via = via === null ? v : `${via}, ${v}`; continue }
    if (name === 'server') hasServer = true
    res.writeHeader(name, v)
  }
  if (s.hdrVia) res.writeHeader('Via', via === null ? VIA_TOKEN : `${via}, ${VIA_TOKEN}`)
  if (!hasServer && s.hdrServer) res.writeHeader('Server', SERVER_TOKEN)
  if (s.hdrUpstreamLatency) res.writeHeader('X-Kong-Upstream-Latency', String(ctx.upstreamLatency))
  if (s.hdrProxyLatency) res.writeHeader('X-Kong-Proxy-Latency', String(ctx.proxyLatency))
  if (s.hdrUpstreamStatus) res.writeHeader('X-Kong-Upstream-Status', '101')
  if (s.hdrRequestId) res.writeHeader('X-Kong-Request-Id', ctx.requestId)
  const data: TunnelData = { tunnel: t }
  const up = ctx.ws!
  // uWS writes Upgrade, Connection and Sec-WebSocket-Accept, then runs `open` (clientOpened).
  res.upgrade(data, up.key, cProtocol, '', up.context)
}

function upstreamOpened (t: Tunnel, up: WebSocket): void {
  const ctx = t.ctx
  if (ctx.attempt !== t || ctx.resDone) { up.terminate(); return }
  t.upstreamOpen = true
  t.lastUpstreamRead = performance.now()
  ctx.upstreamLatency = Math.round(t.lastUpstreamRead - ctx.tUpstream)
  ctx.state = ST_STREAMING
  ctx.resStatus = 101
  ctx.upstreamStatus = 101
  cT = t
  cProtocol = up.protocol
  try {
    cList = headList(t)
    if (ctx.exited || ctx.resDone) {
      // A header filter ended the exchange (kong.response.exit): no upgrade.
      up.terminate()
      if (!ctx.resDone) closeClient(ctx)
      return
    }
    ctx.headSent = true
    ctx.resDone = true
    ctx.res.cork(upgradeCorked)
  } catch (err) {
    log.error(`websocket upgrade failed: ${(err as Error).stack ?? String(err)}`)
    up.terminate()
    if (!ctx.resDone) closeClient(ctx)
  } finally {
    cT = null
    cList = null
  }
  if (!t.clientOpen) {
    // uWS did not open the client side (its socket was already gone).
    up.terminate()
  }
}

export function clientOpened (ws: ClientSocket): void {
  const t = ws.tunnel
  t.client = ws
  t.clientOpen = true
  live.add(t)
  if (sweepTimer === null) {
    sweepTimer = setInterval(sweep, SWEEP_MS)
    sweepTimer.unref()
  }
  if (draining) ws.end(1001, 'going away')
}

// ---- messages ----

let sWs: ClientSocket | null = null
let sData: Buffer | null = null
let sBinary = false
let sResult = 1

function sendCorked (): void {
  sResult = sWs!.send(sData!, sBinary)
}

function upstreamMessage (t: Tunnel, data: Buffer, isBinary: boolean): void {
  t.lastUpstreamRead = performance.now()
  const ws = t.client
  if (ws === null || !t.clientOpen) return
  sWs = ws
  sData = data
  sBinary = isBinary
  try {
    ws.cork(sendCorked)
  } finally {
    sWs = null
    sData = null
  }
  t.ctx.bytesOut += data.length
  if (sResult === 2) {
    // Dropped by uWS (maxBackpressure): never lose a message silently.
    ws.end(1011, 'backpressure limit')
    return
  }
  if (!t.upstreamPaused && ws.getBufferedAmount() > HIGH) {
    t.upstreamPaused = true
    t.clientStalled = performance.now()
    t.upstream!.pause()
  }
}

export function clientDrained (ws: ClientSocket): void {
  const t = ws.tunnel
  if (t.upstreamPaused && ws.getBufferedAmount() < LOW) {
    t.upstreamPaused = false
    t.clientStalled = 0
    t.lastUpstreamRead = performance.now()
    if (t.upstreamOpen) t.upstream!.resume()
  }
}

export function clientMessage (ws: ClientSocket, message: ArrayBuffer, isBinary: boolean): void {
  const t = ws.tunnel
  const up = t.upstream
  if (up === null || !t.upstreamOpen) return
  // The ArrayBuffer is uWS's and dies with this callback: copy.
  const data = Buffer.from(new Uint8Array(message))
  t.ctx.bodyBytes += data.length
  const over = up.bufferedAmount + data.length > HIGH
  up.send(data, { binary: isBinary, compress: false }, over ? t.onFlushed : undefined)
  if (!over) return
  if (t.upstreamStalled === 0) t.upstreamStalled = performance.now()
  if (typeof ws.pause === 'function') {
    if (!t.clientPaused) { t.clientPaused = true; ws.pause() }
  } else if (up.bufferedAmount > UPSTREAM_LIMIT) {
    // The upstream is not reading (it would not read a close frame either): drop it.
    up.terminate()
    ws.end(1013, 'upstream not reading')
  }
}

function upstreamFlushed (t: Tunnel): void {
  const up = t.upstream
  if (up === null || up.bufferedAmount > LOW) return
  t.upstreamStalled = 0
  if (t.clientPaused) {
    t.clientPaused = false
    if (t.clientOpen) t.client!.resume!()
  }
}

export function clientPing (ws: ClientSocket, message: ArrayBuffer): void {
  const t = ws.tunnel
  if (t.upstreamOpen) t.upstream!.ping(Buffer.from(new Uint8Array(message)))
}

export function clientPong (_ws: ClientSocket, _message: ArrayBuffer): void {
  // uWS answered the client's pings; pongs are per hop.
}

function upstreamPing (t: Tunnel, data: Buffer): void {
  t.lastUpstreamRead = performance.now()
  if (t.clientOpen) t.client!.ping(data)
}

// ---- closing ----

function validCloseCode (code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)
}

export function clientClosed (ws: ClientSocket, code: number, message: ArrayBuffer): void {
  const t = ws.tunnel
  t.clientOpen = false
  t.client = null
  // The connection is going away: it no longer counts for least-connections.
  release(t)
  const up = t.upstream
  if (up !== null && t.upstreamOpen && up.readyState === WebSocket.OPEN) {
    try {
      if (validCloseCode(code)) up.close(code, Buffer.from(new Uint8Array(message)))
      else if (code === 1005) up.close()
      else up.terminate()
    } catch {
      up.terminate()
    }
    return
  }
  finish(t)
}

function upstreamClosed (t: Tunnel, code: number, reason: Buffer): void {
  const wasOpen = t.upstreamOpen
  t.upstreamOpen = false
  if (!wasOpen) return // a failed handshake: upstreamError or the response path handles it
  release(t)
  const ws = t.client
  if (ws !== null && t.clientOpen) {
    try {
      if (validCloseCode(code)) ws.end(code, reason)
      else if (code === 1005) ws.end()
      else ws.close() // 1006: the upstream went away without a close frame; so does the client's connection
    } catch (err) {
      log.debug(`websocket close relay failed: ${(err as Error).message}`)
    }
    return
  }
  finish(t)
}

/** Ends everything of the tunnel at once (abort, timeout, shutdown). */
function teardown (t: Tunnel): void {
  const ws = t.client
  if (ws !== null && t.clientOpen) {
    try { ws.close() } catch { /* already closed */ }
  }
  const up = t.upstream
  if (up !== null && up.readyState !== WebSocket.CLOSED) up.terminate()
  if (t.response !== null) t.response.destroy()
  if (!t.upstreamOpen && !t.clientOpen) finish(t)
}

/** The least-connections count: the address holds the connection until it ends. */
function release (t: Tunnel): void {
  const addr = t.address
  if (addr === null) return
  t.address = null
  addr.connections--
}

function finish (t: Tunnel): void {
  if (t.finished) return
  t.finished = true
  live.delete(t)
  if (live.size === 0 && sweepTimer !== null) {
    clearInterval(sweepTimer)
    sweepTimer = null
  }
  release(t)
  const ctx = t.ctx
  if (ctx.attempt === t) ctx.attempt = null
  ctx.resDone = true
  maybeFinish(ctx)
}

/** nginx's timers on an upgraded connection, with the service's timeouts. */
function sweep (): void {
  const now = performance.now()
  for (const t of live) {
    const svc = t.ctx.route!.service!
    let why: string | null = null
    if (t.upstreamOpen && !t.upstreamPaused && now - t.lastUpstreamRead > svc.readTimeout) why = 'upstream read timeout'
    else if (t.clientStalled !== 0 && now - t.clientStalled > svc.writeTimeout) why = 'client not reading'
    else if (t.upstreamStalled !== 0 && now - t.upstreamStalled > svc.writeTimeout) why = 'upstream write timeout'
    if (why === null) continue
    if (log.enabled('info')) log.info(`websocket to ${svc.target.origin} closed: ${why}`)
    teardown(t)
  }
}

/** Shutdown: every WebSocket is closed with 1001 (going away); new ones are refused the same way. */
export function closeAllWebSockets (): void {
  draining = true
  for (const t of live) {
    const ws = t.client
    if (ws !== null && t.clientOpen) {
      try { ws.end(1001, 'going away') } catch { teardown(t) }
    } else {
      teardown(t)
    }
  }
}

/** How many WebSocket connections this worker proxies (tests, status). */
export function openWebSockets (): number {
  return live.size
}
