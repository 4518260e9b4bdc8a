/**
 * The edge: what Sluice checks on every request before routing, where nginx would refuse it, and
 * how a refused request is answered. server.ts copies the uWS request and measures its head, then
 * calls `edgeCheck()`; a non-zero verdict goes to `edgeReject()` instead of the pipeline.
 *
 * Checks, in nginx's order (ngx_http_request.c; the status and Kong message of each are in VERDICTS):
 *   request line over large_client_header_buffers' size        414 URI too long
 *   a field line over that size, or the head over N x size     400 Request header or cookie too large
 *   method not [A-Z_-]+                                        400
 *   Host missing, repeated, or invalid (ngx_http_validate_host of Kong's nginx 1.27)
 *                                                              400
 *   Content-Length not 1*DIGIT, differing values, over 2^53-1  400   (equal repeats are one value)
 *   Transfer-Encoding repeated, or with Content-Length         400
 *   Transfer-Encoding other than `chunked`                     501
 *   more requests in progress than nginx_events_worker_connections
 *                                                              503   (where the build reports
 *     connections, App.filter on 20.57, a connection past the bound is also closed as it opens)
 *   Content-Length over client_max_body_size                   413   (before any body byte is read)
 * HTTP/1.0 (and so HTTP/1.0 with Transfer-Encoding) and absolute-form targets never reach JavaScript
 * on the pinned uWS builds (20.30 holds them, 20.57 answers 505); `splitAbsoluteForm` is here for a
 * build that passes them: the target's authority replaces the Host field.
 *
 * Answers (why deferred: reference/uws-edge.md): a refused request is answered one event-loop turn
 * later. If the client pipelined bytes behind it, uWS parses them meanwhile, sees a request while
 * this one is pending, aborts it and closes the connection: nothing behind a refused request is
 * ever read as a request. Otherwise:
 *   - a framing or syntax refusal (400, 414, 501) is answered with `Connection: close` and closed;
 *   - 413 and 503 (the framing is sound): closed the same way when the declared body has already
 *     arrived; while it is still arriving, answered with `Connection: close` but not closed (uWS
 *     keeps reading and dropping the declared body, the client closes after reading the answer, or
 *     uWS's idle timeout does), so the client reads the status instead of a reset caused by
 *     closing a socket with unread bytes in it (nginx's lingering close, in effect).
 *
 * What the edge cannot stop (test/integration/edge-smuggling.test.ts): uWS frames chunked bodies
 * leniently (a size ends at the first byte <= 0x20, so ` 5` is a last chunk; the two bytes after
 * chunk data and after the last chunk are skipped unread, so a trailer section becomes the next
 * request), and ends the header section at an empty field name (`: x`), dropping the fields after it
 * (Content-Length included). None of it reaches JavaScript. Behind a proxied request the bytes that
 * follow make uWS close the connection (the request is pending); so do they behind a gateway answer
 * (404, 405, a plugin's exit) to a chunked request, which responses.ts holdLocalAnswer sends one turn
 * later and closes. (Behind an answer written in the same turn uWS would dispatch them.)
 *
 * Slow bodies (`trackBody`): a sweep every SWEEP_MS over the requests whose body is being read.
 *   - client_body_timeout: no body byte for that long -> 408 and close (nginx), the upstream request
 *     is aborted; after response bytes went out, the connection is closed instead.
 *   - uWS itself closes, without a response, a connection whose request body brings less than
 *     16 KiB/s over its 10 s timer (HttpContext.h HTTP_RECEIVE_THROUGHPUT_BYTES; 8-12 s with
 *     uSockets' 4 s timer ticks). On the build where that was measured (20.30, UWS_BODY_RULES)
 *     Sluice answers 408 first, 7 s after uWS last re-armed that timer, so the client gets a status
 *     instead of silence. Other builds: client_body_timeout only (20.57's timer measured ~30 s).
 *   Requests paused by Sluice itself (upstream backpressure) are not timed: uWS disarms its timer
 *   during pause() too.
 */
