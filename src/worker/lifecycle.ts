/**
 * Request bookkeeping shared by the hot-path modules: counters for the `metrics` message, the
 * in-flight count that shutdown waits on, and `maybeFinish()`, the one place a request ends
 * (see the state machine in context.ts: client side settled AND upstream side settled).
 */
import { ST_DONE, BODY_DISCARD, type RequestContext } from './context.ts'
import { releasePool } from './upstreams.ts'
import { runLog } from './plugin-runner.ts'
import { recordRequest } from './metrics-recorder.ts'

export const stats = {
  /** Requests accepted since the worker started. */
  requests: 0,
  /** Requests not yet finished. */
  inflight: 0,
}

let idleWaiter: (() => void) | null = null

/**
 * The worker is draining (shutdown): responses carry `Connection: close`, so keep-alive clients do
 * not send another request on a connection that is about to be closed.
 */
export const drain = { on: false }

export function setDraining (): void {
  drain.on = true
}

export function requestStarted (): void {
  stats.requests++
  stats.inflight++
}

/** Ends the request once the client side and the upstream side have both settled. */
export function maybeFinish (ctx: RequestContext): void {
  if (!ctx.resDone || ctx.attempt !== null || ctx.state === ST_DONE) return
  recordRequest(ctx)
  ctx.state = ST_DONE
  ctx.bodyMode = BODY_DISCARD
  ctx.bodyChunks = null
  ctx.bodyBuffer = null
  ctx.pending = null
  const stream = ctx.bodyStream
  if (stream !== null) {
    ctx.bodyStream = null
    if (!stream.destroyed) stream.destroy()
  }
  const pool = ctx.pool
  if (pool !== null) {
    ctx.pool = null
    releasePool(pool)
  }
  const chains = ctx.chains
  if (chains !== null && (chains.log !== null || (ctx.altChains !== null && ctx.altChains.log !== null))) runLog(ctx)
  stats.inflight--
  // ---- TLS: the App the request came in on stops counting it (tls.ts drains old Apps by it)
  const tlsSlot = ctx.tlsSlot
  if (tlsSlot !== null) tlsSlot.inflight--
  // ---- end TLS
  if (stats.inflight === 0 && idleWaiter !== null) {
    const w = idleWaiter
    idleWaiter = null
    w()
  }
}

const ABANDONED = new Error('upstream request abandoned by the gateway')

/** Detaches the upstream try in flight, if any, and aborts it; its late callbacks are ignored. */
export function abandonAttempt (ctx: RequestContext): void {
  const a = ctx.attempt
  if (a === null) return
  ctx.attempt = null
  const c = a.controller
  if (c !== null && !c.aborted) c.abort(ABANDONED)
}

/** Calls `cb` once no request is in flight (at once if none is). */
export function whenIdle (cb: () => void): void {
  if (stats.inflight === 0) { cb(); return }
  idleWaiter = cb
}
