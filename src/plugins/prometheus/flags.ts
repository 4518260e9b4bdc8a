/**
 * Node-wide switches of the prometheus plugin (Kong's exporter `configure`): a family that Kong
 * exports only when at least one enabled prometheus plugin asks for it.
 */

/** `upstream_health_metrics`: kong_upstream_target_health has samples only when one instance sets it. */
export function upstreamHealthMetricsOn (plugins: ReadonlyArray<Record<string, unknown>>): boolean {
  for (const p of plugins) {
    if (p.name !== 'prometheus' || p.enabled === false) continue
    const c = p.config as { upstream_health_metrics?: unknown } | null | undefined
    if (c?.upstream_health_metrics === true) return true
  }
  return false
}
