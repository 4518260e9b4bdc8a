/**
 * The upstream side of a WebSocket handshake (tunnel.ts has the picture): the balancer's pick, the
 * `ws` client's handshake on a socket made here (the service's connect timeout, TLS for `https`
 * services), retries of connect failures, Kong's error pages, a non-101 answer passed on as an
 * ordinary response, and the client upgrade with the upstream's subprotocol once the 101 arrived.
 */
import type { IncomingMessage, ClientRequest } from 'node:http'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import WebSocket from 'ws'
import { ERRORS } from '../../common/errors.ts'
import { log } from '../../common/log.ts'
import { SERVER_TOKEN } from '../../common/meta.ts'
import { ST_STREAMING, ST_UPSTREAM, type RequestContext } from '../context.ts'
import { maybeFinish } from '../lifecycle.ts'
import { needsFilteredPath } from '../gateway-response.ts'
import { runHeaderFilter } from '../plugin-runner.ts'
import { endResponse, startResponse, writeChunk } from '../response-writer.ts'
import { closeClient, sendErrorPage, sendKongError, VIA_TOKEN } from '../responses.ts'
import { settings } from '../settings.ts'
import type { Address } from '../balancer/address.ts'
import { hashInput } from '../balancer/hash-on.ts'
import { reportPassive, sniOfHost, type ServiceBalancing } from '../balancer/runtime.ts'
import { internalFailure } from '../proxy.ts'
import { LEGACY_BUILD, uwsInfo } from '../uws-load.ts'
import { MAX_MESSAGE, release, Tunnel, upstreamClosed, upstreamMessage, upstreamPing, type TunnelData } from './tunnel.ts'

// Error classes as proxy.ts maps them (kong.md 3.4).
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT', 'WS_HANDSHAKE_TIMEOUT'])
const DNS_FAILURES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA'])

/** Upstream 101 headers uWS writes itself, or that are hop-by-hop. */
const SKIP_101 = new Set([
  'connection', 'upgrade', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions',
  'content-length', 'transfer-encoding', 'date', 'keep-alive', 'proxy-connection', 'te',
])

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
    createConnection: () => connectSocket(sb, addr, readTimeout, h[1]!),
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

/**
 * The upstream connection with the service's timeouts: connect_timeout until connected, then
 * read_timeout of silence until the 101 (ws turns the socket timeout off once open; its own
 * handshakeTimeout is not armed on a socket given by createConnection). Both are Kong's 504.
 */
function connectSocket (sb: ServiceBalancing, addr: Address, readTimeout: number, host: string): Socket {
  // TLS as proxy.ts: the service's profile (upstream-tls.ts), SNI from the upstream Host's name.
  const socket = sb.https
    ? tlsConnect({ ...(sb.tls?.options ?? { rejectUnauthorized: sb.tlsVerify }), host: addr.ip, port: addr.port, servername: sniOfHost(host) ?? undefined, ALPNProtocols: ['http/1.1'] })
    : netConnect({ host: addr.ip, port: addr.port })
  const timer = setTimeout(() => {
    socket.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }))
  }, sb.connectTimeout)
  socket.once(sb.https ? 'secureConnect' : 'connect', () => {
    clearTimeout(timer)
    socket.setTimeout(readTimeout)
  })
  socket.once('timeout', () => {
    socket.destroy(Object.assign(new Error('handshake read timeout'), { code: 'WS_HANDSHAKE_TIMEOUT' }))
  })
  socket.once('close', () => { clearTimeout(timer) })
  return socket
}

function errorCode (err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string') return code
    const inner = (err as { errors?: unknown }).errors
    if (Array.isArray(inner) && inner.length > 0) return errorCode(inner[0])
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
/**
 * Whether the client upgrade runs in `res.cork` (as uWS asks of writes outside its own callbacks).
 * On the 20.57 build (registry stand-in, Node 24) an upgrade made after the upstream's 101, inside
 * cork, is sometimes closed by uWS (code 1006) in the same call, right after `open`: measured in the
 * Debian 13 root, the three proxy-websocket*.test.ts files stalled in 1 of every 1-2 runs that way;
 * an uncorked upgrade never did (5 of 5 runs). The uncorked one costs uWS's "writes must be made
 * from within a corked callback" warning on stderr for each write of the 101. So: corked on the
 * 20.30 build (never failed there), uncorked on any other build.
 */
let corkedUpgrade: boolean | null = null
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
    if (corkedUpgrade === null) corkedUpgrade = uwsInfo().build === LEGACY_BUILD.version
    if (corkedUpgrade) ctx.res.cork(upgradeCorked)
    else upgradeCorked()
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

