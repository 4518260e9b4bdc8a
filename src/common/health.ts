/**
 * Upstream health, shared by the worker balancers (src/worker/balancer/) and the node's health
 * registry on the primary (src/primary/health/). Health is per address (`ip:port`) of a target of
 * an upstream, as in Kong's balancer; it is node-wide: the primary owns the verdicts (active probes,
 * passive reports from every worker, manual posts from the Admin API / the `balancer:post_health`
 * cluster event) and broadcasts them; workers only report what they saw and apply what they get.
 *
 * No health message exists for an upstream whose healthchecks are all off (Kong's defaults), so
 * the default configuration costs nothing on the hot path.
 */

/** One address of one target: `upstreamId` + `target` (the target row's `target`, `host:port`) + `address` (`ip:port`, IPv6 bracketed). */
export interface HealthKey {
  upstreamId: string
  target: string
  address: string
}

export interface HealthEntry extends HealthKey {
  healthy: boolean
}

/**
 * Primary -> every worker: health verdicts. `full` replaces the worker's whole table (sent to a new
 * worker and after a snapshot that changed upstreams); otherwise the entries are changes. An address
 * not in the table is healthy.
 */
export interface UpstreamHealthMessage {
  type: 'upstream-health'
  full: boolean
  entries: HealthEntry[]
}

/** What a worker saw on real traffic to a balanced address (Kong's passive checks). */
export interface PassiveReport extends HealthKey {
  /** `status`: an HTTP response came back (classified by the primary against `passive.*.http_statuses`). */
  kind: 'status' | 'tcp_failure' | 'timeout'
  status: number
}

/**
 * Worker -> primary, batched (at most one message per event-loop turn), only for upstreams whose
 * passive healthchecks have a non-zero threshold.
 */
export interface PassiveHealthMessage {
  type: 'passive-health'
  workerId: number
  reports: PassiveReport[]
}
