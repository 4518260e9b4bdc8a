/**
 * The uWS front end: one App per plain proxy listener and one TLS endpoint (tls.ts: SSLApps that
 * serve the snapshot's certificates by SNI) per `ssl` listener; SO_REUSEPORT is uWS's default on
 * Linux, so every worker binds the same ports. The handler copies what it needs out
 * of the uWS request synchronously (method, path, query, a flat header array with the few headers
 * the proxy looks at classified on the way, and the sizes nginx limits: request line, longest field
 * line, whole head), attaches onAborted before anything asynchronous, runs the edge checks of
 * edge.ts and hands over to pipeline.ts, or to edge.ts's refusal when a check fails.
 *
 * Snapshot swap: `current` is the one module-level reference; a request reads it once and keeps
 * it in its context, so a swap never changes the config of a request in flight.
 */
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uWebSockets.js'
import { setFlagsFromString } from 'node:v8'
import { workerData } from 'node:worker_threads'
import { ERRORS } from '../common/errors.ts'
import { log } from '../common/log.ts'
import type { Snapshot } from '../common/snapshot.ts'
import type { Config } from '../config/load.ts'
import type { Listener } from '../config/listen.ts'
import type { CompiledSnapshot } from './compile.ts'
import { BODY_COLLECTING, BODY_STREAMING, RequestContext } from './context.ts'
import { edgeCheck, edgeReject, initEdge, OK, onConnection, setUwsBuild, trackBody, validMethod } from './edge.ts'
import { requestStarted } from './lifecycle.ts'
import { handleRequest } from './pipeline.ts'
import { internalFailure, onClientAborted } from './proxy.ts'
import { sendErrorPage } from './responses.ts'
import { settings } from './settings.ts'
import { requestSni, TlsEndpoint, type ListenInfo } from './tls.ts'
import { buildTlsPlan, MaterialCache, type TlsPlan } from './tls-plan.ts'
import { formatAddress, isTrusted } from './trusted-ips.ts'
import { loadUws, uwsInfo } from './uws-load.ts'
import { wsBehavior, type WsUpgrade } from './websocket/behavior.ts'
import { closeAllWebSockets } from './websocket/tunnel.ts'

// V8's allocation-site pretenuring, off for the whole process (V8 flags are per process; set here,
// before this worker serves). Under proxy load some allocation site on the request path gets
// "tenured" (its objects then go straight to the old generation): about 500 bytes per request
// were promoted, a full mark-compact every ~1.5 s, against ~10 bytes without. Measured (1 worker,
// wrk -c50, 9 paired rounds): 5 % less CPU per request with the flag off (23.8 vs 24.9 us).
setFlagsFromString('--no-allocation-site-pretenuring')

let current: CompiledSnapshot | null = null

export function setSnapshot (s: CompiledSnapshot): void {
  current = s
}

export function currentSnapshot (): CompiledSnapshot | null {
  return current
}

// ---- TLS: the certificate plan of the latest snapshot, applied to every TLS endpoint (tls.ts) ----
const materials = new MaterialCache()
let tlsPlan: TlsPlan | null = null
const tlsEndpoints: TlsEndpoint[] = []

/**
 * Takes the certificates, SNIs and route SNIs of a snapshot the worker now serves. Before the
 * listeners are up it is only kept (listenAll uses it); afterwards it is applied to each TLS
 * endpoint at once. Never throws: a certificate that cannot be served is logged and left out.
 */
export function setTlsSnapshot (snap: Snapshot): void {
  let plan: TlsPlan
  try {
    plan = buildTlsPlan(snap, materials)
  } catch (err) {
    log.error(`TLS: snapshot ${snap.version} certificates not applied: ${(err as Error).stack ?? String(err)}`)
    return
  }
  for (const e of plan.errors) log.error(`TLS: ${e}`)
  tlsPlan = plan
  for (const ep of tlsEndpoints) ep.apply(plan)
}