import { workerData } from 'node:worker_threads'
import { ERRORS } from '../common/errors.ts'
import { log } from '../common/log.ts'
import { SERVER_TOKEN } from '../common/meta.ts'
import type { Config } from '../config/load.ts'
import { BODY_COLLECTING, BODY_DISCARD, BODY_STREAMING, ST_DONE, type RequestContext } from './context.ts'
import { bodyParts, CONTENT_TYPES, errorPageType, responseType, statusLine } from './error-bodies.ts'
import { abandonAttempt, maybeFinish, stats } from './lifecycle.ts'
import { needsFilteredPath } from './gateway-response.ts'
import { closeClient, sendErrorPage, sendKongError } from './responses.ts'
import { settings } from './settings.ts'

export interface EdgeSettings {
  /** Longest request line (method SP target SP HTTP/1.1 CRLF): large_client_header_buffers size. */
  readonly lineMax: number
  /** Longest field line (name: value CRLF): the same size. */
  readonly fieldMax: number
  /** Longest head (request line, fields, final CRLF): N x size. */
  readonly headMax: number
  /** lua_max_req_headers. */
  readonly maxReqHeaders: number
  /** Requests in progress per worker; past it, 503. */
  readonly maxInflight: number
  /** client_body_timeout, ms. */
  readonly bodyTimeoutMs: number
  /** client_max_body_size; 0: unlimited. */
  readonly maxBody: number
}

const DEFAULTS: EdgeSettings = {
  lineMax: 8192, fieldMax: 8192, headMax: 4 * 8192, maxReqHeaders: 100, maxInflight: 16384, bodyTimeoutMs: 60000, maxBody: 0,
}

export function buildEdgeSettings (c: Partial<Config> | undefined | null): EdgeSettings {
  if (c == null) return DEFAULTS
  const size = c.largeHeaderBufferSize ?? 8192
  return {
    lineMax: size,
    fieldMax: size,
    headMax: (c.largeHeaderBuffers ?? 4) * size,
    maxReqHeaders: c.luaMaxReqHeaders ?? 100,
    maxInflight: c.workerConnections ?? 16384,
    bodyTimeoutMs: c.clientBodyTimeoutMs ?? 60000,
    maxBody: c.clientMaxBodySize ?? 0,
  }
}

/** The worker's edge settings: from the thread's workerData config (set once at listen time). */
export let edge: EdgeSettings = DEFAULTS

export function initEdge (config?: Partial<Config> | null): EdgeSettings {
  edge = buildEdgeSettings(config ?? (workerData as { config?: Config } | null)?.config)
  return edge
}

/**
 * The request's header list as Kong's router and ngx.req.get_headers() see it: only the first
 * lua_max_req_headers fields (the rest still go upstream).
 */
export function cappedHeaders (ctx: RequestContext): string[] {
  const maxFields = 2 * edge.maxReqHeaders
  return ctx.headers.length > maxFields ? ctx.headers.slice(0, maxFields) : ctx.headers
}

// ---------------------------------------------------------------------------------------------
// Verdicts

export const OK = 0
export const V_URI_TOO_LONG = 1
export const V_HEADER_TOO_LARGE = 2
export const V_BAD_METHOD = 3
export const V_BAD_HOST = 4
export const V_BAD_CONTENT_LENGTH = 5
export const V_BAD_TRANSFER_ENCODING = 6
export const V_UNKNOWN_TRANSFER_ENCODING = 7
export const V_OVERLOADED = 8
export const V_BODY_TOO_LARGE = 9
export const V_BAD_TARGET = 10
/** request-size-limiting's limit passed while the body streams: kong.response.error, not an error page. */
export const V_BODY_LIMIT_EXCEEDED = 11

interface Verdict {
  status: number
  message: string
  /** framing is sound: may keep reading the body */
  sound: boolean
  /** a plugin's kong.response.error (body type from Accept, header filters run) instead of an nginx error page */
  kong?: boolean
}

