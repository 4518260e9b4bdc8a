/**
 * The node's upstream health registry (Kong's healthcheckers, one per node instead of one per
 * nginx worker). It holds, per upstream with health checks on, the state of every address of
 * every target, fed by:
 *   - active probes (active.ts, run here once per node),
 *   - passive reports the workers post (`passive-health`),
 *   - manual posts (Admin API, or another node's `balancer:post_health` cluster event),
 * and tells every worker the verdicts (`upstream-health`): the whole table to a worker that
 * becomes ready and after a configuration that changed upstreams/targets, changes otherwise
 * (batched per event-loop turn).
 *
 * Addresses come from resolving each target's host (common/dns.ts DnsCache; re-resolved when the
 * answer's TTL ends). A target with no address is Kong's DNS_ERROR. Targets of weight 0 are
 * tracked (the Admin API shows them) but never probed or counted. The state of an address
 * survives configuration changes as long as its (upstream, target, address) stays.
 */
import { isIP } from 'node:net'
import type { HealthEntry, PassiveReport, UpstreamHealthMessage } from '../../common/health.ts'
import { log } from '../../common/log.ts'
import { buildChecks, classifyStatus, type Checks } from './checks.ts'
import { countReport, forceHealth, newCounters, servesTraffic, type AddressCounters, type CounterKind } from './state.ts'
import { ActiveRunner } from './active.ts'
import type { ProbeResult } from './probe.ts'

export interface Resolved { ip: string; port?: number }
export type ResolveFn = (host: string) => Promise<Resolved[]>
/** ms epoch at which a resolution of `host` should be refreshed (Infinity: never). */
export type ExpiryFn = (host: string) => number

export interface AddressState {
  ip: string
  port: number
  /** `ip:port`, IPv6 bracketed: the key workers use. */
  address: string
  c: AddressCounters
}

export interface TargetState {
  /** The target row's `target` (`host:port`). */
  target: string
  host: string
  port: number
  weight: number
  row: Record<string, unknown>
  addresses: Map<string, AddressState>
  /** Kong's `dns` field: the record type that answered, or the resolution error. */
  dns: string
  resolved: boolean
  pending: Promise<void> | null
  refresh: NodeJS.Timeout | null
}

export interface UpstreamState {
  id: string
  name: string
  hostHeader: string | null
  hcKey: string
  checks: Checks
  targets: Map<string, TargetState>
  active: ActiveRunner | null
}

export interface HealthSink {
  broadcast (msg: UpstreamHealthMessage): void
  sendTo (workerId: number, msg: UpstreamHealthMessage): void
}

type Row = Record<string, unknown>

export function formatAddress (ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`
}

/** `host:port` / `[v6]:port` / `host` -> parts (port null when absent). */
export function splitHostPort (s: string): { host: string; port: number | null } {
  if (s.startsWith('[')) {
    const end = s.indexOf(']')
    if (end < 0) return { host: s, port: null }
    const rest = s.slice(end + 1)
    const port = rest.startsWith(':') ? Number(rest.slice(1)) : NaN
    return { host: s.slice(1, end), port: Number.isInteger(port) ? port : null }
  }
  const colon = s.lastIndexOf(':')
  if (colon < 0 || s.indexOf(':') !== colon) return { host: s, port: null }
  const port = Number(s.slice(colon + 1))
  return { host: s.slice(0, colon), port: Number.isInteger(port) && s.slice(colon + 1) !== '' ? port : null }
}

/** IPv6 in canonical form without brackets, so `[0:0:...:1]` and `::1` compare equal; other hosts as they are. */
export function canonicalIp (ip: string): string {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  if (isIP(bare) !== 6) return bare
  try { return new URL(`http://[${bare}]/`).hostname.slice(1, -1) } catch { return bare }
}

const fkId = (r: Row, f: string): string | null => {
  const v = r[f] as { id?: unknown } | null | undefined
  return typeof v?.id === 'string' ? v.id : null
}

const MIN_REFRESH_MS = 1000
const MAX_REFRESH_MS = 3_600_000

export class HealthRegistry {
  readonly upstreams = new Map<string, UpstreamState>()
  readonly #resolve: ResolveFn
  readonly #expiry: ExpiryFn
  readonly #sinks = new Set<HealthSink>()
  #pending: HealthEntry[] = []
  #flushScheduled = false
  #signature = ''
  #closed = false

  constructor (o: { resolve: ResolveFn; expiry?: ExpiryFn }) {
    this.#resolve = o.resolve
    this.#expiry = o.expiry ?? (() => Infinity)
  }

