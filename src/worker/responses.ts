/**
 * Gateway-generated responses: Kong's error pages, redirects, and the headers Kong adds to them
 * (kong/runloop/handler.lua header_filter.after).
 *
 * - `sendKongError`: `kong.response.error` (404 no route, 503 no service, 426 ...): body type from
 *   Accept only, JSON when absent.
 * - `sendErrorPage`: nginx `error_page` through kong/error_handlers.lua (400, 413, 502, 504 ...):
 *   Accept, else Content-Type, else `error_default_type`.
 * - A response after at least one upstream try counts as proxied (Kong sets KONG_PROXIED in the
 *   balancer phase): it carries Via and the upstream/proxy latencies instead of
 *   X-Kong-Response-Latency (spec 14-server_tokens_spec.lua "should be returned with 502 errors").
 * - `rejectDeferred`: answers a request whose framing this uWS build cannot be trusted with, one
 *   event-loop turn later and with `Connection: close`. If the client already pipelined another
 *   request behind it, uWS sees that request while the answer is pending, aborts and closes: the
 *   hidden request never reaches the proxy. Otherwise the client gets the status, then the close.
 *
 * - `holdLocalAnswer`: a request with a chunked body is never answered by the gateway in the turn
 *   it arrived. uWS frames chunked bodies leniently (a size ` 5` is a last chunk, the two bytes after
 *   the last chunk are skipped unread), so bytes left in the same read can parse as a next request;
 *   behind a request already answered uWS dispatches it (to the upstream), behind a pending one it
 *   closes. The answer goes out one turn later and closes the connection (Kong/nginx keep a
 *   connection alive after a local answer only when the unread body can be drained).
 * - A `close` token in the request's Connection list (`X-Foo, close`; ctx.closeAfter) closes the
 *   connection after the response: uWS itself reacts only to a 5-byte value.
 *
 * uWS callbacks take no arguments, so the cork callbacks read their inputs from module-level
 * registers set just before `cork()`; cork runs them synchronously.
 */
import { SERVER_TOKEN } from '../common/meta.ts'
import type { RequestContext } from './context.ts'
import { bodyParts, CONTENT_TYPES, errorPageType, responseType, statusLine } from './error-bodies.ts'
import { needsFilteredPath, sendFilteredError, sendListResponse } from './gateway-response.ts'
import { listSet, wireValue } from './header-list.ts'
import { abandonAttempt, drain, maybeFinish } from './lifecycle.ts'
import { settings } from './settings.ts'

export const VIA_TOKEN = `1.1 ${SERVER_TOKEN}`

let rCtx: RequestContext | null = null
let rStatus = 0
let rType = 0
let rBody = ''
let rExtra: readonly string[] | null = null
let rClose = false
let rProxied = false
let rLocation = ''

/** Writes the Kong headers of a gateway response (the cork is already held). */
export function writeGatewayHeaders (ctx: RequestContext, proxied: boolean): void {
  const res = ctx.res
  const s = settings
  if (proxied) {
    if (s.hdrUpstreamLatency) res.writeHeader('X-Kong-Upstream-Latency', String(Math.max(0, ctx.upstreamLatency)))
    if (s.hdrProxyLatency) res.writeHeader('X-Kong-Proxy-Latency', String(Math.max(0, ctx.proxyLatency)))
    if (s.hdrVia) res.writeHeader('Via', VIA_TOKEN)
  } else if (s.hdrResponseLatency) {
    res.writeHeader('X-Kong-Response-Latency', String(Math.round(performance.now() - ctx.t0)))
  }
  if (s.hdrServer) res.writeHeader('Server', SERVER_TOKEN)
  if (s.hdrRequestId) res.writeHeader('X-Kong-Request-Id', ctx.requestId)
  if (ctx.kongDebug) writeDebugHeaders(ctx)
}