export const VERDICTS: readonly Verdict[] = [
  { status: 200, message: '', sound: true },
  { status: 414, message: ERRORS.GW_ERR_URI_TOO_LONG.message, sound: false },
  { status: 400, message: ERRORS.GW_ERR_HEADER_TOO_LARGE.message, sound: false },
  { status: 400, message: ERRORS.GW_ERR_BAD_REQUEST.message, sound: false },
  { status: 400, message: ERRORS.GW_ERR_BAD_REQUEST.message, sound: false },
  { status: 400, message: ERRORS.GW_ERR_BAD_REQUEST.message, sound: false },
  { status: 400, message: ERRORS.GW_ERR_BAD_REQUEST.message, sound: false },
  { status: 501, message: ERRORS.GW_ERR_NOT_IMPLEMENTED.message, sound: false },
  { status: 503, message: ERRORS.GW_ERR_UPSTREAM_UNAVAILABLE.message, sound: true },
  { status: 413, message: ERRORS.GW_ERR_BODY_TOO_LARGE.message, sound: true },
  { status: 400, message: ERRORS.GW_ERR_BAD_REQUEST.message, sound: false },
  { status: 413, message: 'Request size limit exceeded', sound: true, kong: true },
]

/** Methods the uWS router passes; anything else is checked against nginx's method syntax. */
const KNOWN_METHODS: Record<string, true> = {
  GET: true, HEAD: true, POST: true, PUT: true, DELETE: true, PATCH: true, OPTIONS: true, TRACE: true, CONNECT: true,
}

/** nginx ngx_http_parse_request_line: a method is one or more of A-Z, `_` and `-`. */
export function validMethod (m: string): boolean {
  if (KNOWN_METHODS[m] === true) return true
  if (m.length === 0) return false
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i)
    if ((c < 65 || c > 90) && c !== 95 && c !== 45) return false
  }
  return true
}

let lastHost = ''
let lastHostOk = false

/**
 * ngx_http_validate_host as in Kong's nginx (1.27): no `..`, no `/` or `\`, no byte <= 0x20 or
 * 0x7f, and something left once the port and one trailing dot are taken away. The last answer is
 * kept: most requests repeat the previous Host.
 */
export function validHost (host: string): boolean {
  if (host === lastHost) return lastHostOk
  let ok = true
  let dot = -2
  let hostLen = host.length
  let state = 0 // 0 usual, 1 IP literal, 2 rest (port)
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i)
    if (c === 46) { // .
      if (dot === i - 1) { ok = false; break }
      dot = i
    } else if (c === 58) { // :
      if (state === 0) { hostLen = i; state = 2 }
    } else if (c === 91) { // [
      if (i === 0) state = 1
    } else if (c === 93) { // ]
      if (state === 1) { hostLen = i + 1; state = 2 }
    } else if (c === 47 || c === 92 || c <= 0x20 || c === 0x7f) {
      ok = false
      break
    }
  }
  if (ok) {
    if (dot === hostLen - 1) hostLen--
    if (hostLen <= 0) ok = false
  }
  lastHost = host
  lastHostOk = ok
  return ok
}

const MAX_SAFE = '9007199254740991'

/**
 * A Content-Length value as nginx's ngx_atoof reads it (1*DIGIT), bounded by 2^53 - 1 so that it is
 * exact in a JS number. Returns the canonical decimal (leading zeros dropped) or null.
 */
export function canonicalLength (v: string): string | null {
  const n = v.length
  if (n === 0) return null
  let first = -1
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i)
    if (c < 48 || c > 57) return null
    if (first < 0 && c !== 48) first = i
  }
  if (first < 0) return '0'
  const digits = first === 0 ? v : v.slice(first)
  if (digits.length > 16 || (digits.length === 16 && digits > MAX_SAFE)) return null
  return digits
}

/**
 * An absolute-form target (`http://authority/path`) as RFC 9112 3.2.2 reads it: the authority
 * replaces the Host field. Null when it is not one (asterisk-form and anything else).
 */
