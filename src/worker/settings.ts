/**
 * The worker's view of the node configuration, derived once at thread start from the Config the
 * primary passes in `workerData`: which Kong headers go out (`headers`, `headers_upstream`, expanded
 * as kong/conf_loader/init.lua does for `server_tokens` / `latency_tokens`), the compiled
 * `trusted_ips`, limits (`lua_max_uri_args`, `lua_max_post_args` among them), upstream keepalive settings
 * and the upstream transport (`upstream_transport`).
 * Nothing here changes per request.
 */
import type { Config } from '../config/load.ts'
import { parseTransportKind, type TransportKind } from './transport/index.ts'
import { compileTrustedIps, type TrustedIps } from './trusted-ips.ts'

export interface WorkerSettings {
  /** `Server` on gateway responses, and on proxied ones when the upstream sent none. */
  readonly hdrServer: boolean
  readonly hdrVia: boolean
  readonly hdrProxyLatency: boolean
  readonly hdrUpstreamLatency: boolean
  readonly hdrResponseLatency: boolean
  readonly hdrRequestId: boolean
  readonly hdrUpstreamStatus: boolean
  /** `X-Kong-Request-Id` on upstream requests (`headers_upstream`). */
  readonly upstreamRequestId: boolean
  readonly trusted: TrustedIps
  /** Lowercase `real_ip_header`; '' when it names no header (`proxy_protocol`). */
  readonly realIpHeader: string
  /** `real_ip_recursive`: skip trusted addresses from the right of the real IP header. */
  readonly realIpRecursive: boolean
  readonly errorDefaultType: string
  /** Largest request body in bytes; 0: unlimited. */
  readonly clientMaxBodySize: number
  readonly keepalivePoolSize: number
  readonly keepaliveMaxRequests: number
  readonly keepaliveIdleTimeoutMs: number
  /** `upstream_transport`: which client sends to plain-http targets (https always uses undici). */
  readonly upstreamTransport: TransportKind
  /** `lua_max_uri_args`: query arguments kong.request.get_query returns. */
  readonly maxUriArgs: number
  /** `lua_max_post_args`: form-body arguments kong.request.get_body returns. */
  readonly maxPostArgs: number
  /** `proxy_ssl_verify`: verify https upstreams whose service has tls_verify null (upstream-tls.ts). */
  readonly proxySslVerify: boolean
  /** `proxy_ssl_verify_depth`: for services whose tls_verify_depth is null. */
  readonly proxySslVerifyDepth: number
  /** `proxy_ssl_trusted_certificate`: its PEM text, `system`, or null (nothing trusted). */
  readonly proxySslTrusted: string | null
}

/** Accepts the structured-cloned Config (Sets survive the clone; arrays may arrive as arrays). */
export function buildSettings (config: Config): WorkerSettings {
  const headers = toSet(config.headers)
  const up = toSet(config.headersUpstream)
  const server = headers.has('server_tokens') || headers.has('server')
  const via = headers.has('server_tokens') || headers.has('via')
  const latency = headers.has('latency_tokens')
  const realIp = (config.realIpHeader ?? '').toLowerCase()
  return {
    hdrServer: server,
    hdrVia: via,
    hdrProxyLatency: latency || headers.has('x-kong-proxy-latency'),
    hdrUpstreamLatency: latency || headers.has('x-kong-upstream-latency'),
    hdrResponseLatency: latency || headers.has('x-kong-response-latency'),
    hdrRequestId: headers.has('x-kong-request-id'),
    hdrUpstreamStatus: headers.has('x-kong-upstream-status'),
    upstreamRequestId: up.has('x-kong-request-id'),
    trusted: compileTrustedIps(config.trustedIps ?? []),
    realIpHeader: realIp === 'proxy_protocol' ? '' : realIp,
    realIpRecursive: config.realIpRecursive === true,
    errorDefaultType: config.errorDefaultType || 'text/plain',
    clientMaxBodySize: config.clientMaxBodySize ?? 0,
    keepalivePoolSize: config.upstreamKeepalivePoolSize ?? 512,
    keepaliveMaxRequests: config.upstreamKeepaliveMaxRequests ?? 10000,
    keepaliveIdleTimeoutMs: config.upstreamKeepaliveIdleTimeoutMs ?? 60000,
    upstreamTransport: parseTransportKind(config.upstreamTransport),
    maxUriArgs: config.luaMaxUriArgs ?? 100,
    maxPostArgs: config.luaMaxPostArgs ?? 100,
    proxySslVerify: config.proxySslVerify === true,
    proxySslVerifyDepth: config.proxySslVerifyDepth ?? 1,
    proxySslTrusted: config.proxySslTrusted ?? null,
  }
}

function toSet (v: Iterable<string> | null | undefined): Set<string> {
  const s = new Set<string>()
  if (v == null) return s
  for (const h of v) {
    const l = h.toLowerCase()
    if (l !== 'off') s.add(l)
  }
  return s
}

/** The worker's settings, set once by main.ts before anything is served (a live binding). */
export let settings: WorkerSettings = buildSettings({} as Config)

export function initSettings (config: Config): WorkerSettings {
  settings = buildSettings(config)
  return settings
}
