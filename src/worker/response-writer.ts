/**
 * Streams an upstream response into the uWS response.
 *
 * Head: the status line, the upstream headers minus hop-by-hop ones (and those its Connection
 * header lists; kong/runloop/handler.lua header_filter.before), then Kong's Via / Server /
 * latency / request id headers. uWS writes Date and the framing itself, so the upstream's Date,
 * Content-Length and Transfer-Encoding are not copied.
 *
 * Body framing: HEAD, 204 and 304 have none (`endWithoutBody`, upstream Content-Length kept for
 * HEAD/304); a known Content-Length goes out as `tryEnd(chunk, total)` so the client sees the same
 * length; anything else is chunked `write()`.
 *
 * Backpressure, per response:
 *
 *   flowing --tryEnd not ok / write false--> blocked: controller.pause(); with tryEnd the unsent
 *      ^                                       |     rest of the chunk is kept (`pending`, offset)
 *      +---- res.onWritable: rest written -----+     then controller.resume()
 *
 * A pending chunk at upstream end is flushed by onWritable, which then completes the response.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { log } from '../common/log.ts'
import { SERVER_TOKEN } from '../common/meta.ts'
import { FRAME_CHUNKED, FRAME_LENGTH, FRAME_NONE, ST_STREAMING, type RequestContext } from './context.ts'
import { statusLine } from './error-bodies.ts'
import { needsFilteredPath } from './gateway-response.ts'
import { listGet } from './header-list.ts'
import { drain, maybeFinish } from './lifecycle.ts'
import { hasBodyFilter, runBodyFilter, runHeaderFilter } from './plugin-runner.ts'
import { closeClient, VIA_TOKEN, writeDebugHeaders } from './responses.ts'
import { settings } from './settings.ts'

/** Response headers never copied from upstream. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'content-length', 'date', 'upgrade', 'te',
])
/**
 * The same plus X-Kong-Request-Id, when Kong's own goes out (`headers`): Kong assigns it after the
 * header filters (kong/runloop/handler.lua header_filter.after, `header[REQUEST_ID] = rid`), so an
 * upstream's or a plugin's value of that name is replaced, not sent beside it
 * (spec 02-integration/05-proxy/33-request-id-header_spec.lua "overwrites value set by plugin").
 * Chosen once per response: no test per header on the fast path.
 */
const HOP_BY_HOP_AND_ID = new Set([...HOP_BY_HOP, 'x-kong-request-id'])

