/**
 * The upstream request as Kong builds it (kong/templates/nginx_kong.lua `location /`,
 * kong/runloop/handler.lua access.before/after; spec 03-upstream_headers_spec.lua):
 *
 * - Host: the client's Host with preserve_host, else the target host (+ `:port` unless default);
 * - the client's headers minus hop-by-hop ones (Connection, Keep-Alive, Proxy-Connection, Proxy,
 *   TE, Transfer-Encoding, Upgrade, Expect, the framing headers) and minus those its Connection
 *   header lists; TE only as `trailers` when the client asked for trailers;
 * - X-Forwarded-For appended (always); X-Forwarded-Proto/Host/Port/Path/Prefix replaced unless the
 *   client is in trusted_ips; X-Real-IP; Via appended; X-Kong-Request-Id per headers_upstream;
 * - framing re-done here: Content-Length for a known-length body, chunked otherwise (undici);
 *   nothing of the client's framing is forwarded.
 * - path: the router's upstream path plus the query string unchanged (a bare `?` kept).
 */
import { realRemoteAddr } from './client-ip.ts'
import type { RequestContext } from './context.ts'
import { VIA_TOKEN } from './responses.ts'
import { settings } from './settings.ts'

/** Client request headers Kong never forwards as received. */
const SKIP = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'proxy', 'te', 'transfer-encoding', 'content-length',
  'upgrade', 'expect', 'via', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port',
  'x-forwarded-path', 'x-forwarded-prefix', 'x-real-ip',
])

let lastHost = ''
let lastNginxHost = ''

/** nginx `$host`: the Host header lowercased, without the port (the last answer is kept). */
export function nginxHost (host: string): string {
  if (host === lastHost) return lastNginxHost
  let h = host
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']')
    if (end > 0) h = h.slice(0, end + 1)
  } else {
    const colon = h.indexOf(':')
    if (colon >= 0) h = h.slice(0, colon)
  }
  lastHost = host
  lastNginxHost = h.toLowerCase()
  return lastNginxHost
}

let lastPort = -1
let lastPortText = ''

function portText (port: number): string {
  if (port !== lastPort) {
    lastPort = port
    lastPortText = String(port)
  }
  return lastPortText
}

export function forwardedProto (ctx: RequestContext): string {
  return ctx.trusted && ctx.xForwardedProto !== null ? ctx.xForwardedProto : (ctx.tls ? 'https' : 'http') // TLS
}

export function forwardedHost (ctx: RequestContext): string {
  return ctx.trusted && ctx.xForwardedHost !== null ? ctx.xForwardedHost : nginxHost(ctx.host)
}

/** Header names a client Connection header lists for removal (Kong keeps keep-alive/close/upgrade). */
function connectionListed (value: string): string[] | null {
  const v = value.toLowerCase()
  if (v === 'keep-alive' || v === 'close' || v === 'upgrade') return null
  const out: string[] = []
  for (const t of v.split(',')) {
    const n = t.trim()
    if (n !== '') out.push(n)
  }
  return out.length > 0 ? out : null
}

function wantsTrailers (te: string): boolean {
  if (te === 'trailers') return true
  for (const t of te.toLowerCase().split(',')) {
    const semi = t.indexOf(';')
    if ((semi >= 0 ? t.slice(0, semi) : t).trim() === 'trailers') return true
  }
  return false
}

/** Fills ctx.upstreamPath and ctx.upstreamHeaders (built once; retries reuse them). */
export function buildUpstreamRequest (ctx: RequestContext): void {
  const route = ctx.route!
  const target = route.service!.target
  const match = ctx.match!
  const path = ctx.upstreamPathOverride ?? match.upstreamPath
  ctx.upstreamPath = ctx.query === null ? path : `${path}?${ctx.query}`

  const out: string[] = ['host', ctx.upstreamHost ?? (route.preserveHost ? ctx.host : target.hostHeader)]
  const h = ctx.headers
  const listed = ctx.connection === null ? null : connectionListed(ctx.connection)
  const dropRequestId = settings.upstreamRequestId
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!
    if (SKIP.has(name)) continue
    if (listed !== null && listed.includes(name)) continue
    if (dropRequestId && name === 'x-kong-request-id') continue
    out.push(name, h[i + 1]!)
  }
  if (ctx.te !== null && wantsTrailers(ctx.te)) {
    ctx.wantsTrailers = true
    out.push('te', 'trailers')
  }

  const trusted = ctx.trusted
  const peer = ctx.remoteAddr
  const remote = trusted ? (ctx.realIpValue ??= realRemoteAddr(ctx)) : peer
  out.push('x-forwarded-for', ctx.xForwardedFor !== null ? `${ctx.xForwardedFor}, ${peer}` : remote)
  out.push('x-forwarded-proto', forwardedProto(ctx))
  out.push('x-forwarded-host', forwardedHost(ctx))
  out.push('x-forwarded-port', trusted && ctx.xForwardedPort !== null ? ctx.xForwardedPort : portText(ctx.port))
  out.push('x-forwarded-path', trusted && ctx.xForwardedPath !== null ? ctx.xForwardedPath : ctx.path)
  const prefix = trusted && ctx.xForwardedPrefix !== null
    ? ctx.xForwardedPrefix
    : (match.strippedPrefix !== null && match.strippedPrefix !== '/' ? match.strippedPrefix : null)
  if (prefix !== null) out.push('x-forwarded-prefix', prefix)
  out.push('x-real-ip', remote)
  out.push('via', ctx.via === null ? VIA_TOKEN : `${ctx.via}, ${VIA_TOKEN}`)
  if (dropRequestId) out.push('x-kong-request-id', ctx.requestId)
  ctx.upstreamHeaders = out
}
