/**
 * The worker's balancing state, across snapshots: one DnsCache (Kong's dns_* keys), the live
 * balancers by identity, the node's health verdicts by upstream, the passive-report batch, and
 * the per-address pools (through upstreams.ts).
 *
 * - compile.ts calls compileServiceBalancing() for every service: a service whose host names an
 *   upstream gets that upstream's balancer (its port is ignored), any other gets a one-target
 *   balancer on host:port (a plain DNS lookup in Kong). A balancer whose upstream row and targets
 *   did not change is reused as it is.
 * - The result hangs on the service's UpstreamTarget (same key, same target across snapshots and
 *   deltas). UpstreamRegistry.reconcile(targets) after every compile calls pruneBalancers():
 *   balancers no target uses stop refreshing, and pools no live address uses are retired.
 * - main.ts hands `upstream-health` messages to applyUpstreamHealth().
 * - Passive reports go to the primary in one `passive-health` message per event-loop turn.
 */
import { isIPv4 } from 'node:net'
import { parentPort, workerData } from 'node:worker_threads'
import { DnsCache, dnsOptionsFromConfig, type DnsStatsReport } from '../../common/dns.ts'
import type { PassiveReport, UpstreamHealthMessage } from '../../common/health.ts'
import type { ServiceRow, Snapshot } from '../../common/snapshot.ts'
import type { WorkerData } from '../../common/protocol.ts'
import { currentRegistry, type PoolTarget, type UpstreamPool } from '../upstreams.ts'
import type { Address } from './address.ts'
import { Balancer, type BalancerSpec, type TargetSpec } from './balancer.ts'
import { compileHashSpec } from './hash-on.ts'
import type { UpstreamTls } from '../upstream-tls.ts'

/** What a compiled service balances with. */
export interface ServiceBalancing {
  readonly balancer: Balancer
  readonly https: boolean
  /** Index into Address.pools: (protocol, connect timeout, TLS profile). */
  readonly profile: number
  readonly protocol: 'http' | 'https'
  readonly connectTimeout: number
  readonly tlsVerify: boolean
  /** https: the TLS profile (upstream-tls.ts); null for http. */
  readonly tls: UpstreamTls | null
}

type Row = Record<string, unknown>

const NO_UNHEALTHY: ReadonlySet<string> = new Set()

let dns: DnsCache | null = null
/** Every balancer the current (or a compiling) snapshot uses. */
const live = new Map<string, Balancer>()
/** upstreamId -> `target|address` of unhealthy addresses. */
const health = new Map<string, Set<string>>()
const profiles = new Map<string, number>()

let indexed: Snapshot | null = null
let upstreamsByName = new Map<string, Row>()
let targetsByUpstream = new Map<string, Row[]>()

/** The worker's DnsCache, from the node's dns_* configuration (defaults off-thread). */
export function dnsCache (): DnsCache {
  if (dns === null) {
    const data = workerData as WorkerData | null
    const raw = (data?.config as { raw?: Record<string, string> } | undefined)?.raw ?? {}
    dns = new DnsCache(dnsOptionsFromConfig(raw))
  }
  return dns
}

/** The statistics of the worker's DnsCache (GET /status/dns); none before it is first used. */
export function dnsStats (): DnsStatsReport {
  return dns === null ? { stats: {}, lastAt: {} } : dns.stats()
}

/** Tests: a DnsCache of their own. */
export function setDnsCache (d: DnsCache): void {
  dns = d
}

function index (snap: Snapshot): void {
  if (indexed === snap) return
  indexed = snap
  upstreamsByName = new Map()
  targetsByUpstream = new Map()
  for (const u of (snap.entities.upstreams ?? []) as Row[]) {
    if (typeof u.name === 'string') upstreamsByName.set(u.name.toLowerCase(), u)
  }
  for (const t of (snap.entities.targets ?? []) as Row[]) {
    const up = (t.upstream as { id?: string } | null)?.id
    if (typeof up !== 'string') continue
    let list = targetsByUpstream.get(up)
    if (list === undefined) { list = []; targetsByUpstream.set(up, list) }
    list.push(t)
  }
}

/** `host[:port]` (IPv6 bracketed) of a target row; Kong's default port 8000. */
export function splitTarget (target: string): { host: string; port: number } {
  if (target.startsWith('[')) {
    const end = target.indexOf(']')
    const host = target.slice(1, end)
    const rest = target.slice(end + 1)
    return { host, port: rest.startsWith(':') ? Number(rest.slice(1)) : 8000 }
  }
  const colon = target.lastIndexOf(':')
  if (colon > 0 && target.indexOf(':') === colon) return { host: target.slice(0, colon), port: Number(target.slice(colon + 1)) }
  return { host: target, port: 8000 }
}

