/**
 * Gateway-produced responses that plugins can see or shape: `kong.response.exit`,
 * `kong.response.error` from a plugin, and Kong's own error pages when the request has header or
 * body filters (or headers staged in access with kong.response.set_header).
 *
 * Order, as in Kong: the response headers staged during access, then the exit's own headers
 * (which replace staged ones of the same name); the header filters run on that list; the body
 * goes through the body filters as one last chunk; then status, headers and Kong's gateway
 * headers (Server, X-Kong-Response-Latency, X-Kong-Request-Id) go out in one cork.
 *
 * 204, 304 and 1xx carry no body and no Content-Length; HEAD gets the Content-Length of the body
 * it would have had.
 */
import type { FlatHeaders } from '../plugins/types.ts'
import { BODY_DISCARD, type RequestContext } from './context.ts'
import { bodyParts, CONTENT_TYPES, responseType, statusLine } from './error-bodies.ts'
import { listGet, listSet, lowerName, wireValue } from './header-list.ts'
import { drain, maybeFinish } from './lifecycle.ts'
import { hasBodyFilter, hasHeaderFilter, runBodyFilter, runHeaderFilter } from './plugin-runner.ts'
import { holdLocalAnswer, writeGatewayHeaders } from './responses.ts'
import { settings } from './settings.ts'

export const CONTENT_TYPE_JSON = 'application/json; charset=utf-8'

/** kong/pdk/response.lua HTTP_ERROR_MESSAGES. */
const ERROR_MESSAGES: Record<number, string> = {
  400: 'Bad request', 401: 'Unauthorized', 402: 'Payment required', 403: 'Forbidden', 404: 'Not found',
  405: 'Method not allowed', 406: 'Not acceptable', 407: 'Proxy authentication required', 408: 'Request timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length required', 412: 'Precondition failed', 413: 'Payload too large',
  414: 'URI too long', 415: 'Unsupported media type', 416: 'Range not satisfiable', 417: 'Expectation failed',
  418: "I'm a teapot", 421: 'Misdirected request', 422: 'Unprocessable entity', 423: 'Locked',
  424: 'Failed dependency', 425: 'Too early', 426: 'Upgrade required', 428: 'Precondition required',
  429: 'Too many requests', 431: 'Request header fields too large', 451: 'Unavailable for legal reasons',
  494: 'Request header or cookie too large', 500: 'An unexpected error occurred', 501: 'Not implemented',
  502: 'An invalid response was received from the upstream server', 503: 'The upstream server is currently unavailable',
  504: 'The upstream server is timing out', 505: 'HTTP version not supported', 506: 'Variant also negotiates',
  507: 'Insufficient storage', 508: 'Loop detected', 510: 'Not extended', 511: 'Network authentication required',
}

export function errorMessage (status: number): string {
  return ERROR_MESSAGES[status] ?? `The upstream server responded with ${status}`
}

const EMPTY = Buffer.alloc(0)

let wCtx: RequestContext | null = null
let wStatus = 0
let wBody: string | Buffer = ''
let wClose = false
let wProxied = false

function writeCorked (): void {
  const ctx = wCtx!
  const res = ctx.res
  res.writeStatus(statusLine(wStatus))
  const list = ctx.respHeaders
  if (list !== null) {
    const hdrRequestId = settings.hdrRequestId
    for (let i = 0; i < list.length; i += 2) {
      const k = list[i]!
      if (k === 'content-length' || k === 'transfer-encoding' || k === 'connection') continue
      // Kong assigns its request id after the header filters (handler.lua header_filter.after): a
      // plugin's value of that name is replaced, not sent beside it.
      if (hdrRequestId && k === 'x-kong-request-id') continue
      res.writeHeader(k, list[i + 1]!)
    }
  }
  writeGatewayHeaders(ctx, wProxied)
  // Draining: uWS writes Connection: close itself when it closes (wClose).
  if (drain.on && !wClose) res.writeHeader('Connection', 'close')
  const s = wStatus
  if (s === 204 || s === 304 || s < 200) {
    // uWS takes an explicit undefined length literally: call it without arguments.
    if (wClose) res.end(undefined, true)
    else res.endWithoutBody()
  } else if (ctx.method === 'HEAD') {
    if (wClose) {
      res.end('', true)
    } else {
      res.writeHeader('Content-Length', String(typeof wBody === 'string' ? Buffer.byteLength(wBody) : wBody.length))
      res.endWithoutBody()
    }
  } else {
    ctx.bytesOut += typeof wBody === 'string' ? Buffer.byteLength(wBody) : wBody.length
    res.end(wBody, wClose)
  }
}

/**
 * Sends a gateway response whose headers are in `ctx.respHeaders` (already merged), running the
 * header and body filters first. The one writer for plugin exits and filtered error pages.
 */
