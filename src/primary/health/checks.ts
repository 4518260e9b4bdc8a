/**
 * An upstream's `healthchecks` (Kong's schema, kong/db/schema/entities/upstreams.lua) turned into
 * what the registry and the prober use: status sets, millisecond timeouts, flat header pairs.
 * Rows from the cache already carry every default; missing fields fall back to Kong's defaults
 * all the same, so a partial object never throws.
 *
 * `active.type` (kong/runloop/balancer/healthcheckers.lua with lua-resty-healthcheck):
 *   http  -> GET http_path over plain HTTP          https -> the same over TLS (https_sni, verify)
 *   tcp   -> no active probes: Kong runs those in its stream subsystem only, and Sluice has no
 *            stream proxy (the intervals are set to 0; the upstream still counts as checked)
 *   grpc / grpcs -> probed as http / https. Deviation: Kong accepts the types in the upstream
 *            schema but its healthchecker refuses them ("checks.active.type can only be 'http',
 *            'https' or 'tcp'", Kong issue 13336), failing the balancer set-up.
 */

export type ActiveType = 'http' | 'https' | 'tcp' | 'grpc' | 'grpcs'

export interface ActiveChecks {
  type: ActiveType
  timeoutMs: number
  concurrency: number
  httpPath: string
  httpsVerify: boolean
  httpsSni: string | null
  /** [name, value] pairs, one per value (a header with several values is sent several times). */
  headers: Array<[string, string]>
  healthyIntervalMs: number
  healthyStatuses: ReadonlySet<number>
  successes: number
  unhealthyIntervalMs: number
  unhealthyStatuses: ReadonlySet<number>
  tcpFailures: number
  timeouts: number
  httpFailures: number
}

export interface PassiveChecks {
  healthyStatuses: ReadonlySet<number>
  successes: number
  unhealthyStatuses: ReadonlySet<number>
  tcpFailures: number
  timeouts: number
  httpFailures: number
}

export interface Checks {
  active: ActiveChecks
  passive: PassiveChecks
  threshold: number
  /** Kong's is_upstream_using_healthcheck: an active interval or a passive failure limit is set. */
  using: boolean
}

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Obj : {})
const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d)
const statuses = (v: unknown, d: number[]): Set<number> => new Set(Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : d)

const ACTIVE_HEALTHY = [200, 302]
const ACTIVE_UNHEALTHY = [429, 404, 500, 501, 502, 503, 504, 505]
const PASSIVE_HEALTHY = [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308]
const PASSIVE_UNHEALTHY = [429, 500, 503]

function headerPairs (v: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const [k, vals] of Object.entries(obj(v))) {
    if (Array.isArray(vals)) for (const x of vals) out.push([k, String(x)])
    else if (vals !== null && vals !== undefined) out.push([k, String(vals)])
  }
  return out
}

export function buildChecks (healthchecks: unknown): Checks {
  const hc = obj(healthchecks)
  const a = obj(hc.active)
  const ah = obj(a.healthy)
  const au = obj(a.unhealthy)
  const p = obj(hc.passive)
  const ph = obj(p.healthy)
  const pu = obj(p.unhealthy)
  const type = (['http', 'https', 'tcp', 'grpc', 'grpcs'] as const).find((t) => t === a.type) ?? 'http'
  const active: ActiveChecks = {
    type,
    timeoutMs: num(a.timeout, 1) * 1000,
    concurrency: Math.max(1, Math.floor(num(a.concurrency, 10))),
    httpPath: typeof a.http_path === 'string' ? a.http_path : '/',
    httpsVerify: a.https_verify_certificate !== false,
    httpsSni: typeof a.https_sni === 'string' ? a.https_sni : null,
    headers: headerPairs(a.headers),
    healthyIntervalMs: num(ah.interval, 0) * 1000,
    healthyStatuses: statuses(ah.http_statuses, ACTIVE_HEALTHY),
    successes: num(ah.successes, 0),
    unhealthyIntervalMs: num(au.interval, 0) * 1000,
    unhealthyStatuses: statuses(au.http_statuses, ACTIVE_UNHEALTHY),
    tcpFailures: num(au.tcp_failures, 0),
    timeouts: num(au.timeouts, 0),
    httpFailures: num(au.http_failures, 0),
  }
  const passive: PassiveChecks = {
    healthyStatuses: statuses(ph.http_statuses, PASSIVE_HEALTHY),
    successes: num(ph.successes, 0),
    unhealthyStatuses: statuses(pu.http_statuses, PASSIVE_UNHEALTHY),
    tcpFailures: num(pu.tcp_failures, 0),
    timeouts: num(pu.timeouts, 0),
    httpFailures: num(pu.http_failures, 0),
  }
  // From the configured intervals, before the tcp rule below (Kong tests the upstream row too).
  const using = active.healthyIntervalMs !== 0 || active.unhealthyIntervalMs !== 0 ||
    passive.tcpFailures !== 0 || passive.timeouts !== 0 || passive.httpFailures !== 0
  // Kong's create_healthchecker runs active checks of type tcp only in its stream subsystem: an
  // upstream proxied over HTTP gets its active intervals set to 0 (passive checks and manual posts
  // still apply). Sluice proxies HTTP only, so a tcp type never probes.
  if (type === 'tcp') {
    active.healthyIntervalMs = 0
    active.unhealthyIntervalMs = 0
  }
  return { active, passive, threshold: num(hc.threshold, 0), using }
}

/**
 * Which counter an HTTP status feeds, and its limit (report_http_status): a healthy status counts
 * a success, an unhealthy one (or 0: no valid status line) an http failure, any other nothing.
 */
export function classifyStatus (c: { healthyStatuses: ReadonlySet<number>; successes: number; unhealthyStatuses: ReadonlySet<number>; httpFailures: number }, status: number): { kind: 'success' | 'http'; limit: number } | null {
  if (c.healthyStatuses.has(status)) return { kind: 'success', limit: c.successes }
  if (c.unhealthyStatuses.has(status) || status === 0) return { kind: 'http', limit: c.httpFailures }
  return null
}