function num (v: unknown, d: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : d
}

function passiveOn (u: Row): boolean {
  const p = ((u.healthchecks as Row | null)?.passive ?? null) as Row | null
  if (p === null) return false
  const h = (p.healthy ?? {}) as Row
  const un = (p.unhealthy ?? {}) as Row
  return num(h.successes, 0) > 0 || num(un.tcp_failures, 0) > 0 || num(un.timeouts, 0) > 0 || num(un.http_failures, 0) > 0
}

function upstreamSpec (u: Row): BalancerSpec {
  const id = String(u.id)
  const rows = (targetsByUpstream.get(id) ?? []).slice().sort((a, b) => String(a.target) < String(b.target) ? -1 : 1)
  const targets: TargetSpec[] = rows.map((t) => {
    const { host, port } = splitTarget(String(t.target))
    return { target: String(t.target), host, port, weight: num(t.weight, 100) }
  })
  const hc = (u.healthchecks ?? null) as Row | null
  const { created_at: _c, updated_at: _u, tags: _t, ...shape } = u
  return {
    key: `u|${id}|${JSON.stringify(shape)}|${JSON.stringify(targets)}`,
    upstreamId: id,
    algorithm: typeof u.algorithm === 'string' ? u.algorithm : 'round-robin',
    slots: num(u.slots, 10000),
    hashSpec: compileHashSpec(u),
    threshold: num(hc?.threshold, 0),
    passive: passiveOn(u),
    hostHeader: typeof u.host_header === 'string' && u.host_header !== '' ? u.host_header : null,
    targets,
  }
}

function plainSpec (host: string, port: number): BalancerSpec {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  return {
    key: `p|${h}|${port}`,
    upstreamId: '',
    algorithm: 'round-robin',
    slots: 10000,
    hashSpec: null,
    threshold: 0,
    passive: false,
    hostHeader: null,
    targets: [{ target: `${host}:${port}`, host: h, port, weight: 100 }],
  }
}

/** compile.ts hook: the balancer of one service of the snapshot being compiled. */
export function compileServiceBalancing (s: ServiceRow, snap: Snapshot, protocol: 'http' | 'https', tls: UpstreamTls | null = null): ServiceBalancing {
  index(snap)
  const u = upstreamsByName.get(s.host.toLowerCase())
  const spec = u !== undefined ? upstreamSpec(u) : plainSpec(s.host, s.port)
  let b = live.get(spec.key)
  if (b === undefined || b.disposed) {
    b = new Balancer(spec, dnsCache(), health.get(spec.upstreamId) ?? NO_UNHEALTHY)
    live.set(spec.key, b)
  }
  const pk = `${protocol}|${s.connect_timeout}|${tls === null ? '' : tls.key}`
  let profile = profiles.get(pk)
  if (profile === undefined) { profile = profiles.size; profiles.set(pk, profile) }
  return { balancer: b, https: protocol === 'https', profile, protocol, connectTimeout: s.connect_timeout, tlsVerify: tls !== null && tls.verify, tls }
}

/**
 * After a compile (UpstreamRegistry.reconcile with the targets the compiled services use):
 * balancers none of them uses stop refreshing and are forgotten, and so are the pools of profiles
 * (`usedProfiles`: ServiceBalancing.profile) none of them uses. Returns the pool keys live
 * addresses use (the registry retires the rest).
 */
export function pruneBalancers (used: ReadonlySet<Balancer>, usedProfiles?: ReadonlySet<number>): Set<string> {
  for (const [k, b] of live) {
    if (used.has(b)) continue
    b.dispose()
    live.delete(k)
  }
  indexed = null
  const keep = new Set<string>()
  for (const b of live.values()) {
    for (const a of b.addresses) {
      const pools = a.pools
      for (let i = 0; i < pools.length; i++) {
        const p = pools[i]
        if (p === undefined) continue
        // A profile no service uses any more (a client certificate or CA replaced): its pools go.
        if (usedProfiles !== undefined && !usedProfiles.has(i)) pools[i] = undefined
        else keep.add(p.key)
      }
      const sni = a.sniPools
      if (sni === null) continue
      for (let i = 0; i < sni.length; i++) {
        const m = sni[i]
        if (m === undefined) continue
        if (usedProfiles !== undefined && !usedProfiles.has(i)) sni[i] = undefined
        else for (const p of m.values()) keep.add(p.key)
      }
    }
  }
  return keep
}

