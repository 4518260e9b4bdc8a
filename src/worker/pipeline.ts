/**
 * What happens to a request between the copy out of uWS and the upstream dispatch, in Kong's
 * order (framing checks and client_max_body_size by Content-Length ran before, in server.ts): the
 * global plugins' rewrite phase, routing (404), protocol checks (426 / redirect, gRPC: Kong's
 * access.before), the plugins' access phase, the service check (503: after the plugins, so a
 * service-less route can still be answered by request-termination), then the upstream request is
 * prepared and the body read or the request dispatched.
 *
 * Runs synchronously inside the uWS handler unless a plugin goes asynchronous, so `res.onData` is
 * attached before uWS delivers body bytes; a plugin that reads the body attaches it itself.
 */
import { ERRORS } from '../common/errors.ts'
import type { MatchInput } from '../router/types.ts'
import type { RequestContext } from './context.ts'
import { internalFailure, proceedUpstream, readPluginBody } from './proxy.ts'
import { runAccess, runRewrite } from './plugin-runner.ts'
import { sendErrorPage, sendKongError, sendRedirect } from './responses.ts'
import { cappedHeaders } from './edge.ts'
import { buildUpstreamRequest, forwardedHost, forwardedProto } from './upstream-request.ts'
import { proxyWebSocket } from './websocket/handshake.ts'

// Kong messages not (yet) in common/errors.ts.
const MSG_METHOD_NOT_ALLOWED = ERRORS.GW_ERR_METHOD_NOT_ALLOWED.message
const MSG_USE_HTTP2 = ERRORS.GW_ERR_UPGRADE_HTTP2.message
const MSG_NOT_GRPC = ERRORS.GW_ERR_NOT_GRPC.message

const UPGRADE_HTTPS_HEADERS = ['Connection', 'Upgrade', 'Upgrade', 'TLS/1.2, HTTP/1.1'] as const
const UPGRADE_HTTP2_HEADERS = ['Connection', 'Upgrade', 'Upgrade', 'HTTP/2'] as const

/** One MatchInput reused for every match: the router reads it synchronously and keeps nothing. */
const NO_HEADERS: readonly string[] = []
const input: MatchInput = { method: '', host: '', path: '', headers: NO_HEADERS, scheme: 'http', sni: null, port: 0 }


export function handleRequest (ctx: RequestContext): void {
  // 1-2. Framing (400 / 501) and client_max_body_size by Content-Length are checked before this
  //      runs, by server.ts (edge.ts edgeCheck / edgeReject).
  if (ctx.method === 'CONNECT') {
    sendErrorPage(ctx, 405, MSG_METHOD_NOT_ALLOWED)
    return
  }

  // 3. Global plugins' rewrite phase (none of the bundled HTTP plugins has one).
  const g = ctx.chains
  if (g !== null && g.rewrite !== null) {
    const r = runRewrite(ctx, g)
    if (r !== undefined) {
      holdBody(ctx)
      r.then(() => { if (!ctx.exited && !ctx.resDone) routeAndAccess(ctx) }, (err) => { internalFailure(ctx, err) })
      return
    }
    if (ctx.exited || ctx.resDone) return
  }
  routeAndAccess(ctx)
}

function routeAndAccess (ctx: RequestContext): void {
  // 4. Route.
  input.method = ctx.method
  input.host = ctx.host
  input.path = ctx.path
  // Kong's router sees only the first lua_max_req_headers fields (ngx.req.get_headers() truncated).
  input.headers = cappedHeaders(ctx)
  input.port = ctx.port
  input.scheme = ctx.tls ? 'https' : 'http' // TLS: Kong's net.protocol
  input.sni = ctx.sni // TLS
  let m
  try {
    m = ctx.snap.router.match(input)
  } catch {
    m = undefined
  }
  input.headers = NO_HEADERS
  if (m === undefined) {
    sendErrorPage(ctx, 400, ERRORS.GW_ERR_BAD_REQUEST.message)
    return
  }
  if (m === null) {
    sendKongError(ctx, 404, ERRORS.GW_ERR_NO_ROUTE.message)
    return
  }
  ctx.match = m
  const route = m.payload
  ctx.route = route

  // 5. Protocol checks (handler.lua access.before).
  if (route.httpsOnly && forwardedProto(ctx) !== 'https') {
    const code = route.redirectStatus
    if (code === 426) {
      sendKongError(ctx, 426, ERRORS.GW_ERR_UPGRADE_HTTPS.message, UPGRADE_HTTPS_HEADERS)
      return
    }
    if (code === 301 || code === 302 || code === 307 || code === 308) {
      const uri = ctx.query === null ? ctx.path : `${ctx.path}?${ctx.query}`
      sendRedirect(ctx, code, `https://${forwardedHost(ctx)}${uri}`)
      return
    }
  }
  if (route.grpc) {
    const ct = ctx.contentType
    if (ct !== null && ct.startsWith('application/grpc')) sendKongError(ctx, 426, MSG_USE_HTTP2, UPGRADE_HTTP2_HEADERS)
    else sendKongError(ctx, 415, MSG_NOT_GRPC)
    return
  }

  // 6. Plugins' access phase: from here the route's chains are the request's.
  const chains = route.plugins
  ctx.chains = chains
  if (chains !== null && chains.access !== null) {
    const r = runAccess(ctx)
    if (r !== undefined) {
      holdBody(ctx)
      r.then(() => { afterAccess(ctx) }, (err) => { internalFailure(ctx, err) })
      return
    }
  }
  afterAccess(ctx)
}

/**
 * A plugin went asynchronous: uWS delivers body bytes only to a handler attached now, inside its
 * callback, so the body starts being read (and held) at once.
 */
function holdBody (ctx: RequestContext): void {
  if (ctx.pluginBody !== 0 || ctx.resDone) return
  const cl = ctx.contentLength
  if ((cl !== null && cl !== '0') || ctx.transferEncoding !== null) void readPluginBody(ctx)
}

function afterAccess (ctx: RequestContext): void {
  if (ctx.exited || ctx.resDone) return
  const service = ctx.route!.service
  if (service === null) {
    sendKongError(ctx, 503, ERRORS.GW_ERR_NO_SERVICE.message)
    return
  }

  // 7. Upstream (each try picks its peer and pool: proxy.ts dispatchAttempt).
  buildUpstreamRequest(ctx)
  // A WebSocket handshake without a body is proxied as one (websocket/tunnel.ts); with a body it
  // is an ordinary request.
  if (ctx.ws !== null && (ctx.contentLength === null || ctx.contentLength === '0') && ctx.transferEncoding === null) {
    proxyWebSocket(ctx)
    return
  }
  proceedUpstream(ctx)
}