export function splitAbsoluteForm (target: string): { host: string; path: string } | null {
  const m = /^https?:\/\/([^/?#@\s]+)(\/[^?#\s]*)?$/i.exec(target)
  if (m === null) return null
  return { host: m[1]!, path: m[2] ?? '/' }
}

function isChunked (te: string): boolean {
  return te.length === 7 && te.toLowerCase() === 'chunked'
}

/**
 * The verdict for a request copied by server.ts. `line`: request-line bytes (CRLF included);
 * `maxField`: longest field line; `head`: the whole head. May normalise ctx.contentLength and,
 * for an absolute-form target, ctx.host / ctx.path.
 */
export function edgeCheck (ctx: RequestContext, line: number, maxField: number, head: number, methodOk: boolean): number {
  const e = edge
  if (line > e.lineMax) return V_URI_TOO_LONG
  if (maxField > e.fieldMax || head > e.headMax) return V_HEADER_TOO_LARGE
  if (!methodOk) return V_BAD_METHOD
  if (ctx.hostCount !== 1) return V_BAD_HOST
  if (ctx.path.charCodeAt(0) !== 47) {
    const abs = splitAbsoluteForm(ctx.path)
    if (abs === null) return V_BAD_TARGET
    ctx.host = abs.host
    ctx.path = abs.path
  }
  if (!validHost(ctx.host)) return V_BAD_HOST
  if (ctx.teCount > 1) return V_BAD_TRANSFER_ENCODING
  const cl = ctx.contentLength
  if (cl !== null) {
    // server.ts set clBad for a first value that is not 1*DIGIT and for a differing repeat.
    if (ctx.clBad) return V_BAD_CONTENT_LENGTH
    if (cl.length > 15 || (cl.length > 1 && cl.charCodeAt(0) === 48)) {
      const c = canonicalLength(cl)
      if (c === null) return V_BAD_CONTENT_LENGTH
      ctx.contentLength = c
    }
  }
  const te = ctx.transferEncoding
  if (te !== null) {
    if (!isChunked(te)) return V_UNKNOWN_TRANSFER_ENCODING
    if (cl !== null) return V_BAD_TRANSFER_ENCODING
  }
  if (stats.inflight > e.maxInflight) return V_OVERLOADED
  if (e.maxBody > 0 && ctx.contentLength !== null && Number(ctx.contentLength) > e.maxBody) return V_BODY_TOO_LARGE
  return OK
}

// ---------------------------------------------------------------------------------------------
// Refusals

const CLOSE = 0
const SOFT_CLOSE = 1

const queue: RequestContext[] = []
const queueVerdict: number[] = []
/** Set by the body watcher of a queued request once its last body byte has arrived. */
const bodyDone = new WeakSet<RequestContext>()
let scheduled = false

/** Watches the rest of the body only for its end (uWS drops the bytes); replaces any earlier onData. */
function discardBody (ctx: RequestContext): void {
  ctx.res.onData((_ab, last) => { if (last) bodyDone.add(ctx) })
}

/** Answers `verdict` on the next turn (see the module comment). Call instead of handleRequest. */
export function edgeReject (ctx: RequestContext, verdict: number): void {
  const v = VERDICTS[verdict]!
  if (v.sound && (ctx.transferEncoding !== null || (ctx.contentLength !== null && ctx.contentLength !== '0'))) discardBody(ctx)
  else bodyDone.add(ctx)
  enqueue(ctx, verdict)
  if (verdict === V_OVERLOADED && log.enabled('warn')) overloadWarning()
}

function enqueue (ctx: RequestContext, verdict: number): void {
  queue.push(ctx)
  queueVerdict.push(verdict)
  if (!scheduled) {
    scheduled = true
    setImmediate(flush)
  }
}

let lastOverloadLog = 0

function overloadWarning (): void {
  const now = Date.now()
  if (now - lastOverloadLog < 10000) return
  lastOverloadLog = now
  log.warn(`nginx_events_worker_connections (${edge.maxInflight}) reached: ${stats.inflight} requests in progress, ${connections.open} connections; refusing more`)
}

function flush (): void {
  scheduled = false
  for (let i = 0; i < queue.length; i++) {
    const ctx = queue[i]!
    const v = VERDICTS[queueVerdict[i]!]!
    try {
      if (ctx.resDone) { maybeFinish(ctx); continue }
      if (v.kong === true) {
        // Plugin chains' header filters run on it (responses.ts): closed after the answer.
        if (bodyDone.has(ctx) || needsFilteredPath(ctx)) sendKongError(ctx, v.status, v.message, null, true)
        else writeEdgeError(ctx, v.status, v.message, SOFT_CLOSE, true)
      } else if (!v.sound || bodyDone.has(ctx)) sendErrorPage(ctx, v.status, v.message, true, false)
      else writeEdgeError(ctx, v.status, v.message, SOFT_CLOSE)
    } catch {
      try { closeClient(ctx) } catch { /* gone */ }
    }
  }
  queue.length = 0
  queueVerdict.length = 0
}

let wCtx: RequestContext | null = null
let wStatus = 0
let wMessage = ''
let wMode = CLOSE
let wKong = false

function writeCorked (): void {
  const ctx = wCtx!
  const res = ctx.res
  const s = settings
  const type = wKong ? responseType(ctx.accept) : errorPageType(ctx.accept, ctx.contentType, s.errorDefaultType)
  const parts = bodyParts(wMessage)[type]!
  const body = parts.pre + ctx.requestId + parts.post
  res.writeStatus(statusLine(wStatus))
  res.writeHeader('Content-Type', CONTENT_TYPES[type]!)
  if (wMode === SOFT_CLOSE) res.writeHeader('Connection', 'close')
  if (s.hdrResponseLatency) res.writeHeader('X-Kong-Response-Latency', String(Math.round(performance.now() - ctx.t0)))
  if (s.hdrServer) res.writeHeader('Server', SERVER_TOKEN)
  if (s.hdrRequestId) res.writeHeader('X-Kong-Request-Id', ctx.requestId)
  if (ctx.method === 'HEAD') {
    // uWS takes an explicit undefined length literally (a bogus Content-Length), and closes a
    // bodiless end only at length 0: closing, the HEAD answer says Content-Length: 0.
    if (wMode === CLOSE) {
      res.end('', true)
    } else {
      res.writeHeader('Content-Length', String(Buffer.byteLength(body)))
      res.endWithoutBody()
    }
  } else {
    ctx.bytesOut += Buffer.byteLength(body)
    res.end(body, wMode === CLOSE)
  }
}

/**
 * 413 for a body found too large while it streams (proxy.ts bodyTooLarge; `last`: that chunk was
 * the body's last). Answered like an edge refusal: on the next turn, closed if the body has ended
 * by then, otherwise with `Connection: close` while uWS keeps reading and dropping the rest.
 * Closing at once instead resets the connection under a client that is still sending, and the
 * client never reads the 413.
 */
export function refuseBodyTooLarge (ctx: RequestContext, last: boolean, verdict: number = V_BODY_TOO_LARGE): void {
  abandonAttempt(ctx)
  ctx.bodyMode = BODY_DISCARD
  if (ctx.headSent || ctx.resDone) { closeClient(ctx); return }
  if (last) bodyDone.add(ctx)
  else discardBody(ctx)
  enqueue(ctx, verdict)
}

/** An nginx error page (kong/error_handlers.lua) from the edge; SOFT_CLOSE: see the module comment. */
function writeEdgeError (ctx: RequestContext, status: number, message: string, mode: number, kong = false): void {
  if (ctx.resDone) return
  if (ctx.readPaused) {
    // A paused response cannot be resumed once ended, and the rest of the body must still be read.
    ctx.readPaused = false
    ctx.res.resume()
  }
  ctx.headSent = true
  ctx.resDone = true
  wCtx = ctx
  wStatus = status
  wMessage = message
  wMode = mode
  wKong = kong
  try {
    ctx.res.cork(writeCorked)
  } finally {
    wCtx = null
    maybeFinish(ctx)
  }
}

// ---------------------------------------------------------------------------------------------
// Connections (builds with App.filter: 20.57; 20.30 reports no connection events to JavaScript)

/** Open client connections of this worker (only counted where the build has App.filter). */
export const connections = { open: 0, refused: 0 }

/**
 * App.filter callback: +1 on open, -1 on close. A connection past nginx_events_worker_connections
 * is closed at once, before it can send anything (nginx stops accepting instead).
 */
export function onConnection (res: { close (): unknown }, count: number): void {
  if (count > 0) {
    connections.open++
    if (connections.open > edge.maxInflight) {
      connections.refused++
      if (log.enabled('warn')) overloadWarning()
      try { res.close() } catch { /* already gone */ }
    }
  } else {
    connections.open--
  }
}

// ---------------------------------------------------------------------------------------------
// Slow request bodies

/** How often the body watcher looks. */
const SWEEP_MS = 250
export interface UwsBodyRule {
  /** uWS re-arms its body timer each time this many bytes arrived (HTTP_RECEIVE_THROUGHPUT_BYTES x HTTP_IDLE_TIMEOUT_S). */
  windowBytes: number
  /** Answer 408 this long after uWS last armed it: before its timer fires (8-12 s on 20.30), plus at most one sweep. */
  deadlineMs: number
}

/** Builds whose body timer was measured (test/integration/edge-slow.test.ts). */
export const UWS_BODY_RULES: Record<string, UwsBodyRule> = {
  '20.30.0-unofficial.0': { windowBytes: 16 * 1024 * 10, deadlineMs: 7000 },
}

let bodyRule: UwsBodyRule | null = null

/** server.ts sets the rule of the uWS build it loaded. */
export function setUwsBuild (build: string): void {
  bodyRule = UWS_BODY_RULES[build] ?? null
}

class Track {
  bytes = 0
  lastProgress: number
  windowStart: number
  windowBytes = 0
  constructor (t0: number) {
    this.lastProgress = t0
    this.windowStart = t0
  }
}

/**
 * Requests registered this turn. Most bodies arrive with their head, in the same read, and are
 * complete by the next turn: those are dropped there, so that no context is kept alive (and
 * promoted out of the young generation) just to be watched.
 */
const fresh: RequestContext[] = []
let freshScheduled = false
const tracks = new Map<RequestContext, Track>()
let sweeper: NodeJS.Timeout | null = null

function reading (ctx: RequestContext): boolean {
  return ctx.state !== ST_DONE && !ctx.resDone && !ctx.bodyReceived &&
    (ctx.bodyMode === BODY_COLLECTING || ctx.bodyMode === BODY_STREAMING)
}

/** Called by server.ts after the pipeline ran, for a request whose body is being read. */
export function trackBody (ctx: RequestContext): void {
  fresh.push(ctx)
  if (!freshScheduled) {
    freshScheduled = true
    setImmediate(adopt)
  }
}

function adopt (): void {
  freshScheduled = false
  for (let i = 0; i < fresh.length; i++) {
    const ctx = fresh[i]!
    if (reading(ctx)) tracks.set(ctx, new Track(ctx.t0))
  }
  fresh.length = 0
  if (tracks.size > 0 && sweeper === null) {
    sweeper = setInterval(sweep, SWEEP_MS)
    sweeper.unref()
  }
}

/** Bodies being watched (tests and /status). */
export function trackedBodies (): number {
  return tracks.size + fresh.length
}

function sweep (): void {
  const now = performance.now()
  const e = edge
  const windowBytes = bodyRule === null ? Infinity : bodyRule.windowBytes
  const deadline = bodyRule === null ? Infinity : bodyRule.deadlineMs
  for (const [ctx, t] of tracks) {
    if (!reading(ctx)) { tracks.delete(ctx); continue }
    const b = ctx.bodyBytes
    if (b > t.bytes) {
      t.windowBytes += b - t.bytes
      t.bytes = b
      t.lastProgress = now
      if (t.windowBytes >= windowBytes) { t.windowBytes = 0; t.windowStart = now }
    }
    if (ctx.readPaused) {
      // Sluice paused reading (upstream backpressure): not the client's delay; uWS's timer is off too.
      t.lastProgress = now
      t.windowStart = now
      continue
    }
    if (now - t.lastProgress >= e.bodyTimeoutMs || (!ctx.headSent && now - t.windowStart >= deadline)) {
      tracks.delete(ctx)
      bodyTimedOut(ctx)
    }
  }
  if (tracks.size === 0 && sweeper !== null) {
    clearInterval(sweeper)
    sweeper = null
  }
}

function bodyTimedOut (ctx: RequestContext): void {
  try {
    ctx.bodyMode = BODY_DISCARD
    abandonAttempt(ctx)
    if (ctx.headSent) closeClient(ctx)
    else sendErrorPage(ctx, 408, ERRORS.GW_ERR_REQUEST_TIMEOUT.message, true)
  } catch {
    try { closeClient(ctx) } catch { /* gone */ }
  }
}