function isDigits (s: string): boolean {
  if (s.length === 0 || s.length > 15) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** Tokens of an upstream Connection header that name other headers (rare: parsed only then). */
function connectionListed (value: string | string[] | undefined): string[] | null {
  if (value === undefined) return null
  const v = (typeof value === 'string' ? value : value.join(',')).toLowerCase()
  if (v === 'keep-alive' || v === 'close' || v === 'upgrade') return null
  const out: string[] = []
  for (const t of v.split(',')) {
    const n = t.trim()
    if (n !== '' && n !== 'close' && n !== 'upgrade' && n !== 'keep-alive') out.push(n)
  }
  return out.length > 0 ? out : null
}

/** Decimal text of 0..1023 (latencies in ms, statuses): no number-to-string per header. */
const SMALL = Array.from({ length: 1024 }, (_, i) => String(i))
function num (n: number): string {
  return n >= 0 && n < 1024 ? SMALL[n]! : String(n)
}

/**
 * The whole head goes out in one native call: the first field's name is writeHeader's name, and
 * the others follow in its value as whole field lines (uWS writes `name: value\r\n` as given).
 * No value holds CR or LF: upstream values come from a strict parser (undici's llhttp, the net
 * transport's), plugin values are escaped where they enter (pdk.ts, header-list.ts wireValue), and
 * Kong's own are constants, digits, hex, or a Via built from parsed values.
 */
let kName = ''
let kValue = ''
function kongHeader (name: string, value: string): void {
  if (kName === '') { kName = name; kValue = value } else kValue += '\r\n' + name + ': ' + value
}

/** Adds Kong's headers after the upstream ones (gathered by `field`) and writes them all (the cork is held). */
function writeKongHeaders (ctx: RequestContext, via: string | null, hasServer: boolean): void {
  const s = settings
  if (s.hdrVia) kongHeader('Via', via === null ? VIA_TOKEN : `${via}, ${VIA_TOKEN}`)
  if (!hasServer && s.hdrServer) kongHeader('Server', SERVER_TOKEN)
  if (s.hdrUpstreamLatency) kongHeader('X-Kong-Upstream-Latency', num(ctx.upstreamLatency))
  if (s.hdrProxyLatency) kongHeader('X-Kong-Proxy-Latency', num(ctx.proxyLatency))
  if (s.hdrUpstreamStatus) kongHeader('X-Kong-Upstream-Status', num(ctx.upstreamStatus))
  if (s.hdrRequestId) kongHeader('X-Kong-Request-Id', ctx.requestId)
  if (kName !== '') ctx.res.writeHeader(kName, kValue)
  kName = ''
  kValue = ''
  if (ctx.kongDebug) writeDebugHeaders(ctx)
  // A call of its own: uWS may look at a Connection header it is given by name. Not when this
  // cork ends the response with closeConnection: uWS writes that header itself then.
  if ((drain.on || ctx.closeAfter) && !endCloses) ctx.res.writeHeader('Connection', 'close')
}

/**
 * The response is ended with closeConnection in the cork that writes its head (ctx.closeAfter: a
 * `close` token in the request's Connection list). uWS can close only through the end() call that
 * also terminates the head: a later end(..., true) would write its Connection field into the body.
 * A response streamed in several writes carries `Connection: close`; the client closes after it.
 */
let endCloses = false

/** The head from the header list the header filters worked on. */
function writeHeadList (ctx: RequestContext): void {
  const res = ctx.res
  const list = ctx.respHeaders!
  ctx.headPending = false
  ctx.headSent = true
  res.writeStatus(statusLine(ctx.resStatus, ctx.resMessage))
  let via: string | null = null
  let hasServer = false
  const hdrVia = settings.hdrVia
  const hdrRequestId = settings.hdrRequestId
  kName = ''
  kValue = ''
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!
    const v = list[i + 1]!
    if (name === 'content-length' || name === 'transfer-encoding' || name === 'connection') continue
    if (hdrRequestId && name === 'x-kong-request-id') continue // Kong's replaces it (HOP_BY_HOP_AND_ID)
    if (name === 'via' && hdrVia) { via = via === null ? v : `${via}, ${v}`; continue }
    if (name === 'server') hasServer = true
    kongHeader(name, v)
  }
  writeKongHeaders(ctx, via, hasServer)
}

/** Writes the pending response head; the caller holds the cork. */
function writeHead (ctx: RequestContext): void {
  if (ctx.resHeaders === null) { writeHeadList(ctx); return }
  const res = ctx.res
  const headers = ctx.resHeaders
  const status = ctx.resStatus
  const s = settings
  ctx.headPending = false
  ctx.headSent = true
  // uWS writes `HTTP/1.1 200 OK` itself when no status was set: one native call fewer on most responses.
  if (status !== 200) res.writeStatus(statusLine(status, ctx.resMessage))
  const listed = connectionListed(headers.connection)
  const skip = s.hdrRequestId ? HOP_BY_HOP_AND_ID : HOP_BY_HOP
  let via: string | null = null
  let hasServer = false
  kName = ''
  kValue = ''
  for (const name in headers) {
    const v = headers[name]
    if (v === undefined || skip.has(name)) continue
    if (name === 'trailer' && !ctx.wantsTrailers) continue
    if (listed !== null && listed.includes(name)) continue
    if (name === 'via' && s.hdrVia) { via = typeof v === 'string' ? v : v.join(', '); continue }
    if (name === 'server') hasServer = true
    if (typeof v === 'string') kongHeader(name, v)
    else for (let i = 0; i < v.length; i++) kongHeader(name, v[i]!)
  }
  writeKongHeaders(ctx, via, hasServer)
  ctx.resHeadersSent = headers
  ctx.resHeaders = null
}

