/**
 * The upstream exchange: request body intake, transport `dispatch` (transport/index.ts: undici or
 * `net`) with one handler object per try, retries, error mapping and client aborts.
 *
 * Tries (kong/runloop/balancer + nginx `proxy_next_upstream error timeout`, kong.md 3.4):
 *
 *   dispatch --error before the upstream answered--> retryable? --yes--> dispatch again
 *      |                                                 | no         (tries <= 1 + retries)
 *      |                                                 v
 *      |                                  502 / 504 / 503 error page (nothing was sent yet)
 *      +--upstream head--> STREAMING --error, nothing written yet--> 502 / 504 error page
 *                              |
 *                              +--error after bytes went out--> close the client connection
 *
 * A try is retried when the upstream has not answered, the body can be replayed (none or
 * buffered), and either the connection never came up (refused, connect timeout, unreachable) or
 * the method is idempotent (nginx: everything but POST, PATCH, LOCK) and the failure was a reset
 * or a header-read timeout.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { ERRORS } from '../common/errors.ts'
import { log } from '../common/log.ts'
import type { Dispatcher } from 'undici'
import {
  BODY_BUFFERED, BODY_COLLECTING, BODY_DISCARD, BODY_STREAMING, ST_DONE, ST_STREAMING, ST_UPSTREAM,
  type AttemptRef, type RequestContext,
} from './context.ts'
import { abandonAttempt, maybeFinish } from './lifecycle.ts'
import { BODY_BUFFER_LIMIT, BodyStream, COLLECT_LIMIT, concatChunks, copyChunk } from './request-body.ts'
import { endResponse, startResponse, writeChunk } from './response-writer.ts'
import { refuseBodyTooLarge, V_BODY_LIMIT_EXCEEDED } from './edge.ts'
import { closeClient, sendErrorPage, sendKongError } from './responses.ts'
import { settings } from './settings.ts'
import { acquirePool, releasePool } from './upstreams.ts'
import type { Address } from './balancer/address.ts'
import { recordLatency } from './balancer/algorithms.ts'
import { hashInput } from './balancer/hash-on.ts'
import { poolFor, poolForHost, reportPassive } from './balancer/runtime.ts'

/** Largest body a plugin may ask for whole (kong.request.get_raw_body); larger ones stream. */
export const PLUGIN_BODY_LIMIT = 8 * 1024 * 1024
const EMPTY_BODY = Buffer.alloc(0)

const NON_IDEMPOTENT = new Set(['POST', 'PATCH', 'LOCK'])
/** The connection never came up: the request was not sent, any method may be retried. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])
/** The request may have reached the upstream: retried for idempotent methods only. */
const SEND_FAILURES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CLOSED'])
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])
const DNS_FAILURES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA'])
const CLIENT_FAULTS = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_NOT_SUPPORTED'])

const STALE = new Error('stale upstream try')
/** A response coding other than chunked: the body cannot be framed (nginx: 502). */
const BAD_TE = Object.assign(new Error('upstream sent an unknown Transfer-Encoding'), { code: 'UPSTREAM_BAD_TRANSFER_ENCODING' })
/** A `100 Continue` the proxy never asked for (it sends no `Expect`): 502, as undici's own 'bad response'. */
const UNSOLICITED_100 = Object.assign(new Error('upstream sent an unsolicited 100 Continue'), { code: 'UPSTREAM_UNSOLICITED_100' })

class Attempt implements Dispatcher.DispatchHandler, AttemptRef {
  /** response-writer.ts copies what it keeps of a body chunk (the net transport lends its read buffer). */
  readonly transientChunks = true
  readonly ctx: RequestContext
  controller: Dispatcher.DispatchController | null
  /** The balancer address this try went to (null until picked). */
  address: Address | null
  /** Continuum index of the request's hash input (consistent-hashing); -1 until computed. */
  hash: number
  /** Addresses earlier tries of this request failed on. */
  tried: Address[] | null
  tStart: number
  /** The try's outcome was accounted (connections, latency, passive health). */
  settled: boolean