/** The pool for one try to `a` for service `sb` (created on first use, replaced once retired). */
export function poolFor (a: Address, sb: ServiceBalancing): UpstreamPool {
  const p = a.pools[sb.profile]
  if (p !== undefined && !p.retired) return p
  const pool = makePool(a, sb, sb.https ? a.servername : null)
  a.pools[sb.profile] = pool
  return pool
}

function makePool (a: Address, sb: ServiceBalancing, sni: string | null): UpstreamPool {
  const host = a.ip.includes(':') ? `[${a.ip}]` : a.ip
  const t: PoolTarget = {
    key: `${sb.protocol}://${host}:${a.port}|${sb.connectTimeout}|${sb.tls === null ? '' : sb.tls.key}|${sni ?? ''}`,
    protocol: sb.protocol,
    host: a.ip,
    port: a.port,
    origin: `${sb.protocol}://${host}:${a.port}`,
    connectTimeout: sb.connectTimeout,
    tlsVerify: sb.tlsVerify,
    tls: sb.tls,
    servername: sni,
  }
  return currentRegistry().pool(t)
}

/**
 * The TLS server name for an upstream Host value (nginx ngx_http_upstream_ssl_name on Kong's
 * `proxy_ssl_name $upstream_host`): the name without its port; none for an IP literal.
 */
export function sniOfHost (host: string): string | null {
  if (host.length === 0 || host.charCodeAt(0) === 91) return null // '[': IPv6 literal
  const colon = host.indexOf(':')
  const name = colon < 0 ? host : host.slice(0, colon)
  return name.length === 0 || isIPv4(name) ? null : name
}

/** SNI pools one address keeps per profile; past it the oldest is retired (Hosts are the client's). */
const SNI_POOLS_MAX = 64

/**
 * The pool for a try to `a` whose upstream Host is `host` rather than the address's own name
 * (preserve_host, or a plugin's Host on an https service): Kong sends that name as SNI and keeps
 * its connections apart (kong/init.lua balancer: pool `ip|port|upstream_host|...`).
 */
export function poolForHost (a: Address, sb: ServiceBalancing, host: string): UpstreamPool {
  const sni = sniOfHost(host)
  if (sni === a.servername) return poolFor(a, sb)
  const byProfile = a.sniPools ??= []
  let m = byProfile[sb.profile]
  if (m === undefined) { m = new Map(); byProfile[sb.profile] = m }
  const k = sni ?? ''
  const p = m.get(k)
  if (p !== undefined && !p.retired) return p
  if (p === undefined && m.size >= SNI_POOLS_MAX) {
    const [oldKey, old] = m.entries().next().value!
    m.delete(oldKey)
    currentRegistry().retire(old)
  }
  const pool = makePool(a, sb, sni)
  m.delete(k)
  m.set(k, pool)
  return pool
}

/** `upstream-health` from the primary: availability of every address of the upstreams named. */
export function applyUpstreamHealth (msg: UpstreamHealthMessage): void {
  const touched = new Set<string>()
  if (msg.full) {
    for (const id of health.keys()) touched.add(id)
    health.clear()
  }
  for (const e of msg.entries) {
    let set = health.get(e.upstreamId)
    if (set === undefined) { set = new Set(); health.set(e.upstreamId, set) }
    const k = `${e.target}|${e.address}`
    if (e.healthy) set.delete(k)
    else set.add(k)
    touched.add(e.upstreamId)
  }
  if (touched.size === 0) return
  for (const b of live.values()) {
    if (b.upstreamId !== '' && touched.has(b.upstreamId)) b.setUnhealthy(health.get(b.upstreamId) ?? NO_UNHEALTHY)
  }
}

let batch: PassiveReport[] = []
let flushScheduled = false

function flush (): void {
  flushScheduled = false
  const reports = batch
  batch = []
  if (reports.length === 0 || parentPort === null) return
  const workerId = (workerData as WorkerData | null)?.workerId ?? 0
  parentPort.postMessage({ type: 'passive-health', workerId, reports })
}

/** One real outcome of a try to `a` of balancer `b` (only for upstreams with passive checks on). */
export function reportPassive (b: Balancer, a: Address, kind: PassiveReport['kind'], status: number): void {
  batch.push({ upstreamId: b.upstreamId, target: a.target, address: a.key, kind, status })
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flush)
  }
}