  addSink (s: HealthSink): void { this.#sinks.add(s) }
  removeSink (s: HealthSink): void { this.#sinks.delete(s) }

  /** Applies the upstreams and targets of a configuration (every row of both tables). */
  update (upstreamRows: readonly Row[], targetRows: readonly Row[]): void {
    if (this.#closed) return
    const byUpstream = new Map<string, Row[]>()
    for (const t of targetRows) {
      const u = fkId(t, 'upstream')
      if (u === null) continue
      let l = byUpstream.get(u)
      if (l === undefined) { l = []; byUpstream.set(u, l) }
      l.push(t)
    }
    const seen = new Set<string>()
    const sig: string[] = []
    for (const row of upstreamRows) {
      const id = row.id as string
      seen.add(id)
      const hcKey = JSON.stringify(row.healthchecks ?? null)
      const hostHeader = typeof row.host_header === 'string' ? row.host_header : null
      let u = this.upstreams.get(id)
      if (u === undefined) {
        u = { id, name: String(row.name), hostHeader, hcKey: '', checks: buildChecks(row.healthchecks), targets: new Map(), active: null }
        this.upstreams.set(id, u)
      }
      u.name = String(row.name)
      if (u.hcKey !== hcKey || u.hostHeader !== hostHeader) {
        u.hcKey = hcKey
        u.hostHeader = hostHeader
        u.checks = buildChecks(row.healthchecks)
        u.active?.stop()
        u.active = u.checks.active.healthyIntervalMs > 0 || u.checks.active.unhealthyIntervalMs > 0 ? new ActiveRunner(this, u) : null
      }
      const rows = byUpstream.get(id) ?? []
      const keep = new Set<string>()
      for (const tr of rows) {
        const target = String(tr.target)
        keep.add(target)
        const weight = typeof tr.weight === 'number' ? tr.weight : 100
        let t = u.targets.get(target)
        if (t === undefined) {
          const hp = splitHostPort(target)
          t = { target, host: hp.host, port: hp.port ?? 8000, weight, row: tr, addresses: new Map(), dns: 'unknown', resolved: false, pending: null, refresh: null }
          u.targets.set(target, t)
          this.#startResolve(u, t)
        }
        t.weight = weight
        t.row = tr
        sig.push(`${id}|${hcKey}|${target}|${weight}`)
      }
      for (const [k, t] of u.targets) if (!keep.has(k)) { this.#dropTarget(t); u.targets.delete(k) }
    }
    for (const [id, u] of this.upstreams) {
      if (seen.has(id)) continue
      u.active?.stop()
      for (const t of u.targets.values()) this.#dropTarget(t)
      this.upstreams.delete(id)
    }
    sig.sort()
    const signature = sig.join('\n')
    if (signature !== this.#signature) {
      this.#signature = signature
      this.#pending = []
      const msg = this.fullMessage()
      for (const s of this.#sinks) s.broadcast(msg)
    }
  }

  #dropTarget (t: TargetState): void {
    if (t.refresh !== null) clearTimeout(t.refresh)
    t.refresh = null
  }

  #startResolve (u: UpstreamState, t: TargetState): void {
    if (t.pending !== null) return
    const p = this.#resolve(t.host).then((addrs) => {
      this.#setAddresses(u, t, addrs.map((a) => ({ ip: a.ip, port: a.port ?? t.port })))
      t.dns = addrs.some((a) => a.port !== undefined) ? 'SRV' : addrs.every((a) => isIP(a.ip) === 6) ? 'AAAA' : 'A'
    }, (err: unknown) => {
      this.#setAddresses(u, t, [])
      t.dns = err instanceof Error ? err.message : String(err)
    }).finally(() => {
      t.resolved = true
      t.pending = null
      if (this.#closed || u.targets.get(t.target) !== t || this.upstreams.get(u.id) !== u) return
      const at = this.#expiry(t.host)
      if (!Number.isFinite(at)) return
      const delay = Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, at - Date.now()))
      t.refresh = setTimeout(() => { t.refresh = null; this.#startResolve(u, t) }, delay)
      t.refresh.unref()
    })
    t.pending = p
  }

  #setAddresses (u: UpstreamState, t: TargetState, list: Array<{ ip: string; port: number }>): void {
    const next = new Map<string, AddressState>()
    for (const a of list) {
      const address = formatAddress(a.ip, a.port)
      next.set(address, t.addresses.get(address) ?? { ip: a.ip, port: a.port, address, c: newCounters() })
    }
    for (const [k, a] of t.addresses) {
      // A removed address that was down: workers forget it (an address not in their table is healthy).
      if (!next.has(k) && !servesTraffic(a.c.health) && u.checks.using) this.#queue({ upstreamId: u.id, target: t.target, address: k, healthy: true })
    }
    t.addresses = next
  }

  /** Resolves once the targets named (all of the upstream's when omitted) have been resolved once. */
  async settled (upstreamId: string, targets?: readonly string[]): Promise<void> {
    const u = this.upstreams.get(upstreamId)
    if (u === undefined) return
    const waits: Array<Promise<void>> = []
    for (const t of u.targets.values()) {
      if (targets !== undefined && !targets.includes(t.target)) continue
      if (!t.resolved && t.pending !== null) waits.push(t.pending)
    }
    await Promise.all(waits)
  }

  knows (upstreamId: string, target?: string): boolean {
    const u = this.upstreams.get(upstreamId)
    return u !== undefined && (target === undefined || u.targets.has(target))
  }

  /** Every verdict, for a worker that starts or after a configuration change. */
  fullMessage (): UpstreamHealthMessage {
    const entries: HealthEntry[] = []
    for (const u of this.upstreams.values()) {
      if (!u.checks.using) continue
      for (const t of u.targets.values()) {
        if (t.weight <= 0) continue
        for (const a of t.addresses.values()) entries.push({ upstreamId: u.id, target: t.target, address: a.address, healthy: servesTraffic(a.c.health) })
      }
    }
    return { type: 'upstream-health', full: true, entries }
  }

  sendFull (sink: HealthSink, workerId: number): void {
    sink.sendTo(workerId, this.fullMessage())
  }

  #queue (e: HealthEntry): void {
    this.#pending.push(e)
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    setImmediate(() => {
      this.#flushScheduled = false
      const entries = this.#pending
      this.#pending = []
      if (entries.length === 0 || this.#closed) return
      const msg: UpstreamHealthMessage = { type: 'upstream-health', full: false, entries }
      for (const s of this.#sinks) s.broadcast(msg)
    })
  }

  #changed (u: UpstreamState, t: TargetState, a: AddressState): void {
    const healthy = servesTraffic(a.c.health)
    log.notice(`[healthchecks] upstream ${u.name} target ${t.target} address ${a.address} is now ${healthy ? 'healthy' : 'unhealthy'}`)
    this.#queue({ upstreamId: u.id, target: t.target, address: a.address, healthy })
  }

  #count (u: UpstreamState, t: TargetState, a: AddressState, kind: CounterKind, limit: number): void {
    if (countReport(a.c, kind, limit)) this.#changed(u, t, a)
  }