/**
 * Header filters need a list: the upstream headers (hop-by-hop ones and those the upstream's
 * Connection header names left out), then the headers staged in access. The staged list is kept
 * aside in case the exchange still fails and an error page goes out instead.
 */
function filterHead (ctx: RequestContext, headers: IncomingHttpHeaders): void {
  const list: string[] = []
  const listed = connectionListed(headers.connection)
  for (const name in headers) {
    const v = headers[name]
    if (v === undefined) continue
    if (name !== 'content-length' && HOP_BY_HOP.has(name)) continue
    if (name === 'trailer' && !ctx.wantsTrailers) continue
    if (listed !== null && listed.includes(name)) continue
    if (typeof v === 'string') list.push(name, v)
    else for (let i = 0; i < v.length; i++) list.push(name, v[i]!)
  }
  const staged = ctx.respHeaders
  ctx.respStaged = staged
  if (staged !== null) for (let i = 0; i < staged.length; i++) list.push(staged[i]!)
  ctx.respHeaders = list
  ctx.resHeaders = null
  runHeaderFilter(ctx)
  const cl = listGet(list, 'content-length')
  ctx.resLength = cl !== undefined && isDigits(cl) ? cl : undefined
}

let cCtx: RequestContext | null = null

function replacedCorked (): void {
  const ctx = cCtx!
  const body = hasBodyFilter(ctx) ? runBodyFilter(ctx, ctx.replacedBody!, true) : ctx.replacedBody!
  const s = ctx.resStatus
  const bodiless = ctx.method === 'HEAD' || s === 204 || s === 304
  // A bodiless end cannot close (headOnlyCorked): its head says Connection: close instead.
  endCloses = ctx.closeAfter && !bodiless
  writeHeadList(ctx)
  endCloses = false
  if (bodiless) {
    ctx.res.endWithoutBody()
  } else {
    ctx.bytesOut += body.length
    ctx.res.end(body, ctx.closeAfter)
  }
}

/**
 * A header filter exited (kong.response.exit in header_filter): its status, headers and body go
 * out now; the upstream body that follows is read and dropped (onResponseData sees resDone).
 */
function writeReplaced (ctx: RequestContext): void {
  ctx.frame = FRAME_NONE
  ctx.resDone = true
  cCtx = ctx
  try {
    ctx.res.cork(replacedCorked)
  } finally {
    cCtx = null
  }
}

function headOnlyCorked (): void {
  const ctx = cCtx!
  // No close here on ctx.closeAfter: uWS closes a bodiless end only with a length of 0 and takes
  // an explicit undefined length literally (a bogus Content-Length). The head says Connection: close.
  writeHead(ctx)
  if (ctx.resLength !== undefined && ctx.resStatus !== 204) ctx.res.writeHeader('Content-Length', ctx.resLength)
  ctx.resDone = true
  ctx.res.endWithoutBody()
}

/**
 * The final (>= 200) upstream response head arrived. Bodiless responses go out at once; others
 * wait for their first body bytes (or the end) so that head and body leave in one write.
 */