  constructor (ctx: RequestContext, prev: Attempt | null) {
    this.ctx = ctx
    this.controller = null
    this.address = null
    this.hash = -1
    this.tried = null
    this.tStart = 0
    this.settled = false
    if (prev !== null) {
      this.hash = prev.hash
      this.tried = prev.tried
      if (prev.address !== null) (this.tried ??= []).push(prev.address)
    }
  }

  onRequestStart (controller: Dispatcher.DispatchController): void {
    this.controller = controller
    // Abandoned before undici got a connection for it (client gone, body too large, ...).
    if (this.ctx.attempt !== this) controller.abort(STALE)
  }

  onResponseStart (controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders, message?: string): void {
    const ctx = this.ctx
    if (ctx.attempt !== this) {
      if (!controller.aborted) controller.abort(STALE)
      return
    }
    // 1xx interim responses (103 Early Hints, ...) are dropped: only the final status goes out. A
    // 100 Continue was never asked for (no `Expect` goes upstream): 502 without retry, whichever
    // transport surfaced it (undici fails it itself with 'bad response', see upstreamAnswered).
    if (status < 200) {
      if (status === 100) refuseResponse(ctx, controller, UNSOLICITED_100, this)
      return
    }
    const addr = this.address
    if (addr !== null) {
      const b = ctx.route!.service!.target.balancing!.balancer
      if (b.passive) reportPassive(b, addr, 'status', status)
    }
    const te = headers['transfer-encoding']
    if (te !== undefined && (typeof te !== 'string' || te.toLowerCase() !== 'chunked')) {
      refuseResponse(ctx, controller, BAD_TE, this)
      return
    }
    try {
      startResponse(ctx, status, headers, message)
    } catch (err) {
      internalFailure(ctx, err)
    }
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const ctx = this.ctx
    if (ctx.attempt !== this) return
    try {
      writeChunk(ctx, controller, chunk)
    } catch (err) {
      internalFailure(ctx, err)
    }
  }

  onResponseEnd (): void {
    const ctx = this.ctx
    settle(this, null)
    if (ctx.attempt !== this) return
    ctx.attempt = null
    try {
      if (!endResponse(ctx)) closeClient(ctx)
    } catch (err) {
      internalFailure(ctx, err)
    }
    maybeFinish(ctx)
  }

  onResponseError (_controller: Dispatcher.DispatchController | null, err: Error): void {
    const ctx = this.ctx
    settle(this, err)
    if (ctx.attempt !== this) return
    ctx.attempt = null
    try {
      upstreamFailed(ctx, err, this)
    } catch (e) {
      internalFailure(ctx, e)
    }
  }
}

/** An upstream head the proxy will not pass on: the try ends with `err` (502, never retried). */
function refuseResponse (ctx: RequestContext, controller: Dispatcher.DispatchController, err: Error, a: Attempt): void {
  ctx.attempt = null
  controller.abort(err)
  try {
    upstreamFailed(ctx, err, a)
  } catch (e) {
    internalFailure(ctx, e)
  }
}

/**
 * One try's end, accounted once whichever callback comes (our own aborts included): the
 * least-connections count, the latency measure, and the passive health report of a connect or
 * send failure / timeout (errors the gateway made itself are not the upstream's).
 */
function settle (a: Attempt, err: Error | null): void {
  if (a.settled) return
  a.settled = true
  const addr = a.address
  if (addr === null) return
  addr.connections--
  const b = a.ctx.route!.service!.target.balancing!.balancer
  if (err === null) {
    if (b.latency) recordLatency(addr, performance.now() - a.tStart)
    return
  }
  if (!b.passive) return
  const code = errorCode(err)
  if (TIMEOUTS.has(code)) reportPassive(b, addr, 'timeout', 0)
  else if (CONNECT_FAILURES.has(code) || SEND_FAILURES.has(code)) reportPassive(b, addr, 'tcp_failure', 0)
}

