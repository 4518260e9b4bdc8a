/**
 * kong_upstream_target_health from the primary's health registry (primary/health), as Kong's
 * exporter writes it when a prometheus plugin has `upstream_health_metrics`: for every address of
 * every target of every upstream, four samples (healthchecks_off, healthy, unhealthy, dns_error),
 * 1 for the address's state and 0 for the others; a target without addresses is one `dns_error`
 * address labelled ''. The states are the ones GET /upstreams/{u}/health shows (health/view.ts).
 */
import type { HealthRegistry } from '../primary/health/registry.ts'
import { targetHealth } from '../primary/health/view.ts'
import type { TargetHealthSample } from './registry.ts'

const STATES = ['healthchecks_off', 'healthy', 'unhealthy', 'dns_error'] as const

export function targetHealthSamples (r: HealthRegistry): TargetHealthSample[] {
  const out: TargetHealthSample[] = []
  const put = (upstream: string, target: string, address: string, state: string): void => {
    for (const s of STATES) out.push({ upstream, target, address, state: s, value: s === state ? 1 : 0 })
  }
  for (const u of r.upstreams.values()) {
    for (const t of u.targets.values()) {
      const { data } = targetHealth(r, u.id, t.target)
      if (data === undefined || data.addresses.length === 0) { put(u.name, t.target, '', 'dns_error'); continue }
      // Kong's label is ip .. ":" .. port, IPv6 unbracketed.
      for (const a of data.addresses) put(u.name, t.target, `${a.ip}:${a.port}`, a.health.toLowerCase())
    }
  }
  return out
}