export function startResponse (ctx: RequestContext, status: number, headers: IncomingHttpHeaders, message: string | undefined): void {
  ctx.upstreamLatency = Math.round(performance.now() - ctx.tUpstream)
  ctx.state = ST_STREAMING
  // The upstream answers before the client's chunked body has ended: once the response is done,
  // uWS would go on parsing the rest of that body leniently and dispatch what it reads as a next
  // request (responses.ts holdLocalAnswer). Close after the response instead.
  if (ctx.transferEncoding !== null && !ctx.bodyReceived) ctx.closeAfter = true
  ctx.resStatus = status
  ctx.upstreamStatus = status
  ctx.resMessage = message
  if (needsFilteredPath(ctx)) {
    filterHead(ctx, headers)
    if (ctx.replacedBody !== null) {
      writeReplaced(ctx)
      return
    }
  } else {
    ctx.resHeaders = headers
    const cl = headers['content-length']
    const length = typeof cl === 'string' ? cl : Array.isArray(cl) ? cl[0] : undefined
    ctx.resLength = length !== undefined && isDigits(length) ? length : undefined
  }
  // Writing re-arms reading on this uWS build; a still-running request body stays bounded by proxy.ts.
  if (ctx.readPaused) {
    ctx.readPaused = false
    ctx.res.resume()
  }
  if (ctx.method === 'HEAD' || status === 204 || status === 304) {
    ctx.frame = FRAME_NONE
    cCtx = ctx
    try {
      ctx.res.cork(headOnlyCorked)
    } finally {
      cCtx = null
    }
    return
  }
  if (ctx.resLength !== undefined) {
    ctx.frame = FRAME_LENGTH
    ctx.total = Number(ctx.resLength)
  } else {
    ctx.frame = FRAME_CHUNKED
  }
  ctx.headPending = true
}

const EMPTY = Buffer.alloc(0)

let dCtx: RequestContext | null = null
let dChunk: Buffer | null = null
let dController: Dispatcher.DispatchController | null = null
/** dChunk is the transport's read buffer (transientChunks): copy what is kept past the call. */
let dTransient = false

function writeChunkCorked (): void {
  const ctx = dCtx!
  const res = ctx.res
  const chunk = dChunk!
  const whole = ctx.frame === FRAME_LENGTH && ctx.bytesOut + chunk.length === ctx.total && chunk.length === ctx.total
  const closeNow = whole && ctx.closeAfter && ctx.headPending
  if (ctx.headPending) {
    endCloses = closeNow
    writeHead(ctx)
    endCloses = false
  }
  ctx.bytesOut += chunk.length
  if (whole) {
    // The whole body in one chunk (small responses): end() writes the same Content-Length and
    // buffers what the socket does not take, without tryEnd's [ok, done] array and getWriteOffset.
    res.end(chunk, closeNow)
    ctx.resDone = true
  } else if (ctx.frame === FRAME_LENGTH) {
    const offset = res.getWriteOffset()
    const [ok, done] = res.tryEnd(chunk, ctx.total)
    if (done) {
      ctx.resDone = true
    } else if (!ok) {
      if (dTransient) {
        // Keep a copy of the unsent rest only: the chunk is the transport's buffer.
        const sent = res.getWriteOffset() - offset
        ctx.pending = Buffer.from(chunk.subarray(sent))
        ctx.pendingOffset = offset + sent
      } else {
        ctx.pending = chunk
        ctx.pendingOffset = offset
      }
      dController?.pause()
      hookWritable(ctx)
    }
  } else if (!res.write(chunk)) {
    dController?.pause()
    hookWritable(ctx)
  }
}

export function writeChunk (ctx: RequestContext, controller: Dispatcher.DispatchController | null, data: Buffer): void {
  if (ctx.resDone || data.length === 0) return
  let chunk = data
  let transient = controller !== null && (controller as { transientChunks?: boolean }).transientChunks === true
  if (hasBodyFilter(ctx)) {
    if (transient) {
      // Plugins may keep what they are given.
      data = Buffer.from(data)
      transient = false
    }
    // A length-framed body ends with the chunk that reaches its length: tryEnd then completes the
    // response, and endResponse never runs the filters' tail, so they get last=true here.
    let last = false
    if (ctx.frame === FRAME_LENGTH) {
      last = ctx.bodyFiltered + data.length >= ctx.total
      ctx.bodyFiltered += data.length
      if (last) ctx.bodyFilterDone = true
    }
    chunk = runBodyFilter(ctx, data, last)
  }
  if (chunk.length === 0) return
  if (ctx.pending !== null) {
    // Data after a pause (should not happen: undici stops at pause()); keep order.
    ctx.pending = Buffer.concat([ctx.pending, chunk])
    return
  }
  dCtx = ctx
  dChunk = chunk
  dController = controller
  dTransient = transient
  try {
    ctx.res.cork(writeChunkCorked)
  } finally {
    dCtx = null
    dChunk = null
    dController = null
    dTransient = false
  }
}