/** Sends the request upstream once more (first try, or a retry after `prev` failed): picks a peer first. */
export function dispatchAttempt (ctx: RequestContext, prev: Attempt | null = null): void {
  const a = new Attempt(ctx, prev)
  ctx.attempt = a
  ctx.state = ST_UPSTREAM
  pickAndSend(ctx, a)
}

function pickAndSend (ctx: RequestContext, a: Attempt): void {
  const route = ctx.route!
  const svc = route.service!
  const sb = svc.target.balancing!
  const b = sb.balancer
  if (b.pending !== null) {
    // First use of a name not in the DNS cache yet: this try waits for the answer.
    b.pending.then(() => { if (ctx.attempt === a) pickAndSend(ctx, a) }, (err: unknown) => { internalFailure(ctx, err) })
    return
  }
  let addr: Address | null = null
  if (b.healthy) {
    if (a.hash < 0 && b.hashing !== null) a.hash = b.hashing.index(hashInput(ctx, b.hashSpec!))
    addr = b.algo.pick(a.hash, a.tried)
  }
  if (addr === null) {
    noPeer(ctx, a)
    return
  }
  a.address = addr
  addr.connections++
  // https: the SNI is the upstream Host's name (Kong proxy_ssl_name $upstream_host), which is the
  // address's own name unless preserve_host or a plugin set the Host; such names get pools of their own.
  const pool = sb.https && (route.preserveHost || ctx.upstreamHost !== null) ? poolForHost(addr, sb, ctx.upstreamHeaders![1]!) : poolFor(addr, sb)
  const held = ctx.pool
  ctx.pool = pool
  acquirePool(pool)
  if (held !== null) releasePool(held)
  // Host per try (Kong set_host_header): the peer's name unless preserve_host or a plugin set it.
  if (!route.preserveHost && ctx.upstreamHost === null) ctx.upstreamHeaders![1] = sb.https ? addr.hostHttps : addr.hostHttp
  const now = performance.now()
  if (ctx.tries === 0) {
    ctx.tUpstream = now
    ctx.proxyLatency = Math.round(now - ctx.t0)
  }
  ctx.tries++
  a.tStart = now
  const body = ctx.bodyMode === BODY_BUFFERED ? ctx.bodyBuffer : ctx.bodyMode === BODY_STREAMING ? ctx.bodyStream : null
  try {
    pool.transport.dispatch({
      path: ctx.upstreamPath,
      method: ctx.upstreamMethod ?? ctx.method,
      headers: ctx.upstreamHeaders!,
      body,
      headersTimeout: svc.readTimeout,
      bodyTimeout: svc.readTimeout,
      writeTimeout: svc.writeTimeout,
      reset: settings.keepalivePoolSize === 0,
    }, a)
  } catch (err) {
    settle(a, null)
    if (ctx.attempt === a) {
      ctx.attempt = null
      upstreamFailed(ctx, err, a)
    }
  }
}

/**
 * No peer to try (kong/runloop/balancer/init.lua execute): a plain host that did not resolve ->
 * 503 `name resolution failed` (500 for DNS failures other than name errors); an upstream with no
 * available address or below its health threshold -> 503 `failure to get a peer from the
 * ring-balancer`. On a retry, the failure of the previous try stands instead.
 */
function noPeer (ctx: RequestContext, a: Attempt): void {
  ctx.attempt = null
  if (ctx.tries > 0) {
    finalFailure(ctx, ctx.lastError)
    return
  }
  const close = ctx.bodyMode === BODY_STREAMING && !ctx.bodyReceived
  ctx.bodyMode = BODY_DISCARD
  const b = ctx.route!.service!.target.balancing!.balancer
  const dnsError = b.dnsError
  if (b.plain && dnsError !== null) {
    if (dnsError.notFound) sendKongError(ctx, 503, ERRORS.GW_ERR_DNS.message, null, close)
    else sendKongError(ctx, 500, `dns server error: ${dnsError.code}`, null, close)
    return
  }
  if (log.enabled('info')) log.info(`no peer for ${a.ctx.route!.service!.target.host}: balancer ${b.healthy ? 'has no available address' : 'is unhealthy'}`)
  sendKongError(ctx, 503, ERRORS.GW_ERR_NO_PEER.message, null, close)
}

