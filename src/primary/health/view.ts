/**
 * What `GET /upstreams/{u}/health` shows (Kong's targets DAO page_for_upstream_with_health and
 * healthcheckers.get_upstream_health / get_balancer_health, shapes only):
 *
 * - per target: `health` HEALTHY (an address serves) / UNHEALTHY (none does) / HEALTHCHECKS_OFF
 *   (checks off for the upstream, or weight 0) / DNS_ERROR (no address), and `data` =
 *   `{host, port, dns, nodeWeight, weight: {total, available, unavailable}, addresses: [{ip, port, weight, health}]}`;
 * - the balancer: `{health, balancer_health, id, details: {healthy, weight, hosts}}`, healthy when
 *   the available share of the weight is above `healthchecks.threshold` percent.
 */
import { isIP } from 'node:net'
import { servesTraffic } from './state.ts'
import type { HealthRegistry, TargetState, UpstreamState } from './registry.ts'

export type Health = 'HEALTHY' | 'UNHEALTHY' | 'HEALTHCHECKS_OFF' | 'DNS_ERROR'

export interface TargetStatus {
  host: string
  port: number
  dns: string
  nodeWeight: number
  weight: { total: number; available: number; unavailable: number }
  addresses: Array<{ ip: string; port: number; weight: number; health: Health }>
}

function targetStatus (u: UpstreamState, t: TargetState): TargetStatus {
  const on = u.checks.using && t.weight > 0
  let total = 0
  let unavailable = 0
  const addresses: TargetStatus['addresses'] = []
  for (const a of t.addresses.values()) {
    const up = !on || servesTraffic(a.c.health)
    total += t.weight
    if (!up) unavailable += t.weight
    addresses.push({ ip: a.ip, port: a.port, weight: t.weight, health: on ? (up ? 'HEALTHY' : 'UNHEALTHY') : 'HEALTHCHECKS_OFF' })
  }
  return {
    host: isIP(t.host) === 6 ? `[${t.host}]` : t.host,
    port: t.port,
    dns: t.resolved ? t.dns : 'unknown',
    nodeWeight: t.weight,
    weight: { total, available: total - unavailable, unavailable },
    addresses,
  }
}

/** The target's health and data; DNS_ERROR without data when the balancer does not hold it. */
export function targetHealth (r: HealthRegistry, upstreamId: string, target: string): { health: Health; data?: TargetStatus } {
  const u = r.upstreams.get(upstreamId)
  const t = u?.targets.get(target)
  if (u === undefined || t === undefined) return { health: 'DNS_ERROR' }
  const data = targetStatus(u, t)
  if (data.addresses.length === 0) return { health: 'DNS_ERROR', data }
  let health: Health = 'HEALTHCHECKS_OFF'
  for (const a of data.addresses) {
    if (a.health === 'HEALTHY') { health = 'HEALTHY'; break }
    if (a.health === 'UNHEALTHY') health = 'UNHEALTHY'
  }
  return { health, data }
}

export function balancerHealth (r: HealthRegistry, upstreamId: string): Record<string, unknown> | null {
  const u = r.upstreams.get(upstreamId)
  if (u === undefined) return null
  const hosts: TargetStatus[] = []
  let total = 0
  let unavailable = 0
  for (const t of u.targets.values()) {
    const s = targetStatus(u, t)
    hosts.push(s)
    total += s.weight.total
    unavailable += s.weight.unavailable
  }
  const healthy = total > 0 && (total - unavailable) / total * 100 > u.checks.threshold
  const balancer = healthy ? 'HEALTHY' : 'UNHEALTHY'
  return {
    health: u.checks.using ? balancer : 'HEALTHCHECKS_OFF',
    balancer_health: balancer,
    id: upstreamId,
    details: { healthy, weight: { total, available: total - unavailable, unavailable }, hosts },
  }
}
