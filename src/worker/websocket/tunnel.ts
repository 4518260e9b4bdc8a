/**
 * One proxied WebSocket connection: the upstream handshake (handshake.ts: ws package client,
 * through the balancer's address pick), the client upgrade (uWS `res.upgrade`), then messages both
 * ways until either side closes (here). The request context stays in flight for the whole
 * connection, so the log phase and the metrics run once, when it ends, with status 101.
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
 *     build can (`pause()` on its WebSocket; neither 20.30 nor 20.57 has one); the flush callback of
 *     that send resumes it. On every build, unflushed bytes past UPSTREAM_LIMIT close the client
 *     with 1013 (and drop the upstream connection): what the gateway holds for one upstream that
 *     stops reading is at most UPSTREAM_LIMIT plus the one message that crossed it. After that
 *     close, uWS reads and discards whatever the client still sends until its close frame or FIN
 *     (uWS's shutdown state): nothing more is held, and a client that never stops is dropped by the
 *     write_timeout sweep.
 * Timeouts (nginx's upgraded-connection timers, with the service's values): no data from the
 *   upstream for read_timeout (while it is not paused by us), or a side that has not taken our
 *   bytes for write_timeout, ends the connection (an abrupt close toward the client, as nginx's).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { Dispatcher } from 'undici'
import type { WebSocket as UwsSocket } from 'uWebSockets.js'
import WebSocket from 'ws'
import { log } from '../../common/log.ts'
import type { AttemptRef, RequestContext } from '../context.ts'
import { maybeFinish } from '../lifecycle.ts'
import type { Address } from '../balancer/address.ts'

/** Largest message either side may send (Kong has no setting for it: nginx relays bytes). */
export const MAX_MESSAGE = 16 * 1024 * 1024
/** Buffered bytes toward one side above which the other side is paused, and below which it resumes. */
const HIGH = 1024 * 1024
const LOW = 256 * 1024
/** uWS drops a send beyond this; with HIGH pausing it is never reached (a drop closes with 1011). */
export const MAX_BACKPRESSURE = 2 * MAX_MESSAGE + HIGH
/** Client -> upstream bytes the gateway holds for an upstream that does not read: beyond it, 1013. */
const UPSTREAM_LIMIT = 2 * MAX_MESSAGE + HIGH
const SWEEP_MS = 1000

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

export function upstreamMessage (t: Tunnel, data: Buffer, isBinary: boolean): void {
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
  // Not OPEN: terminated (the 1013 below); nothing more is taken for it.
  if (up === null || !t.upstreamOpen || up.readyState !== WebSocket.OPEN) return
  // The ArrayBuffer is uWS's and dies with this callback: copy.
  const data = Buffer.from(new Uint8Array(message))
  t.ctx.bodyBytes += data.length
  const over = up.bufferedAmount + data.length > HIGH
  up.send(data, { binary: isBinary, compress: false }, over ? t.onFlushed : undefined)
  if (!over) return
  if (t.upstreamStalled === 0) t.upstreamStalled = performance.now()
  if (up.bufferedAmount > UPSTREAM_LIMIT) {
    // The upstream is not reading (it would not read a close frame either): drop it. Checked on
    // every build: a paused uWS socket may still deliver what it had read.
    up.terminate()
    ws.end(1013, 'upstream not reading')
    return
  }
  if (!t.clientPaused && typeof ws.pause === 'function') { t.clientPaused = true; ws.pause() }
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

export function upstreamPing (t: Tunnel, data: Buffer): void {
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

export function upstreamClosed (t: Tunnel, code: number, reason: Buffer): void {
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
export function release (t: Tunnel): void {
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