function errorCode (err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string') return code
    // Happy-eyeballs connects fail with an AggregateError of the per-address errors.
    const inner = (err as { errors?: unknown }).errors
    if (Array.isArray(inner) && inner.length > 0) return errorCode(inner[0])
    if (err instanceof Error) return err.name
  }
  return 'UNKNOWN'
}

function canRetry (ctx: RequestContext, code: string): boolean {
  // The upstream answered (its head arrived): the request was processed, never send it again.
  if (ctx.state === ST_STREAMING) return false
  if (ctx.tries > ctx.route!.service!.retries) return false
  if (ctx.bodyMode === BODY_STREAMING) return false
  if (CONNECT_FAILURES.has(code)) return true
  return SEND_FAILURES.has(code) && !NON_IDEMPOTENT.has(ctx.method)
}

/**
 * undici's SocketError for an unsolicited 1xx ("bad response": 100 Continue the request did not
 * ask for) or 101 ("bad upgrade"): the upstream answered, so the request is never sent again.
 */
function upstreamAnswered (err: unknown): boolean {
  return err instanceof Error && (err.message === 'bad response' || err.message === 'bad upgrade')
}

function upstreamFailed (ctx: RequestContext, err: unknown, a: Attempt): void {
  const code = errorCode(err)
  ctx.lastError = code
  if (ctx.resDone) { maybeFinish(ctx); return }
  if (ctx.headSent) {
    // Part of the response went out: never present a truncated body as complete.
    closeClient(ctx)
    return
  }
  ctx.headPending = false
  // The upstream head was taken in but not written: the error page starts from the headers the
  // plugins staged in access, not from the upstream's (response-writer.ts filterHead).
  if (ctx.state === ST_STREAMING) {
    ctx.respHeaders = ctx.respStaged
    ctx.respStaged = null
  }
  if (!upstreamAnswered(err) && canRetry(ctx, code)) {
    dispatchAttempt(ctx, a)
    return
  }
  finalFailure(ctx, code)
}

/** The last try failed with `code` (nothing was sent to the client yet): the error page. */
function finalFailure (ctx: RequestContext, code: string): void {
  ctx.upstreamLatency = Math.round(performance.now() - ctx.tUpstream)
  if (log.enabled('info')) log.info(`upstream ${ctx.route!.service!.target.origin} failed after ${ctx.tries} tries: ${code}`)
  // An unfinished streamed body is not read further: close after the answer.
  const close = ctx.bodyMode === BODY_STREAMING && !ctx.bodyReceived
  ctx.bodyMode = BODY_DISCARD
  if (DNS_FAILURES.has(code)) sendKongError(ctx, 503, ERRORS.GW_ERR_DNS.message, null, close)
  else if (TIMEOUTS.has(code)) sendErrorPage(ctx, 504, ERRORS.GW_ERR_UPSTREAM_TIMEOUT.message, close)
  else if (CLIENT_FAULTS.has(code)) sendErrorPage(ctx, 400, ERRORS.GW_ERR_BAD_REQUEST.message, true, false)
  else sendErrorPage(ctx, 502, ERRORS.GW_ERR_UPSTREAM_INVALID.message, close)
}

