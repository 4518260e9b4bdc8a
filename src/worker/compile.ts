/**
 * Snapshot -> CompiledSnapshot: the router plus, per route, a camelCase object with everything the
 * hot path needs already decided (upstream target, Host header, timeouts, retries, HTTPS-only and
 * gRPC flags). Nothing here runs per request.
 *
 * Kong rules applied here (kong/runloop/handler.lua `new_router`, kong/init.lua):
 * - services with `enabled = false` are left out together with their routes (those requests 404);
 * - a route without a service stays in the router and answers 503 `no Service found ...`;
 * - stream-only routes (tcp, tls, udp, tls_passthrough) are not HTTP routes.
 *
 * Services sharing (protocol, host, port, connect timeout, TLS profile) share one UpstreamTarget
 * and therefore one connection pool (upstreams.ts assigns pools after compile). The TLS profile of
 * an https service (client certificate, verification, trust store, depth) is upstream-tls.ts's.
 */
import type { RouteRow, ServiceRow, Snapshot } from '../common/snapshot.ts'
import type { RouterEntry } from '../router/types.ts'
import { buildRouter, type TraditionalRouter } from '../router/traditional.ts'
import { log } from '../common/log.ts'
import type { UpstreamPool } from './upstreams.ts'
import { compileServiceBalancing, type ServiceBalancing } from './balancer/runtime.ts'
import { HANDLERS } from '../plugins/handlers.ts'
import type { AnyPluginHandler } from '../plugins/types.ts'
import { compilePlugins, type CompiledPlugins, type PhaseChains } from './plugin-chains.ts'
import { upstreamTls, type UpstreamTls } from './upstream-tls.ts'

export interface UpstreamTarget {
  /** Pool identity: same key, same pool across snapshots. */
  readonly key: string
  readonly protocol: 'http' | 'https'
  readonly host: string
  readonly port: number
  /** `http://host:port` as undici wants it (IPv6 hosts bracketed). */
  readonly origin: string
  /** Upstream `Host` when preserve_host is off: host, plus `:port` unless it is the default port. */
  readonly hostHeader: string
  readonly connectTimeout: number
  readonly tlsVerify: boolean
  /** https: the service's TLS profile (upstream-tls.ts); null for http. */
  readonly tls: UpstreamTls | null
  /** Assigned by UpstreamRegistry.reconcile() once the whole snapshot compiled. */
  pool: UpstreamPool | null
  /** Balancer hook (balancer/runtime.ts): the upstream or DNS balancer this target's tries pick from. */
  balancing: ServiceBalancing | null
}

export interface CompiledService {
  /** The Kong row (kong.router.get_service(), logs). */
  readonly row: ServiceRow
  readonly id: string
  readonly name: string | null
  readonly target: UpstreamTarget
  readonly readTimeout: number
  readonly writeTimeout: number
  readonly retries: number
}

export interface CompiledRoute {
  readonly id: string
  readonly name: string | null
  /** null: 503 no Service found. */
  readonly service: CompiledService | null
  /** protocols has https but not http: plain-http requests get 426 or a redirect. */
  readonly httpsOnly: boolean
  readonly redirectStatus: number
  /** grpc/grpcs route: never servable over HTTP/1.1 (426 or 415, as Kong). */
  readonly grpc: boolean
  readonly preserveHost: boolean
  /** Plugin chains for requests on this route (null: no plugin applies). */
  readonly plugins: PhaseChains | null
}

export interface CompiledSnapshot {
  readonly version: number
  readonly hash: string
  readonly router: TraditionalRouter<CompiledRoute>
  readonly targets: readonly UpstreamTarget[]
  readonly routeCount: number
  readonly plugins: CompiledPlugins
}

const HTTP_PROTOCOLS = new Set(['http', 'https', 'grpc', 'grpcs', 'ws', 'wss'])

function targetProtocol (p: string): 'http' | 'https' | null {
  switch (p) {
    case 'http': case 'ws': return 'http'
    case 'https': case 'wss': return 'https'
    default: return null
  }
}

function compileTarget (s: ServiceRow, ctx: ServiceContext): UpstreamTarget | null {
  const protocol = targetProtocol(s.protocol)
  if (protocol === null) return null
  const targets = ctx.targets
  const port = s.port
  const tls = protocol === 'https' ? upstreamTls(s, ctx.snap) : null
  const key = `${protocol}://${s.host}:${port}|${s.connect_timeout}|${tls === null ? '' : tls.key}`
  const known = targets.get(key)
  if (known !== undefined) return known
  const bracketed = s.host.includes(':') && !s.host.startsWith('[') ? `[${s.host}]` : s.host
  const defaultPort = protocol === 'https' ? 443 : 80
  const t: UpstreamTarget = {
    key,
    protocol,
    host: s.host,
    port,
    origin: `${protocol}://${bracketed}:${port}`,
    hostHeader: port === defaultPort ? bracketed : `${bracketed}:${port}`,
    connectTimeout: s.connect_timeout,
    tlsVerify: tls !== null && tls.verify,
    tls,
    pool: null,
    balancing: null,
  }
  targets.set(key, t)
  return t
}