export function sendListResponse (ctx: RequestContext, statusIn: number, body: string | Buffer, closeIn: boolean, proxied: boolean): void {
  let status = statusIn
  if (ctx.resDone) return
  if (ctx.transferEncoding !== null && ctx.answerHold !== 2) {
    // A chunked request is answered one turn later and closed (responses.ts holdLocalAnswer).
    holdLocalAnswer(ctx, () => { sendListResponse(ctx, statusIn, body, true, proxied) })
    return
  }
  const close = closeIn || ctx.closeAfter
  ctx.resStatus = status
  ctx.bodyMode = BODY_DISCARD
  let out = body
  if (hasHeaderFilter(ctx)) {
    runHeaderFilter(ctx)
    if (ctx.replacedBody !== null) {
      status = ctx.resStatus
      out = ctx.replacedBody
    }
  }
  if (hasBodyFilter(ctx)) out = runBodyFilter(ctx, typeof body === 'string' ? Buffer.from(body) : body, true)
  if (ctx.readPaused) {
    ctx.readPaused = false
    ctx.res.resume()
  }
  ctx.headSent = true
  ctx.resDone = true
  wCtx = ctx
  wStatus = status
  wBody = out
  wClose = close
  wProxied = proxied
  try {
    ctx.res.cork(writeCorked)
  } finally {
    wCtx = null
    wBody = ''
    maybeFinish(ctx)
  }
}

/** Merges `headers` (flat, any case) into the staged response headers, replacing same names. */
function mergeHeaders (ctx: RequestContext, headers: FlatHeaders | readonly string[] | null): string[] {
  const list = ctx.respHeaders ?? (ctx.respHeaders = [])
  if (headers !== null) for (let i = 0; i < headers.length; i += 2) listSet(list, lowerName(headers[i]!), wireValue(headers[i + 1]!))
  return list
}

/**
 * An exit made by a header filter: replaces status, headers (merged into the live list) and body
 * of the response being sent; runHeaderFilter then stops, and the writer uses them.
 */
function exitInHeaderFilter (ctx: RequestContext, status: number, body: string | Buffer, contentType: string | null, headers: FlatHeaders | null): void {
  ctx.exited = true
  if (ctx.replacedBody !== null) return
  ctx.resStatus = status
  ctx.resMessage = undefined
  const list = mergeHeaders(ctx, headers)
  if (contentType !== null && listGet(list, 'content-type') === undefined) list.push('content-type', contentType)
  const b = typeof body === 'string' ? Buffer.from(body) : body
  listSet(list, 'content-length', String(b.length))
  ctx.replacedBody = b
}

/** `kong.response.exit(status, body, headers)`. */
export function sendExit (ctx: RequestContext, status: number, body: string | Buffer | null, json: boolean, headers: FlatHeaders | null): void {
  if (ctx.inHeaderFilter) {
    exitInHeaderFilter(ctx, status, body ?? EMPTY, json ? CONTENT_TYPE_JSON : null, headers)
    return
  }
  ctx.exited = true
  if (ctx.resDone) return
  const list = mergeHeaders(ctx, headers)
  if (json && listGet(list, 'content-type') === undefined) list.push('content-type', CONTENT_TYPE_JSON)
  // ctx.proxiedExit: the plugin answers in the upstream's place (proxy-cache Hit): Via and latencies
  // (no upstream wait; the proxy latency is the time spent so far).
  if (ctx.proxiedExit && ctx.proxyLatency < 0) ctx.proxyLatency = Math.round(performance.now() - ctx.t0)
  sendListResponse(ctx, status, body ?? EMPTY, false, ctx.proxiedExit)
}

/** `kong.response.error(status, message, headers)`: Kong's template, typed by Accept, with request_id. */
export function sendPluginError (ctx: RequestContext, status: number, message: string | undefined, headers: FlatHeaders | null): void {
  if (ctx.inHeaderFilter) {
    const type = responseType(ctx.accept)
    const p = bodyParts(message ?? errorMessage(status))[type]!
    exitInHeaderFilter(ctx, status, p.pre + ctx.requestId + p.post, CONTENT_TYPES[type]!, headers)
    return
  }
  ctx.exited = true
  if (ctx.resDone) return
  const list = mergeHeaders(ctx, headers)
  const given = listGet(list, 'content-type')
  const type = responseType(given ?? ctx.accept)
  if (given === undefined) list.push('content-type', CONTENT_TYPES[type]!)
  const parts = bodyParts(message ?? errorMessage(status))[type]!
  sendListResponse(ctx, status, parts.pre + ctx.requestId + parts.post, false, false)
}

/** A Kong error page for a request whose plugins must see it (called by responses.ts). */
export function sendFilteredError (ctx: RequestContext, status: number, contentType: string, body: string, extra: readonly string[] | null, close: boolean, proxied: boolean): void {
  const list = mergeHeaders(ctx, null)
  listSet(list, 'content-type', contentType)
  if (extra !== null) for (let i = 0; i < extra.length; i += 2) list.push(lowerName(extra[i]!), extra[i + 1]!)
  sendListResponse(ctx, status, body, close, proxied)
}

/** True when a gateway response must take the filtered path. */
export function needsFilteredPath (ctx: RequestContext): boolean {
  return ctx.respHeaders !== null || hasHeaderFilter(ctx) || hasBodyFilter(ctx)
}