/** allow_debug_header + a Kong-Debug request field (server.ts sets ctx.kongDebug only when allowed): the matched route's and service's ids and names (cached per route). */
export function writeDebugHeaders (ctx: RequestContext): void {
  const route = ctx.route
  if (route === null) return
  const list = debugHeaders(route)
  for (let i = 0; i < list.length; i += 2) ctx.res.writeHeader(list[i]!, list[i + 1]!)
}

const debugCache = new WeakMap<object, readonly string[]>()

/** Kong-Route-Id / -Name, Kong-Service-Id / -Name (names only when set); built once per compiled route. */
export function debugHeaders (route: NonNullable<RequestContext['route']>): readonly string[] {
  let list = debugCache.get(route)
  if (list !== undefined) return list
  const out: string[] = []
  if (route.id) out.push('Kong-Route-Id', route.id)
  if (route.name !== null) out.push('Kong-Route-Name', route.name)
  const svc = route.service
  if (svc !== null) {
    if (svc.id) out.push('Kong-Service-Id', svc.id)
    if (svc.name !== null) out.push('Kong-Service-Name', svc.name)
  }
  list = out
  debugCache.set(route, list)
  return list
}

function writeErrorCorked (): void {
  const ctx = rCtx!
  const res = ctx.res
  res.writeStatus(statusLine(rStatus))
  res.writeHeader('Content-Type', CONTENT_TYPES[rType]!)
  const extra = rExtra
  if (extra !== null) for (let i = 0; i < extra.length; i += 2) res.writeHeader(extra[i]!, wireValue(extra[i + 1]!))
  writeGatewayHeaders(ctx, rProxied)
  // Draining: uWS writes Connection: close itself when it closes (rClose).
  if (drain.on && !rClose) res.writeHeader('Connection', 'close')
  if (ctx.method === 'HEAD') {
    if (rClose) {
      res.end('', true)
    } else {
      res.writeHeader('Content-Length', String(Buffer.byteLength(rBody)))
      res.endWithoutBody()
    }
  } else {
    ctx.bytesOut += Buffer.byteLength(rBody)
    res.end(rBody, rClose)
  }
}

function send (ctx: RequestContext, status: number, type: number, message: string, extra: readonly string[] | null, closeIn: boolean, proxied: boolean): void {
  if (ctx.resDone) return
  if (ctx.transferEncoding !== null && ctx.answerHold !== 2) {
    holdLocalAnswer(ctx, () => { send(ctx, status, type, message, extra, true, proxied) })
    return
  }
  const close = closeIn || ctx.closeAfter
  const parts = bodyParts(message)[type]!
  if (needsFilteredPath(ctx)) {
    sendFilteredError(ctx, status, CONTENT_TYPES[type]!, parts.pre + ctx.requestId + parts.post, extra, close, proxied)
    return
  }
  ctx.resStatus = status
  rCtx = ctx
  rStatus = status
  rType = type
  rBody = parts.pre + ctx.requestId + parts.post
  rExtra = extra
  rClose = close
  rProxied = proxied
  releaseReading(ctx)
  ctx.headSent = true
  ctx.resDone = true
  try {
    ctx.res.cork(writeErrorCorked)
  } finally {
    rCtx = null
    maybeFinish(ctx)
  }
}

/** A paused uWS response cannot be resumed once it has ended: resume reading before the end. */
function releaseReading (ctx: RequestContext): void {
  if (ctx.readPaused) {
    ctx.readPaused = false
    ctx.res.resume()
  }
}

/** `kong.response.error(status, message, headers)`. */
export function sendKongError (ctx: RequestContext, status: number, message: string, extra: readonly string[] | null = null, close = false): void {
  send(ctx, status, responseType(ctx.accept), message, extra, close, false)
}

/**
 * nginx error_page rendered by kong/error_handlers.lua. `proxied`: an upstream try happened
 * (502/504 after proxying carry Via and the upstream latencies, as in Kong).
 */
