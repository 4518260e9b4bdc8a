/**
 * Upstream connection pools: one transport (transport/index.ts: undici Pool or the lean `net`
 * transport, per `upstream_transport`; https targets always undici) per target key (protocol,
 * host, port, connect timeout, TLS verification), reused across snapshots while the key stays
 * referenced.
 *
 * Pool lifecycle:
 *
 *   live --(a new snapshot no longer references the key)--> retired --(active == 0)--> closed
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
import type { UpstreamTarget } from './compile.ts'
import type { WorkerSettings } from './settings.ts'
import { createTransport, type Transport } from './transport/index.ts'

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

export class UpstreamRegistry {
  readonly #pools = new Map<string, UpstreamPool>()
  readonly #settings: WorkerSettings

  constructor (settings: WorkerSettings) {
    this.#settings = settings
  }

  get size (): number { return this.#pools.size }

  /**
   * Gives every target its pool (reusing live ones) and retires pools no target references. New
   * pools are created first, so a target that cannot get one leaves the registry untouched.
   */
  reconcile (targets: readonly UpstreamTarget[]): void {
    const created = new Map<string, UpstreamPool>()
    try {
      for (const t of targets) {
        if (this.#pools.has(t.key) || created.has(t.key)) continue
        created.set(t.key, new UpstreamPool(t.key, this.#createPool(t)))
      }
    } catch (err) {
      for (const p of created.values()) void p.transport.destroy().catch(() => {})
      throw err
    }
    for (const [key, p] of created) this.#pools.set(key, p)
    const keep = new Set<string>()
    for (const t of targets) {
      keep.add(t.key)
      t.pool = this.#pools.get(t.key)!
    }
    for (const [key, p] of this.#pools) {
      if (keep.has(key)) continue
      this.#pools.delete(key)
      p.retired = true
      if (p.active === 0) closePool(p)
      else retiredPools.add(p)
    }
  }

  #createPool (t: UpstreamTarget): Transport {
    return createTransport(this.#settings.upstreamTransport, t, this.#settings)
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
