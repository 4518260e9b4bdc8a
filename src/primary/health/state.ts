/**
 * The health of one address, as Kong's healthchecker keeps it (lua-resty-healthcheck
 * `incr_counter`, `set_target_status`): four internal states and four counters.
 *
 *   healthy --failure--> mostly_healthy --failures reach the limit--> unhealthy
 *   unhealthy --success--> mostly_unhealthy --successes reach the limit--> healthy
 *
 * - Each counter (successes, http failures, tcp failures, timeouts) has its own limit; a limit of
 *   0 turns that counter off (the report is ignored).
 * - A success clears the three failure counters; a failure clears the success counter (so counts
 *   are consecutive). The failure counters do not clear each other.
 * - A report that agrees with a settled state (a success while `healthy`, a failure while
 *   `unhealthy`) is not counted.
 * - The balancer sees two verdicts: `healthy`/`mostly_healthy` serve, `unhealthy`/`mostly_unhealthy`
 *   do not (Kong's balancer only moves on the healthy/unhealthy events).
 * - A manual post sets the state outright and clears every counter.
 * Counters saturate at 255 (Kong keeps them in 8 bits).
 */

export type InternalHealth = 'healthy' | 'mostly_healthy' | 'unhealthy' | 'mostly_unhealthy'
export type CounterKind = 'success' | 'http' | 'tcp' | 'timeout'

export interface AddressCounters {
  health: InternalHealth
  success: number
  http: number
  tcp: number
  timeout: number
}

export const newCounters = (healthy = true): AddressCounters => ({ health: healthy ? 'healthy' : 'unhealthy', success: 0, http: 0, tcp: 0, timeout: 0 })

export const servesTraffic = (h: InternalHealth): boolean => h === 'healthy' || h === 'mostly_healthy'

/**
 * Counts one observation; `limit` is the configured threshold for this counter. Returns true when
 * the balancer verdict (servesTraffic) changed.
 */
export function countReport (c: AddressCounters, kind: CounterKind, limit: number): boolean {
  if (limit <= 0) return false
  const report: InternalHealth = kind === 'success' ? 'healthy' : 'unhealthy'
  if (c.health === report) return false
  const before = servesTraffic(c.health)
  const n = Math.min(255, c[kind] + 1)
  c[kind] = n
  if (kind === 'success') { c.http = 0; c.tcp = 0; c.timeout = 0 } else c.success = 0
  let next: InternalHealth | null = null
  if (n >= limit) next = report
  else if (c.health === 'healthy' && c.http + c.tcp + c.timeout > 0) next = 'mostly_healthy'
  else if (c.health === 'unhealthy' && c.success > 0) next = 'mostly_unhealthy'
  if (next !== null) c.health = next
  return servesTraffic(c.health) !== before
}

/** A manual post (`PUT .../healthy|unhealthy`): the state is set and the counters cleared. */
export function forceHealth (c: AddressCounters, healthy: boolean): boolean {
  const before = servesTraffic(c.health)
  c.health = healthy ? 'healthy' : 'unhealthy'
  c.success = 0; c.http = 0; c.tcp = 0; c.timeout = 0
  return before !== healthy
}