export function sendErrorPage (ctx: RequestContext, status: number, message: string, close = false, proxied = ctx.tries > 0): void {
  send(ctx, status, errorPageType(ctx.accept, ctx.contentType, settings.errorDefaultType), message, null, close, proxied)
}

function writeRedirectCorked (): void {
  const ctx = rCtx!
  const res = ctx.res
  res.writeStatus(statusLine(rStatus))
  res.writeHeader('Location', rLocation)
  writeGatewayHeaders(ctx, false)
  if (drain.on && !ctx.closeAfter) res.writeHeader('Connection', 'close')
  res.end('', ctx.closeAfter)
}

/** `kong.response.exit(status)` with a Location header: empty body, Content-Length 0. */
export function sendRedirect (ctx: RequestContext, status: number, location: string): void {
  if (ctx.resDone) return
  if (ctx.transferEncoding !== null && ctx.answerHold !== 2) {
    holdLocalAnswer(ctx, () => { sendRedirect(ctx, status, location) })
    return
  }
  if (needsFilteredPath(ctx)) {
    listSet(ctx.respHeaders ??= [], 'location', location)
    sendListResponse(ctx, status, '', false, false)
    return
  }
  ctx.resStatus = status
  rCtx = ctx
  rStatus = status
  rLocation = location
  releaseReading(ctx)
  ctx.headSent = true
  ctx.resDone = true
  try {
    ctx.res.cork(writeRedirectCorked)
  } finally {
    rCtx = null
    maybeFinish(ctx)
  }
}

/** Closes the client connection without a response (a truncated body must not look complete). */
export function closeClient (ctx: RequestContext): void {
  abandonAttempt(ctx)
  if (ctx.resDone) { maybeFinish(ctx); return }
  ctx.resDone = true
  ctx.headSent = true
  ctx.res.close()
  maybeFinish(ctx)
}

const deferred: RequestContext[] = []
const deferredStatus: number[] = []
const deferredMessage: string[] = []
let deferredScheduled = false

function flushDeferred (): void {
  deferredScheduled = false
  for (let i = 0; i < deferred.length; i++) {
    const ctx = deferred[i]!
    try {
      sendErrorPage(ctx, deferredStatus[i]!, deferredMessage[i]!, true)
    } catch {
      closeClient(ctx)
    }
  }
  deferred.length = 0
  deferredStatus.length = 0
  deferredMessage.length = 0
}

/** Answers `status` with Connection: close on the next turn (see the module comment). */
export function rejectDeferred (ctx: RequestContext, status: number, message: string): void {
  deferred.push(ctx)
  deferredStatus.push(status)
  deferredMessage.push(message)
  if (!deferredScheduled) {
    deferredScheduled = true
    setImmediate(flushDeferred)
  }
}

const held: RequestContext[] = []
const heldAnswer: Array<() => void> = []
let heldScheduled = false

function flushHeld (): void {
  heldScheduled = false
  for (let i = 0; i < held.length; i++) {
    const ctx = held[i]!
    ctx.answerHold = 2
    ctx.closeAfter = true
    if (ctx.resDone) { maybeFinish(ctx); continue }
    try {
      heldAnswer[i]!()
    } catch {
      try { closeClient(ctx) } catch { /* gone */ }
    }
  }
  held.length = 0
  heldAnswer.length = 0
}

/**
 * Holds a gateway answer to a request with a chunked body for one turn (module comment); the
 * first answer wins, later ones while it is held are dropped. `answer` runs with answerHold 2
 * and closeAfter set. If uWS finds a request behind it meanwhile, it aborts this one and closes.
 */
export function holdLocalAnswer (ctx: RequestContext, answer: () => void): void {
  if (ctx.answerHold !== 0) return
  ctx.answerHold = 1
  held.push(ctx)
  heldAnswer.push(answer)
  if (!heldScheduled) {
    heldScheduled = true
    setImmediate(flushHeld)
  }
}