function compileRoute (r: RouteRow, service: CompiledService | null, plugins: CompiledPlugins): CompiledRoute {
  const p = r.protocols ?? ['http', 'https']
  const hasHttp = p.includes('http')
  const hasHttps = p.includes('https')
  return {
    id: r.id,
    name: r.name,
    service,
    httpsOnly: hasHttps && !hasHttp,
    redirectStatus: r.https_redirect_status_code ?? 426,
    grpc: !hasHttp && !hasHttps && (p.includes('grpc') || p.includes('grpcs')),
    preserveHost: r.preserve_host === true,
    plugins: plugins.chainsFor(r.id, service === null ? null : service.id),
  }
}

/**
 * What compiling a service may read besides its row. The full compile and the incremental one
 * (compile-delta.ts) both go through compileService with it, so a rule added here holds in both.
 * Balancer hook: a service whose host names an upstream resolves it here, from `snap` (upstream
 * and target changes always recompile in full, see compile-delta.ts INCREMENTAL_TABLES).
 */
export interface ServiceContext {
  /** Targets by key, shared by services with the same (protocol, host, port, timeout, TLS profile). */
  readonly targets: Map<string, UpstreamTarget>
  readonly snap: Snapshot
}

/** null: the service is not served (disabled, or not an HTTP protocol); its routes are left out. */
export function compileService (s: ServiceRow, ctx: ServiceContext): CompiledService | null {
  if (s.enabled === false) return null
  const target = compileTarget(s, ctx)
  if (target === null) return null
  target.balancing ??= compileServiceBalancing(s, ctx.snap, target.protocol, target.tls) // balancer hook
  return {
    row: s,
    id: s.id,
    name: s.name,
    target,
    readTimeout: s.read_timeout,
    writeTimeout: s.write_timeout,
    retries: Math.max(0, s.retries ?? 0),
  }
}

/** The router entry of one route, or null when Kong leaves the route out of the HTTP router. */
export function routeEntry (r: RouteRow, services: ReadonlyMap<string, CompiledService | null>, plugins: CompiledPlugins): RouterEntry<CompiledRoute> | null {
  const protocols = r.protocols ?? ['http', 'https']
  if (!protocols.some((p) => HTTP_PROTOCOLS.has(p))) return null
  let service: CompiledService | null = null
  let servicePath: string | null = null
  if (r.service !== null && r.service !== undefined) {
    const s = services.get(r.service.id)
    // Unknown, disabled or non-HTTP service: the route is not served (Kong leaves it out).
    if (s === undefined || s === null) return null
    service = s
    servicePath = s.row.path
  }
  return { route: r, servicePath, payload: compileRoute(r, service, plugins) }
}

export function logRouterErrors (router: TraditionalRouter<CompiledRoute>): void {
  for (const e of router.errors) log.warn(`route ${e.routeId} left out of the router: ${e.message}${e.value === null ? '' : ` (${e.value})`}`)
}

/** A full compile and the parts compile-delta.ts keeps to patch it later. */
export interface FullCompile {
  compiled: CompiledSnapshot
  services: Map<string, CompiledService | null>
  entries: Map<string, RouterEntry<CompiledRoute>>
}

export function compileFull (snap: Snapshot, handlers: readonly AnyPluginHandler[] = HANDLERS, nodeId = ''): FullCompile {
  const plugins = compilePlugins(snap, handlers, nodeId)
  const ctx: ServiceContext = { targets: new Map(), snap }
  const services = new Map<string, CompiledService | null>()
  for (const s of snap.services) services.set(s.id, compileService(s, ctx))
  const entries = new Map<string, RouterEntry<CompiledRoute>>()
  for (const r of snap.routes) {
    const e = routeEntry(r, services, plugins)
    if (e !== null) entries.set(r.id, e)
  }
  const router = buildRouter([...entries.values()])
  logRouterErrors(router)
  return {
    compiled: {
      version: snap.version,
      hash: snap.hash,
      router,
      targets: usedTargets(services),
      routeCount: entries.size,
      plugins,
    },
    services,
    entries,
  }
}

/** The targets the compiled services use (the upstream pools to keep). */
export function usedTargets (services: ReadonlyMap<string, CompiledService | null>): UpstreamTarget[] {
  const out = new Set<UpstreamTarget>()
  for (const s of services.values()) if (s !== null) out.add(s.target)
  return [...out]
}

/** Throws on a snapshot it cannot serve; the caller keeps the previous one. */
export function compileSnapshot (snap: Snapshot, handlers: readonly AnyPluginHandler[] = HANDLERS, nodeId = ''): CompiledSnapshot {
  return compileFull(snap, handlers, nodeId).compiled
}
