/**
 * Upstream connection pools: one transport (transport/index.ts: undici Pool or the lean `net`
 * transport, per `upstream_transport`; https targets always undici) per balancer address and
 * service profile (protocol, ip, port, connect timeout, TLS profile, SNI), made on the first
 * try to that address and reused across snapshots while a live balancer address uses it.
 *
 * Pool lifecycle:
 *
 *   live --(after a snapshot, no live address uses the key)--> retired --(active == 0)--> closed
 *
 * `active` counts requests holding the pool (acquired at routing time, released when the request
 * finishes), so a request that started on an old snapshot keeps a usable pool for its retries and
 * late dispatches; the pool closes gracefully (transport `close()`) once the last one is done.
 *
 * Keepalive follows Kong's upstream_keepalive_* settings, handed to the transport as they are:
 * idle timeout (capped by server Keep-Alive hints), max requests per connection; a pool size of 0
 * disables keepalive (proxy.ts sends every request with `reset`).
 *
 * undici Pool rather than one Client per connection on a LIFO stack: proxy-levers.md measured the
 * stack at +2-4 % RPS; built and measured here (2 workers, 100 connections, CPU per request of the
 * gateway process over 4 interleaved rounds) it made no difference (22-25 us both), so the
 * simpler Pool stays (transport/undici.ts).
 */
import type { WorkerSettings } from './settings.ts'
import { createTransport, type Transport, type TransportTarget } from './transport/index.ts'
import { pruneBalancers } from './balancer/runtime.ts'
import type { Balancer } from './balancer/balancer.ts'
import type { UpstreamTarget } from './compile.ts'

/** One address as a service profile reaches it (balancer/runtime.ts poolFor). */
export interface PoolTarget extends TransportTarget {
  /** Pool identity: protocol, ip, port, connect timeout, TLS profile (upstream-tls.ts), SNI. */
  readonly key: string
}

export class UpstreamPool {
  readonly key: string
  readonly transport: Transport
  active: number
  retired: boolean
  closed: boolean

  constructor (key: string, transport: Transport) {
    this.key = key
    this.transport = transport
    this.active = 0
    this.retired = false
    this.closed = false
  }
}

let current: UpstreamRegistry | null = null

/** The worker's registry (main.ts creates it before any snapshot compiles). */
export function currentRegistry (): UpstreamRegistry {
  if (current === null) throw new Error('no UpstreamRegistry in this thread')
  return current
}

export class UpstreamRegistry {
  readonly #pools = new Map<string, UpstreamPool>()
  readonly #settings: WorkerSettings

  constructor (settings: WorkerSettings) {
    this.#settings = settings
    current = this
  }

  get size (): number { return this.#pools.size }

  /** The live pool for `t`, created on first use (a balancer address's first try). */
  pool (t: PoolTarget): UpstreamPool {
    let p = this.#pools.get(t.key)
    if (p === undefined) {
      p = new UpstreamPool(t.key, createTransport(this.#settings.upstreamTransport, t, this.#settings))
      this.#pools.set(t.key, p)
    }
    return p
  }

  /**
   * After a snapshot compiled (main.ts, with the targets its services use): balancers no target
   * uses are dropped (balancer/runtime.ts) and pools no live balancer address uses are retired.
   * Pools are made per address on first use (poolFor), not here.
   */
  reconcile (targets: readonly UpstreamTarget[]): void {
    const used = new Set<Balancer>()
    const profiles = new Set<number>()
    for (const t of targets) {
      if (t.balancing === null) continue
      used.add(t.balancing.balancer)
      profiles.add(t.balancing.profile)
    }
    const keep = pruneBalancers(used, profiles)
    for (const [key, p] of this.#pools) {
      if (keep.has(key)) continue
      this.#pools.delete(key)
      p.retired = true
      if (p.active === 0) closePool(p)
      else retiredPools.add(p)
    }
  }

  /** Takes `p` out of service now (an SNI pool pushed out, balancer/runtime.ts): closed once no request holds it. */
  retire (p: UpstreamPool): void {
    if (this.#pools.get(p.key) === p) this.#pools.delete(p.key)
    if (p.retired) return
    p.retired = true
    if (p.active === 0) closePool(p)
    else retiredPools.add(p)
  }

  /** Closes every pool now (shutdown): in-flight requests are destroyed. */
  async destroyAll (): Promise<void> {
    const all = [...this.#pools.values(), ...retiredPools]
    this.#pools.clear()
    retiredPools.clear()
    await Promise.all(all.map(async (p) => {
      p.closed = true
      try { await p.transport.destroy() } catch { /* already gone */ }
    }))
  }
}

export function acquirePool (p: UpstreamPool): void {
  p.active++
}

export function releasePool (p: UpstreamPool): void {
  p.active--
  if (p.retired && p.active === 0) closePool(p)
}

/** Retired pools still held by requests of an older snapshot. */
const retiredPools = new Set<UpstreamPool>()

function closePool (p: UpstreamPool): void {
  retiredPools.delete(p)
  if (p.closed) return
  p.closed = true
  p.transport.close().catch(() => { /* close of a destroyed pool */ })
}
