/**
 * The node's health checking, wired: the registry (registry.ts), its resolver (common/dns.ts), the
 * worker generations it talks to (Supervisor: `ready` -> the whole table, `passive-health` ->
 * counters; verdicts go out through `broadcastMessage`/`sendTo`), and manual posts, which reach
 * the other nodes as Kong's `balancer:post_health` cluster event (DB mode; DB-less is node-local).
 *
 * Packet of the cluster event, as Kong's (kong/db/dao/targets.lua post_health):
 *   `<target host>|<ip or empty>|<port>|<1 healthy, 0 unhealthy>|<upstream id>|<upstream name>`
 */
import { isIP } from 'node:net'
import type { Pool } from '../../db/pool.ts'
import { log } from '../../common/log.ts'
import type { PassiveHealthMessage } from '../../common/health.ts'
import { DnsCache, type DnsOptions } from '../../common/dns.ts'
import type { ClusterEvent } from '../cluster-sync.ts'
import type { Supervisor } from '../workers.ts'
import { canonicalIp, HealthRegistry, splitHostPort, type HealthSink } from './registry.ts'

export const POST_HEALTH_CHANNEL = 'balancer:post_health'

/** What the Admin API's health endpoints use (admin/routes/upstreams-health.ts). */
export interface HealthAdmin {
  readonly registry: HealthRegistry
  /**
   * Resolves when the registry reflects every configuration change committed before the call
   * (DB mode: one cluster-sync read; the registry follows the snapshot) and the upstream's
   * targets have been resolved once.
   */
  settle (upstreamId: string, targets?: readonly string[]): Promise<void>
  /**
   * A manual post for a target (all its addresses) or one `address` of it: applied on this node,
   * then announced to the others. Resolves to an error message for a 400, or null.
   */
  post (upstream: { id: string; name: string }, target: string, address: string | null, healthy: boolean): Promise<string | null>
}

export interface NodeHealthOptions {
  nodeId: string
  /** DB mode: where the cluster event goes; null in DB-less mode. */
  pool: Pool | null
  dns?: DnsOptions
  /** Brings the configuration up to date (DB mode: ClusterSync.flush). */
  catchUp?: () => Promise<void>
  /**
   * The served configuration's upstreams and targets; `generation` changes whenever it may have.
   * Read when a worker acknowledges a configuration (so verdicts follow the snapshot they apply
   * to), at attach, and before an Admin API answer.
   */
  source: { generation (): number; upstreams (): ReadonlyArray<Record<string, unknown>>; targets (): ReadonlyArray<Record<string, unknown>> }
}

export class NodeHealth {
  readonly registry: HealthRegistry
  /** The resolver of the registry's targets (its statistics go into GET /status/dns). */
  readonly dns: DnsCache
  readonly admin: HealthAdmin
  readonly #o: NodeHealthOptions
  readonly #attached = new Map<Supervisor, { sink: HealthSink; off: () => void }>()
  #generation: number | null = null

  constructor (o: NodeHealthOptions) {
    this.#o = o
    const dns = new DnsCache(o.dns ?? {})
    this.dns = dns
    this.registry = new HealthRegistry({
      resolve: async (host) => (await dns.resolve(host)).map((a) => a.port === undefined ? { ip: a.ip } : { ip: a.ip, port: a.port }),
      expiry: (host) => dns.expiresAt(host),
    })
    this.admin = {
      registry: this.registry,
      settle: async (upstreamId, targets) => {
        const known = targets === undefined ? this.registry.knows(upstreamId) : targets.every((t) => this.registry.knows(upstreamId, t))
        if (!known && o.catchUp !== undefined) await o.catchUp().catch(() => {})
        this.refresh()
        await this.registry.settled(upstreamId, targets)
      },
      post: (upstream, target, address, healthy) => this.#post(upstream, target, address, healthy),
    }
  }

  /** Reads the configuration's upstreams and targets if they may have changed. */
  refresh (): void {
    const g = this.#o.source.generation()
    if (g === this.#generation) return
    this.#generation = g
    this.registry.update(this.#o.source.upstreams(), this.#o.source.targets())
  }

  /** Listens to a worker generation (start-up and every reload). */
  attach (s: Supervisor): void {
    if (this.#attached.has(s)) return
    this.refresh()
    const sink: HealthSink = {
      broadcast: (msg) => s.broadcastMessage(msg),
      sendTo: (id, msg) => s.sendTo(id, msg),
    }
    const onReady = (id: number): void => { this.refresh(); this.registry.sendFull(sink, id) }
    const onAck = (): void => this.refresh()
    const onPassive = (msg: PassiveHealthMessage): void => this.registry.onPassive(msg.reports)
    s.on('ready', onReady)
    s.on('ack', onAck)
    s.on('passive-health', onPassive)
    this.registry.addSink(sink)
    this.#attached.set(s, { sink, off: () => { s.off('ready', onReady); s.off('ack', onAck); s.off('passive-health', onPassive) } })
  }

  detach (s: Supervisor): void {
    const a = this.#attached.get(s)
    if (a === undefined) return
    a.off()
    this.registry.removeSink(a.sink)
    this.#attached.delete(s)
  }

  async #post (upstream: { id: string; name: string }, target: string, address: string | null, healthy: boolean): Promise<string | null> {
    const t = splitHostPort(target)
    const host = canonicalIp(t.host)
    let ip: string | null = null
    let port = t.port ?? 8000
    if (address !== null) {
      const a = splitHostPort(address)
      port = a.port ?? 8000
      const bare = canonicalIp(a.host)
      ip = isIP(bare) === 0 ? null : bare
    }
    const err = this.registry.post(upstream.id, host, ip, port, healthy)
    if (err !== null) return err
    if (this.#o.pool !== null) {
      const packet = `${isIP(host) === 6 ? `[${host}]` : host}|${ip ?? ''}|${port}|${healthy ? 1 : 0}|${upstream.id}|${upstream.name}`
      await this.#o.pool.query('insert into cluster_events (node_id, channel, data) values ($1, $2, $3)', [this.#o.nodeId, POST_HEALTH_CHANNEL, packet])
        .catch((e: Error) => log.error(`[healthchecks] could not broadcast the health post of ${upstream.name}: ${e.message}`))
    }
    return null
  }

  /** Another node's manual post (cluster-sync.ts hands over `balancer:post_health` events). */
  onClusterEvent (e: ClusterEvent): void {
    if (e.nodeId === this.#o.nodeId || e.data === null) return
    const m = /^([^|]+)\|([^|]*)\|([^|]+)\|([^|]+)\|([^|]+)\|(.*)$/.exec(e.data)
    if (m === null) { log.warn(`[healthchecks] malformed ${POST_HEALTH_CHANNEL} event: ${e.data}`); return }
    const port = Number(m[3])
    if (!Number.isInteger(port)) return
    const err = this.registry.post(m[5]!, canonicalIp(m[1]!), m[2] === '' ? null : canonicalIp(m[2]!), port, m[4] === '1')
    if (err !== null) log.warn(`[healthchecks] health post from node ${e.nodeId ?? '?'}: ${err}`)
  }

  close (): void {
    for (const s of [...this.#attached.keys()]) this.detach(s)
    this.registry.close()
  }
}