/** Writes an already filtered chunk (the body filter's tail). */
function writeRaw (ctx: RequestContext, chunk: Buffer): void {
  dCtx = ctx
  dChunk = chunk
  dController = null
  try {
    ctx.res.cork(writeChunkCorked)
  } finally {
    dCtx = null
    dChunk = null
  }
}

function hookWritable (ctx: RequestContext): void {
  if (ctx.writableHooked) return
  ctx.writableHooked = true
  const fn = (offset: number): boolean => onWritable(ctx, offset)
  ctx.onWritable = fn
  ctx.res.onWritable(fn)
}

let wCtx: RequestContext | null = null
let wOffset = 0
let wResult = true

function retryPendingCorked (): void {
  const ctx = wCtx!
  const p = ctx.pending!
  const sent = wOffset - ctx.pendingOffset
  const [ok, done] = ctx.res.tryEnd(sent > 0 ? p.subarray(sent) : p, ctx.total)
  if (done) {
    ctx.pending = null
    ctx.resDone = true
    wResult = true
  } else if (ok) {
    ctx.pending = null
    wResult = true
  } else {
    wResult = false
  }
}

function onWritable (ctx: RequestContext, offset: number): boolean {
  if (ctx.resDone) return true
  try {
    if (ctx.pending !== null) {
      wCtx = ctx
      wOffset = offset
      ctx.res.cork(retryPendingCorked)
      wCtx = null
      if (!wResult) return false
      if (ctx.resDone) { maybeFinish(ctx); return true }
    }
    const a = ctx.attempt
    if (a === null) {
      // The upstream already ended while the last chunk waited here.
      if (!endResponse(ctx)) closeClient(ctx)
      maybeFinish(ctx)
      return true
    }
    const c = a.controller
    if (c !== null && c.paused) c.resume()
    return true
  } catch (err) {
    wCtx = null
    log.error(`response write failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    try { closeClient(ctx) } catch { /* the response is gone */ }
    return true
  }
}

function endCorked (): void {
  const ctx = dCtx!
  if (ctx.headPending) {
    endCloses = ctx.closeAfter
    writeHead(ctx)
    endCloses = false
    ctx.res.end(undefined, ctx.closeAfter)
  } else {
    ctx.res.end()
  }
}

/**
 * The upstream response ended: completes the client response (or leaves it to onWritable when a
 * chunk still waits). False when the body fell short of its Content-Length: the caller must close
 * the connection rather than let a truncated body look complete.
 */
export function endResponse (ctx: RequestContext): boolean {
  if (ctx.resDone || ctx.pending !== null) return true
  if (!ctx.bodyFilterDone && ctx.frame !== FRAME_NONE && hasBodyFilter(ctx)) {
    ctx.bodyFilterDone = true
    const tail = runBodyFilter(ctx, EMPTY, true)
    if (tail.length > 0) {
      writeRaw(ctx, tail)
      if (ctx.resDone || ctx.pending !== null) return true
    }
  }
  // With a known length, tryEnd completes the response with the last byte.
  if (ctx.frame === FRAME_LENGTH && ctx.total > 0) return false
  ctx.resDone = true
  dCtx = ctx
  try {
    ctx.res.cork(endCorked)
  } finally {
    dCtx = null
  }
  return true
}