  /** An active probe's outcome (active.ts). */
  onProbe (u: UpstreamState, t: TargetState, a: AddressState, r: ProbeResult): void {
    if (this.upstreams.get(u.id) !== u || u.targets.get(t.target) !== t || t.addresses.get(a.address) !== a) return
    const c = u.checks.active
    if (r.kind === 'timeout') return this.#count(u, t, a, 'timeout', c.timeouts)
    if (r.kind === 'tcp_failure') return this.#count(u, t, a, 'tcp', c.tcpFailures)
    const k = classifyStatus({ healthyStatuses: c.healthyStatuses, successes: c.successes, unhealthyStatuses: c.unhealthyStatuses, httpFailures: c.httpFailures }, r.status)
    if (k !== null) this.#count(u, t, a, k.kind, k.limit)
  }

  /** Workers' passive observations (Supervisor `passive-health`). */
  onPassive (reports: readonly PassiveReport[]): void {
    for (const r of reports) {
      const u = this.upstreams.get(r.upstreamId)
      if (u === undefined || !u.checks.using) continue
      const t = u.targets.get(r.target)
      if (t === undefined || t.weight <= 0) continue
      let a = t.addresses.get(r.address)
      if (a === undefined) {
        // The worker's resolver found an address ours has not (yet): track it from now on.
        const hp = splitHostPort(r.address)
        if (isIP(hp.host) === 0 || hp.port === null) continue
        a = { ip: hp.host, port: hp.port, address: r.address, c: newCounters() }
        t.addresses.set(r.address, a)
      }
      const p = u.checks.passive
      if (r.kind === 'timeout') this.#count(u, t, a, 'timeout', p.timeouts)
      else if (r.kind === 'tcp_failure') this.#count(u, t, a, 'tcp', p.tcpFailures)
      else {
        const k = classifyStatus(p, r.status)
        if (k !== null) this.#count(u, t, a, k.kind, k.limit)
      }
    }
  }

  /**
   * A manual post (Kong's balancer.post_health): every address of the targets named `host` with
   * port `port`, or only the address `ip` when given (`host` and `ip` in canonicalIp form). Unknown addresses are ignored (Kong answers
   * success for them too). Returns an error message when the upstream has no health checker.
   */
  post (upstreamId: string, host: string, ip: string | null, port: number, healthy: boolean): string | null {
    const u = this.upstreams.get(upstreamId)
    if (u === undefined) return `Upstream ${upstreamId} has no balancer`
    if (!u.checks.using) return `no healthchecker found for ${u.name}`
    for (const t of u.targets.values()) {
      if (canonicalIp(t.host) !== host || t.weight <= 0) continue
      for (const a of t.addresses.values()) {
        if (a.port !== port || (ip !== null && canonicalIp(a.ip) !== ip)) continue
        forceHealth(a.c, healthy)
        this.#changed(u, t, a)
      }
    }
    return null
  }

  close (): void {
    this.#closed = true
    for (const u of this.upstreams.values()) {
      u.active?.stop()
      for (const t of u.targets.values()) this.#dropTarget(t)
    }
    this.upstreams.clear()
    this.#sinks.clear()
  }
}
