/**
 * One balancer: an upstream's targets (or a plain service's host:port) turned into addresses by
 * DNS, with Kong's health rule and one algorithm (algorithms.ts). Built when a snapshot compiles
 * and kept across snapshots while the upstream and its targets are unchanged (runtime.ts), so
 * connection counts, latency measures and pools survive unrelated config changes.
 *
 *   new --all names answered from the cache--> ready
 *    |                                           ^
 *    +--some name not cached: `pending` (a request waits on it)--+
 *   ready --earliest TTL passes--> refresh those names --answer changed--> rebuild
 *   ready --health message--> availability per address, `healthy` recomputed, algorithm rebuilt
 *
 * Kong's rules (kong/runloop/balancer/balancers.lua, targets.lua):
 * - a weight-0 target is left out; each address of a target weighs the target's weight, or its
 *   SRV record's weight (0 counts as 1) with the SRV port;
 * - healthy: some weight, and (total - unavailable) / total * 100 > healthchecks.threshold;
 *   otherwise no pick (503 "failure to get a peer from the ring-balancer").
 * DNS refreshes wait at least MIN_REFRESH_MS, so a TTL-0 record does not spin.
 */
import type { DnsAddress, DnsCache } from '../../common/dns.ts'
import { DnsError } from '../../common/dns.ts'
import { log } from '../../common/log.ts'
import { Address } from './address.ts'
import { ConsistentHashing, Latency, LeastConnections, RoundRobin, type Algorithm } from './algorithms.ts'
import type { HashSpec } from './hash-on.ts'

const MIN_REFRESH_MS = 1000

export interface TargetSpec {
  /** The target row's `target` (`host:port`). */
  readonly target: string
  readonly host: string
  readonly port: number
  readonly weight: number
}

export interface BalancerSpec {
  readonly key: string
  /** '' for a plain service host. */
  readonly upstreamId: string
  readonly algorithm: string
  readonly slots: number
  readonly hashSpec: HashSpec | null
  readonly threshold: number
  readonly passive: boolean
  /** upstream.host_header. */
  readonly hostHeader: string | null
  readonly targets: readonly TargetSpec[]
}

export class Balancer {
  readonly key: string
  readonly upstreamId: string
  readonly plain: boolean
  readonly algo: Algorithm
  readonly hashing: ConsistentHashing | null
  readonly hashSpec: HashSpec | null
  readonly leastConnections: boolean
  readonly latency: boolean
  readonly passive: boolean
  readonly threshold: number
  readonly hostHeader: string | null
  readonly targets: readonly TargetSpec[]
  /** Per target: its DNS answer, its failure, or undefined before the first answer. */
  readonly answers: Array<DnsAddress[] | DnsError | undefined>
  addresses: Address[]
  healthy: boolean
  /** Some target's first resolution is in flight; resolves once it is applied. */
  pending: Promise<void> | null
  /** A plain service whose host failed to resolve (no address). */
  dnsError: DnsError | null
  #dns: DnsCache
  #unhealthy: ReadonlySet<string>
  #timer: NodeJS.Timeout | null
  disposed: boolean

  constructor (spec: BalancerSpec, dns: DnsCache, unhealthy: ReadonlySet<string>) {
    this.key = spec.key
    this.upstreamId = spec.upstreamId
    this.plain = spec.upstreamId === ''
    const hashing = spec.algorithm === 'consistent-hashing' ? new ConsistentHashing(spec.slots) : null
    this.hashing = hashing
    this.hashSpec = hashing === null ? null : spec.hashSpec
    this.leastConnections = spec.algorithm === 'least-connections'
    this.latency = spec.algorithm === 'latency'
    this.algo = hashing ?? (this.leastConnections ? new LeastConnections() : this.latency ? new Latency() : new RoundRobin())
    this.passive = spec.passive
    this.threshold = spec.threshold
    this.hostHeader = spec.hostHeader
    this.targets = spec.targets.filter((t) => t.weight > 0)
    this.answers = this.targets.map(() => undefined)
    this.addresses = []
    this.healthy = false
    this.pending = null
    this.dnsError = null
    this.#dns = dns
    this.#unhealthy = unhealthy
    this.#timer = null
    this.disposed = false
    const waits: Array<Promise<unknown>> = []
    this.targets.forEach((t, i) => {
      const known = dns.peek(t.host)
      if (known !== undefined) { this.answers[i] = known; return }
      waits.push(dns.resolve(t.host).then((a) => { this.answers[i] = a }, (e: unknown) => { this.answers[i] = asDnsError(t.host, e) }))
    })
    this.rebuild()
    if (waits.length > 0) {
      this.pending = Promise.all(waits).then(() => {
        this.pending = null
        this.rebuild()
      })
    }
  }