/**
 * Runs `cb` once every TLS endpoint serves new connections from the latest plan only (at once,
 * or after a swapped-out listen socket is closed): a snapshot is acknowledged then.
 */
export function whenTlsSettled (cb: () => void): void {
  let waiting = tlsEndpoints.length
  if (waiting === 0) { cb(); return }
  const one = (): void => { if (--waiting === 0) cb() }
  for (const ep of tlsEndpoints) ep.whenSettled(one)
}
// ---- end TLS ----

/** The methods 20.30 routes (it closes on any other); 20.57 passes any token, checked by edge.ts validMethod. */
const METHODS: Record<string, string> = {
  GET: 'GET', POST: 'POST', PUT: 'PUT', DELETE: 'DELETE', PATCH: 'PATCH', HEAD: 'HEAD', OPTIONS: 'OPTIONS',
  TRACE: 'TRACE', CONNECT: 'CONNECT',
}

function isDigits (s: string): boolean {
  if (s.length === 0) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** `5, 5`: a list of equal lengths is that length (RFC 9110 8.6); null for anything else. */
function lengthList (v: string): string | null {
  let one: string | null = null
  for (const part of v.split(',')) {
    const p = part.trim()
    if (!isDigits(p) || (one !== null && p !== one)) return null
    one = p
  }
  return one
}

/** A `close` token in a Connection list (any case, OWS around commas): RFC 9112 9.6. */
function listsClose (v: string): boolean {
  if (v === 'close') return true
  const s = v.toLowerCase()
  if (s.indexOf('close') === -1) return false
  for (const t of s.split(',')) if (t.trim() === 'close') return true
  return false
}

function join (prev: string | null, v: string): string {
  return prev === null ? v : `${prev}, ${v}`
}

let hCtx: RequestContext | null = null

/** req.forEach callback: copies each header and classifies the ones the proxy reads. */
function collectHeader (k: string, v: string): void {
  const ctx = hCtx!
  // nginx large_client_header_buffers: the field line as sent (uWS trims the value's whitespace).
  let n = k.length + v.length + 4
  if (v.length > utf8From) n = k.length + Buffer.byteLength(v) + 4
  hHead += n
  if (n > hMaxField) hMaxField = n
  // A name with `_` is an ordinary field, proxied and seen by the router and plugins: Kong's nginx
  // template sets `underscores_in_headers on` (`Transfer_Encoding: chunked` frames nothing).
  ctx.headers.push(k, v)
  switch (k.length) {
    case 2:
      if (k === 'te') ctx.te = join(ctx.te, v)
      break
    case 3:
      if (k === 'via') ctx.via = join(ctx.via, v)
      break
    case 4:
      if (k === 'host') { ctx.hostCount++; ctx.host = v }
      break
    case 6:
      if (k === 'accept') ctx.accept = join(ctx.accept, v)
      break
    case 10:
      if (k === 'connection') {
        ctx.connection = join(ctx.connection, v)
        if (v.length >= 5 && listsClose(v)) ctx.closeAfter = true
      } else if (k === 'kong-debug' && allowDebug) ctx.kongDebug = true
      break
    case 12:
      if (k === 'content-type') { if (ctx.contentType === null) ctx.contentType = v }
      break
    case 14:
      if (k === 'content-length') {
        const one = isDigits(v) ? v : lengthList(v)
        if (one === null) ctx.clBad = true
        else if (ctx.contentLength === null) ctx.contentLength = one
        else if (one !== ctx.contentLength) ctx.clBad = true
        if (ctx.contentLength === null) ctx.contentLength = v
      }
      break
    case 15:
      if (k === 'x-forwarded-for') ctx.xForwardedFor = join(ctx.xForwardedFor, v)
      break
    case 16:
      if (k === 'x-forwarded-host') { if (ctx.xForwardedHost === null) ctx.xForwardedHost = v } else if (k === 'x-forwarded-port') { if (ctx.xForwardedPort === null) ctx.xForwardedPort = v } else if (k === 'x-forwarded-path') { if (ctx.xForwardedPath === null) ctx.xForwardedPath = v }
      break
    case 17:
      if (k === 'transfer-encoding') { ctx.teCount++; ctx.transferEncoding = v } else if (k === 'x-forwarded-proto') { if (ctx.xForwardedProto === null) ctx.xForwardedProto = v }
      break
    case 18:
      if (k === 'x-forwarded-prefix') { if (ctx.xForwardedPrefix === null) ctx.xForwardedPrefix = v }
      break
  }
  if (k === realIpHeader && ctx.realIp === null) ctx.realIp = v.trim()
}

let realIpHeader = ''
/** allow_debug_header: a Kong-Debug request field asks for the matched route's and service's ids and names. */
let allowDebug = false
/** Head size counters of the request being copied (collectHeader adds to them). */
let hHead = 0
let hMaxField = 0
/** Values longer than this may pass the field limit in UTF-8 bytes: measured exactly (rare). */
let utf8From = 2730

function onRequest (res: HttpResponse, req: HttpRequest, l: ListenInfo, ws: WsUpgrade | null = null): void {
  const snap = current!
  const ctx = new RequestContext(res, snap, l.port, onClientAborted)
  ctx.ws = ws
  res.onAborted(ctx.onAborted)
  requestStarted()
  // TLS: the App counted the request (tls.ts); lifecycle.ts uncounts it when it ends.
  ctx.tlsSlot = l.slot
  try {
    const m = req.getCaseSensitiveMethod()
    const known = METHODS[m]
    ctx.method = known ?? m
    ctx.path = req.getUrl()
    const q = req.getQuery() as string | undefined
    ctx.query = q === undefined ? null : q
    // Request line: METHOD SP target SP HTTP/1.1 CRLF.
    const line = m.length + ctx.path.length + (q === undefined ? 0 : q.length + 1) + 12
    hHead = line + 2
    hMaxField = 0
    hCtx = ctx
    req.forEach(collectHeader)
    hCtx = null
    if (l.tls) {
      ctx.tls = true
      ctx.sni = requestSni(l, ctx.host)
    }
    const addr = new Uint8Array(res.getRemoteAddress())
    ctx.remoteAddr = formatAddress(addr)
    ctx.trusted = isTrusted(settings.trusted, addr)
    const verdict = edgeCheck(ctx, line, hMaxField, hHead, known !== undefined || validMethod(m))
    if (verdict !== OK) {
      edgeReject(ctx, verdict)
      return
    }
    if (ctx.method === 'TRACE') {
      // nginx refuses TRACE once the head is read (ngx_http_process_request_header), before any
      // Kong phase: 405 through Kong's error page (spec 13-error_handlers_spec.lua).
      sendErrorPage(ctx, 405, ERRORS.GW_ERR_METHOD_NOT_ALLOWED.message)
      return
    }
    handleRequest(ctx)
    // A body still on its way is watched for client_body_timeout (and uWS's own body deadline).
    if (!ctx.bodyReceived && !ctx.resDone && (ctx.bodyMode === BODY_COLLECTING || ctx.bodyMode === BODY_STREAMING)) trackBody(ctx)
  } catch (err) {
    hCtx = null
    internalFailure(ctx, err)
  }
}

/** This build's App has `close()` (all sockets, listen and client) though its typings omit it. */
type ClosableApp = TemplatedApp & { close (): void }

/** A bound listener: a plain App and its socket, or a TLS endpoint (which owns its Apps). */
export interface Bound {
  listener: Listener
  port: number
  socket: us_listen_socket | null
  app: ClosableApp | null
  tls: TlsEndpoint | null
}

function closeBound (bound: readonly Bound[]): void {
  const uWS = loadUws()
  for (const b of bound) {
    if (b.tls !== null) {
      b.tls.closeAll()
      const i = tlsEndpoints.indexOf(b.tls)
      if (i >= 0) tlsEndpoints.splice(i, 1)
      continue
    }
    if (b.socket !== null) uWS.us_listen_socket_close(b.socket)
    b.app?.close()
  }
}

/** Listens on every proxy listener (TLS ones with the plan from setTlsSnapshot); throws if one cannot be bound. */
export function listenAll (listeners: readonly Listener[], prefix: string): Bound[] {
  const e = initEdge()
  // uWS's own head limit, where the build reads it (20.57+): the whole head nginx allows. It reaches
  // native code only through the real environment, set by the primary before the workers start
  // (uws-load.ts prepareUwsEnv); here it is recorded and a mismatch is reported.
  const uWS = loadUws({ maxHeadersSize: e.headMax })
  utf8From = Math.floor(e.fieldMax / 3)
  const info = uwsInfo()
  if (info.headerLimit.note !== null) log.info(`request head limit: ${info.headerLimit.note}`)
  setUwsBuild(info.build)
  realIpHeader = settings.realIpHeader
  allowDebug = (workerData as { config?: Partial<Config> } | null)?.config?.allowDebugHeader === true
  const bound: Bound[] = []
  for (const l of listeners) {
    if (l.ssl) {
      try {
        const ep = new TlsEndpoint({ listener: l, prefix, handler: onRequest, setup: connectionFilter })
        const port = ep.listen(tlsPlan ?? buildTlsPlan({ version: 0, hash: '', services: [], routes: [], entities: {} }, materials))
        tlsEndpoints.push(ep)
        bound.push({ listener: l, port, socket: null, app: null, tls: ep })
      } catch (err) {
        closeBound(bound)
        throw err
      }
      continue
    }
    const app = uWS.App() as ClosableApp
    const info: ListenInfo = { port: l.port, tls: false, sni: null, sniKind: 0, sniPart: '', slot: null }
    app.any('/*', (res, req) => { onRequest(res, req, info) })
    // WebSocket handshakes (GET with a Sec-WebSocket-Key) come here; others go on to any('/*').
    app.ws('/*', wsBehavior((res, req, up) => { onRequest(res, req, info, up) }))
    connectionFilter(app)
    const got: { socket: us_listen_socket | false } = { socket: false }
    // The listen callback runs synchronously.
    app.listen(l.host, l.port, (s) => { got.socket = s })
    const socket = got.socket
    if (socket === false) {
      closeBound(bound)
      app.close()
      throw new Error(`could not listen on ${l.host}:${l.port}`)
    }
    info.port = uWS.us_socket_local_port(socket as unknown as us_socket)
    bound.push({ listener: l, port: info.port, socket, app, tls: null })
  }
  return bound
}

/** Builds with connection events (20.57) bound connections per worker; 20.30 has none. */
function connectionFilter (app: TemplatedApp): void {
  const filter = (app as unknown as { filter?: (cb: (res: HttpResponse, count: number) => void) => void }).filter
  if (typeof filter === 'function') filter.call(app, onConnection)
}

/**
 * Stops accepting: connections already open (keep-alive ones too) keep being served; WebSocket
 * connections are closed with 1001 (going away).
 */
export function closeListeners (bound: readonly Bound[]): void {
  closeAllWebSockets()
  const uWS = loadUws()
  for (const b of bound) {
    if (b.tls !== null) b.tls.closeListen()
    else if (b.socket !== null) { uWS.us_listen_socket_close(b.socket); b.socket = null }
  }
}

/**
 * Closes every client connection of every App (requests still in flight are aborted). Required
 * before the thread exits: an open uWS socket left in the loop makes Node abort the process
 * ("uv_loop_close() while having open handles").
 */
export function closeConnections (bound: readonly Bound[]): void {
  for (const b of bound) {
    if (b.tls !== null) b.tls.closeAll()
    else b.app?.close()
  }
  for (const ep of bound) {
    const i = ep.tls === null ? -1 : tlsEndpoints.indexOf(ep.tls)
    if (i >= 0) tlsEndpoints.splice(i, 1)
  }
}
