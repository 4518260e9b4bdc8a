/**
 * The uWS side of WebSocket proxying: one `ws('/*')` behaviour per App, registered next to
 * `any('/*')` (server.ts, tls.ts).
 *
 * uWS sends a GET with a 24-character Sec-WebSocket-Key to this behaviour's `upgrade` handler
 * (it checks nothing else). A request is taken as a WebSocket handshake only when it also says
 * `Upgrade: websocket`, `Connection: upgrade` and `Sec-WebSocket-Version: 13`; anything else
 * goes to the plain request handler unchanged (a `Connection: upgrade` without
 * `Upgrade: websocket` is an ordinary request, as in nginx). A handshake goes through the same
 * copy, edge checks, routing and rewrite/access phases as any request (server.ts onRequest with
 * the handshake's fields), then handshake.ts connects upstream and upgrades, and tunnel.ts relays.
 *
 * Message-level: uWS parses the client's frames and tunnel.ts re-sends each message upstream (and
 * the reverse), so message boundaries and types are kept but fragmentation is not, and
 * extensions (permessage-deflate) are per hop: none is negotiated on either hop.
 */
import type { HttpRequest, HttpResponse, WebSocketBehavior, us_socket_context_t } from 'uWebSockets.js'
import {
  clientClosed, clientDrained, clientMessage, clientOpened, clientPing, clientPong, MAX_BACKPRESSURE, MAX_MESSAGE,
  type ClientSocket, type TunnelData,
} from './tunnel.ts'

/** What the upgrade handler copies out of the handshake for tunnel.ts. */
export interface WsUpgrade {
  key: string
  /** Sec-WebSocket-Protocol as the client sent it ('' when absent). */
  protocol: string
  context: us_socket_context_t
}

/** The request handler, told whether the request is a WebSocket handshake. */
export type UpgradeEntry = (res: HttpResponse, req: HttpRequest, up: WsUpgrade | null) => void

/** `token` is one of the comma-separated tokens of `value` (case-insensitive). */
export function hasToken (value: string, token: string): boolean {
  if (value.length === token.length) return value.toLowerCase() === token
  for (const part of value.split(',')) {
    if (part.trim().toLowerCase() === token) return true
  }
  return false
}

/** The handshake fields of a WebSocket upgrade, or null for an ordinary request. */
export function webSocketUpgrade (req: HttpRequest, context: us_socket_context_t): WsUpgrade | null {
  if (!hasToken(req.getHeader('upgrade'), 'websocket')) return null
  if (!hasToken(req.getHeader('connection'), 'upgrade')) return null
  if (req.getHeader('sec-websocket-version') !== '13') return null
  return { key: req.getHeader('sec-websocket-key'), protocol: req.getHeader('sec-websocket-protocol'), context }
}

/** The behaviour for one App (or one SNI domain of a TLS App): `entry` is its request handler. */
export function wsBehavior (entry: UpgradeEntry): WebSocketBehavior<TunnelData> {
  return {
    maxPayloadLength: MAX_MESSAGE,
    // Timeouts are the service's (tunnel.ts sweep), and pings are relayed, not made up here.
    idleTimeout: 0,
    sendPingsAutomatically: false,
    compression: 0, // uWS.DISABLED
    maxBackpressure: MAX_BACKPRESSURE,
    upgrade (res, req, context) {
      entry(res, req, webSocketUpgrade(req, context))
    },
    open: (ws) => { clientOpened(ws as ClientSocket) },
    message: (ws, message, isBinary) => { clientMessage(ws as ClientSocket, message, isBinary) },
    drain: (ws) => { clientDrained(ws as ClientSocket) },
    ping: (ws, message) => { clientPing(ws as ClientSocket, message) },
    pong: (ws, message) => { clientPong(ws as ClientSocket, message) },
    close: (ws, code, message) => { clientClosed(ws as ClientSocket, code, message) },
  }
}