  /** Addresses from the answers (reusing unchanged Address objects), health applied, algorithm rebuilt. */
  rebuild (): void {
    const old = new Map<string, Address>()
    for (const a of this.addresses) old.set(`${a.target}|${a.key}|${a.weight}`, a)
    const next: Address[] = []
    let error: DnsError | null = null
    this.targets.forEach((t, i) => {
      const ans = this.answers[i]
      if (ans === undefined) return
      if (ans instanceof DnsError) { error = ans; return }
      const hostName = this.hostHeader ?? t.host
      for (const r of ans) {
        const port = r.port !== undefined && r.port !== 0 ? r.port : t.port
        const weight = r.weight !== undefined ? (r.weight === 0 ? 1 : r.weight) : t.weight
        const probe = new Address(r.ip, port, weight, t.target, hostName)
        const k = `${probe.target}|${probe.key}|${probe.weight}`
        if (next.some((x) => x.target === probe.target && x.key === probe.key)) continue
        next.push(old.get(k) ?? probe)
      }
    })
    this.addresses = next
    this.dnsError = next.length === 0 ? error : null
    this.#applyHealth()
    this.#schedule()
  }

  /** New health table for this balancer's upstream (`target|address` keys of unhealthy addresses). */
  setUnhealthy (unhealthy: ReadonlySet<string>): void {
    this.#unhealthy = unhealthy
    this.#applyHealth()
  }

  #applyHealth (): void {
    let total = 0
    let down = 0
    for (const a of this.addresses) {
      a.available = !this.#unhealthy.has(`${a.target}|${a.key}`)
      total += a.weight
      if (!a.available) down += a.weight
    }
    this.healthy = total > 0 && (total - down) / total * 100 > this.threshold
    this.algo.rebuild(this.addresses, this.targets.length)
  }

  #schedule (): void {
    if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null }
    if (this.disposed) return
    let next = Infinity
    for (const t of this.targets) {
      const e = this.#dns.expiresAt(t.host)
      if (e < next) next = e
    }
    if (next === Infinity) return
    const wait = Math.max(MIN_REFRESH_MS, next - Date.now())
    this.#timer = setTimeout(() => { this.#refresh() }, wait)
    this.#timer.unref()
  }

  #refresh (): void {
    this.#timer = null
    if (this.disposed) return
    const now = Date.now()
    const waits: Array<Promise<boolean>> = []
    this.targets.forEach((t, i) => {
      if (this.#dns.expiresAt(t.host) > now + 50) return
      waits.push(this.#dns.refresh(t.host).then((a) => {
        const changed = !sameAnswer(this.answers[i], a)
        this.answers[i] = a
        return changed
      }, (e: unknown) => {
        const changed = !(this.answers[i] instanceof DnsError)
        this.answers[i] = asDnsError(t.host, e)
        return changed
      }))
    })
    Promise.all(waits).then((changes) => {
      if (this.disposed) return
      if (changes.includes(true)) this.rebuild()
      else this.#schedule()
    }, (err: unknown) => { log.warn(`balancer ${this.key}: dns refresh failed: ${String(err)}`); this.#schedule() })
  }

  /** No longer part of the served config: stop refreshing (requests still holding it may pick). */
  dispose (): void {
    this.disposed = true
    if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null }
  }
}

function asDnsError (host: string, e: unknown): DnsError {
  return e instanceof DnsError ? e : new DnsError(host, 'ESERVFAIL', false)
}

function sameAnswer (prev: DnsAddress[] | DnsError | undefined, next: DnsAddress[]): boolean {
  if (prev === undefined || prev instanceof DnsError || prev.length !== next.length) return false
  for (let i = 0; i < next.length; i++) {
    const a = prev[i]!
    const b = next[i]!
    if (a.ip !== b.ip || a.port !== b.port || a.weight !== b.weight) return false
  }
  return true
}
