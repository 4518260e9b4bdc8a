/**
 * The prometheus plugin's switches (kong/plugins/prometheus/handler.lua and exporter.lua).
 *
 * Per request (handler `log`): the instance that applies to the request (Kong's scope lookup, done
 * once per compiled plugin chain in worker/plugin-chains.ts) says which of the route's series the
 * request feeds: `status_code_metrics` (kong_http_requests_total), `latency_metrics` (the three
 * latency histograms), `bandwidth_metrics` (kong_bandwidth_bytes), and `per_consumer` (the
 * consumer label: the authenticated consumer's username, '' without one or without the flag).
 *
 * Node-wide (exporter `configure`): the request families are exported only while at least one
 * prometheus instance is enabled, and kong_upstream_target_health has samples only while one sets
 * `upstream_health_metrics`. `ai_metrics` and `wasm_metrics` are accepted and have nothing to
 * record (Sluice runs no AI proxy plugin and no Wasm filters).
 */

/** One instance's per-request switches, built once per snapshot (handler `prepare`). */
export interface PrometheusFlags {
  readonly perConsumer: boolean
  readonly status: boolean
  readonly latency: boolean
  readonly bandwidth: boolean
  /** status || latency || bandwidth: the request feeds some series. */
  readonly any: boolean
}

export function prepareFlags (conf: Record<string, unknown> | null | undefined): PrometheusFlags {
  const c = conf ?? {}
  const status = c.status_code_metrics === true
  const latency = c.latency_metrics === true
  const bandwidth = c.bandwidth_metrics === true
  return Object.freeze({ perConsumer: c.per_consumer === true, status, latency, bandwidth, any: status || latency || bandwidth })
}

export interface ExportSwitches {
  /** An enabled prometheus instance exists (Kong's IS_PROMETHEUS_ENABLED). */
  enabled: boolean
  /** One of them sets upstream_health_metrics. */
  upstreamHealth: boolean
}

/** Kong's exporter `configure`: the node-wide switches from the plugin rows. */
export function exportSwitches (plugins: ReadonlyArray<Record<string, unknown>>): ExportSwitches {
  let enabled = false
  let upstreamHealth = false
  for (const p of plugins) {
    if (p.name !== 'prometheus' || p.enabled === false) continue
    enabled = true
    const c = p.config as { upstream_health_metrics?: unknown } | null | undefined
    if (c?.upstream_health_metrics === true) { upstreamHealth = true; break }
  }
  return { enabled, upstreamHealth }
}

/**
 * The switches as the last scrape saw them. primary/main.ts and primary/dbless.ts call
 * upstreamHealthMetricsOn with the node's plugin rows at every scrape (their targetHealth source);
 * the exposition reads `enabled` from here right after. null: no such source is registered (a
 * store rendered on its own, in unit tests): the request families are then shown.
 */
let lastSwitches: ExportSwitches | null = null

export function lastExportSwitches (): ExportSwitches | null {
  return lastSwitches
}

/** `upstream_health_metrics`: kong_upstream_target_health has samples only when one instance sets it. */
export function upstreamHealthMetricsOn (plugins: ReadonlyArray<Record<string, unknown>>): boolean {
  lastSwitches = exportSwitches(plugins)
  return lastSwitches.upstreamHealth
}