/** A bug in our own code on the request path: answer 500 or close, never kill the worker. */
export function internalFailure (ctx: RequestContext, err: unknown): void {
  log.error(`request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  try {
    abandonAttempt(ctx)
    ctx.bodyMode = BODY_DISCARD
    if (ctx.resDone) { maybeFinish(ctx); return }
    if (ctx.headSent) closeClient(ctx)
    else sendErrorPage(ctx, 500, ERRORS.GW_ERR_INTERNAL.message, true, false)
  } catch {
    try { closeClient(ctx) } catch { /* the response is gone */ }
  }
}

/** uWS onAborted: the client went away (or we closed it). */
export function onClientAborted (ctx: RequestContext): void {
  if (ctx.state === ST_DONE) return
  ctx.resDone = true
  ctx.bodyMode = BODY_DISCARD
  abandonAttempt(ctx)
  if (ctx.bodyWaiter !== null) bodyReady(ctx, null)
  maybeFinish(ctx)
}

/** A plugin's body read finished (whole body, or null: too large, refused, or the client left). */
function bodyReady (ctx: RequestContext, body: Buffer | null): void {
  ctx.pluginBody = 2
  ctx.rawBody = body
  const w = ctx.bodyWaiter
  ctx.bodyWaiter = null
  if (w !== null) w(body)
}

/**
 * `kong.request.get_raw_body()` during access: reads the client body now (up to
 * PLUGIN_BODY_LIMIT) and holds the upstream dispatch until access ends (proceedUpstream).
 */
export function readPluginBody (ctx: RequestContext): Buffer | null | Promise<Buffer | null> {
  if (ctx.pluginBody === 2) return ctx.rawBody
  if (ctx.pluginBody === 1) return new Promise((resolve) => { const prev = ctx.bodyWaiter; ctx.bodyWaiter = (b) => { prev?.(b); resolve(b) } })
  const cl = ctx.contentLength
  if ((cl === null || cl === '0') && ctx.transferEncoding === null) {
    ctx.pluginBody = 2
    ctx.rawBody = EMPTY_BODY
    return EMPTY_BODY
  }
  ctx.pluginBody = 1
  const p = new Promise<Buffer | null>((resolve) => { ctx.bodyWaiter = resolve })
  startBody(ctx)
  return p
}

/** After access: sends the request upstream with the body as the plugins left it. */
export function proceedUpstream (ctx: RequestContext): void {
  const replaced = ctx.bodyReplaced
  if (replaced !== null) {
    // The client's bytes (if any still come) are dropped; the plugin's body replaces them.
    if (ctx.bodyStream !== null) { ctx.bodyStream.destroy(); ctx.bodyStream = null }
    ctx.bodyChunks = null
    ctx.bodyBuffer = replaced.length > 0 ? replaced : null
    ctx.bodyMode = BODY_BUFFERED
    if (ctx.readPaused) { ctx.readPaused = false; ctx.res.resume() }
    dispatchAttempt(ctx)
    return
  }
  switch (ctx.bodyMode) {
    case BODY_BUFFERED:
      dispatchAttempt(ctx)
      return
    case BODY_STREAMING:
      if (ctx.contentLength !== null) ctx.upstreamHeaders!.push('content-length', ctx.contentLength)
      dispatchAttempt(ctx)
      return
    case BODY_COLLECTING:
      // Access went asynchronous (pipeline holdBody) and ended before the body was in: go on once it is.
      if (ctx.pluginBody === 1) {
        const prev = ctx.bodyWaiter
        ctx.bodyWaiter = (b) => { prev?.(b); if (ctx.bodyMode !== BODY_COLLECTING) proceedUpstream(ctx) }
        return
      }
  }
  const cl = ctx.contentLength
  if ((cl !== null && cl !== '0') || ctx.transferEncoding !== null) startBody(ctx)
  else dispatchAttempt(ctx)
}

/** Starts reading the request body; the upstream request is dispatched from onBodyData. */
export function startBody (ctx: RequestContext): void {
  ctx.bodyMode = BODY_COLLECTING
  ctx.bodyChunks = []
  const fn = (ab: ArrayBuffer, last: boolean): void => { onBodyData(ctx, ab, last) }
  ctx.onData = fn
  ctx.res.onData(fn)
}

function toStream (ctx: RequestContext): boolean {
  const stream = new BodyStream(ctx)
  let flowing = true
  for (const c of ctx.bodyChunks!) flowing = stream.push(c)
  ctx.bodyChunks = null
  ctx.bodyStream = stream
  ctx.bodyMode = BODY_STREAMING
  return flowing
}

function startStreaming (ctx: RequestContext): void {
  const flowing = toStream(ctx)
  if (ctx.contentLength !== null) ctx.upstreamHeaders!.push('content-length', ctx.contentLength)
  if (!flowing) {
    ctx.readPaused = true
    ctx.res.pause()
  }
  dispatchAttempt(ctx)
}

/** A plugin's body read went past PLUGIN_BODY_LIMIT: stream it later, stop reading until then. */
function overflowPluginBody (ctx: RequestContext): void {
  toStream(ctx)
  if (!ctx.readPaused) {
    ctx.readPaused = true
    ctx.res.pause()
  }
  bodyReady(ctx, null)
}

/** request-size-limiting's limit (kong.request limitBodySize) passed while the body streams. */
function bodyLimitExceeded (ctx: RequestContext, last: boolean): void {
  if (ctx.bodyWaiter !== null) bodyReady(ctx, null)
  refuseBodyTooLarge(ctx, last, V_BODY_LIMIT_EXCEEDED)
}

function onBodyData (ctx: RequestContext, ab: ArrayBuffer, last: boolean): void {
  if (ctx.bodyMode === BODY_DISCARD || ctx.bodyMode === BODY_BUFFERED || ctx.state === ST_DONE) return
  try {
    const n = ab.byteLength
    ctx.bodyBytes += n
    const max = settings.clientMaxBodySize
    if (max > 0 && ctx.bodyBytes > max) {
      bodyTooLarge(ctx, last)
      return
    }
    if (ctx.bodyLimit > 0 && ctx.bodyBytes > ctx.bodyLimit) {
      bodyLimitExceeded(ctx, last)
      return
    }
    if (ctx.bodyMode === BODY_COLLECTING) {
      if (n > 0) ctx.bodyChunks!.push(copyChunk(ab))
      const held = ctx.pluginBody === 1
      if (last) {
        ctx.bodyBuffer = ctx.bodyBytes > 0 ? concatChunks(ctx.bodyChunks!, ctx.bodyBytes) : null
        ctx.bodyChunks = null
        ctx.bodyMode = BODY_BUFFERED
        ctx.bodyReceived = true
        if (held) bodyReady(ctx, ctx.bodyBuffer ?? EMPTY_BODY)
        else dispatchAttempt(ctx)
      } else if (ctx.bodyBytes > (held ? PLUGIN_BODY_LIMIT : COLLECT_LIMIT)) {
        if (held) overflowPluginBody(ctx)
        else startStreaming(ctx)
      }
      return
    }
    const stream = ctx.bodyStream!
    if (n > 0 && !stream.push(copyChunk(ab))) {
      if (ctx.state !== ST_STREAMING) {
        if (!ctx.readPaused) {
          ctx.readPaused = true
          ctx.res.pause()
        }
      } else if (stream.readableLength > BODY_BUFFER_LIMIT) {
        // The upstream answered and stopped reading, and this uWS build cannot pause any more.
        ctx.bodyMode = BODY_DISCARD
        closeClient(ctx)
        return
      }
    }
    if (last) {
      ctx.bodyReceived = true
      stream.push(null)
    }
  } catch (err) {
    internalFailure(ctx, err)
  }
}

/** client_max_body_size passed while the body streams: 413 (edge.ts), the client reads it before the close. */
function bodyTooLarge (ctx: RequestContext, last: boolean): void {
  if (ctx.bodyWaiter !== null) bodyReady(ctx, null)
  refuseBodyTooLarge(ctx, last)
}
