/**
 * Messages between the primary and the workers: discriminated unions on `type`, nothing else
 * crosses the thread boundary. Config flows primary -> worker; counters and metrics flow back.
 */

import type { CounterKey, RedisSettings, StoreKey } from './ratelimit/keys.ts'
import type { MetricsDeltaMessage } from '../metrics/delta.ts'
import type { ProxyCacheRequest, ProxyCacheResult } from '../plugins/proxy-cache/messages.ts'
import type { OAuth2Reply, OAuth2Request } from '../plugins/oauth2/messages.ts'
import type { SessionChannel } from '../plugins/session/messages.ts'
import type { PassiveHealthMessage, UpstreamHealthMessage } from './health.ts'
import type { DnsStatsReport } from './dns.ts'

export const PROTOCOL_VERSION = 1

export interface WorkerData {
  protocol: number
  workerId: number
  /** Serialised Config (plain object). */
  config: unknown
}

export type PrimaryToWorker =
  | { type: 'snapshot'; version: number; bytes: Uint8Array }
  // config delta on top of snapshot `base` (common/snapshot.ts SnapshotDelta, codec.ts encodeDelta)
  | { type: 'snapshot-delta'; base: number; version: number; bytes: Uint8Array }
  | { type: 'shutdown'; graceMs: number }
  // rate limiting (common/ratelimit, primary/ratelimit, worker/ratelimit-client.ts)
  | RlInit
  | RlTotals
  // proxy-cache Admin API (plugins/proxy-cache/purge.ts, api.ts ProxyCacheRelay)
  | ProxyCacheRequest
  // oauth2 plugin: grant results and token lookups, token-cache invalidations (plugins/oauth2/messages.ts)
  | OAuth2Reply
  // upstream health verdicts (primary/health -> worker/balancer; common/health.ts)
  | UpstreamHealthMessage
  // GET /status/dns: this worker's DNS statistics, please (primary/dns-stats.ts)
  | DnsStatsRequest

export type WorkerToPrimary =
  | { type: 'ready'; protocol: number; workerId: number; snapshotVersion: number; port: number }
  | { type: 'snapshot-ack'; workerId: number; version: number; compileMs: number }
  | { type: 'snapshot-error'; workerId: number; version: number; message: string }
  // a delta the worker could not apply (not on its base, or it failed): send the full snapshot
  | { type: 'snapshot-resync'; workerId: number; version: number; reason: string }
  | { type: 'metrics'; workerId: number; requests: number; connections: number }
  | { type: 'error'; workerId: number; code: string; message: string }
  | { type: 'drained'; workerId: number }
  | RlDeltas
  // Kong's Prometheus families, merged by the primary (metrics/delta.ts)
  | MetricsDeltaMessage
  | ProxyCacheResult
  // oauth2 plugin: grants and token lookups run on the primary (plugins/oauth2/messages.ts)
  | OAuth2Request
  // session plugin: a worker's channel to the `sessions` table on the primary (plugins/session/messages.ts)
  | SessionChannel
  // passive health-check observations (worker/balancer -> primary/health; common/health.ts)
  | PassiveHealthMessage
  // GET /status/dns: the worker's DnsCache statistics (common/dns.ts stats())
  | DnsStatsResult

/**
 * Rate-limit handshake: the node's counter table (common/ratelimit/counter-table.ts), posted before
 * the first snapshot, and again to a respawned worker (counts survive a worker crash).
 */
export interface RlInit { type: 'rl-init'; table: SharedArrayBuffer; tickMs: number; waitMs: number }

/**
 * Worker -> primary, at most once per tick: what the shared table cannot carry. The counts
 * themselves (the deltas) are read by the primary from the table; this message registers the
 * counters the worker created since its last message (slot, generation, columns for the store),
 * the Redis settings of stores it has not named before, and `wake` when a request waits for quota
 * (the primary then flushes at once if its last flush is a tick old).
 */
export interface RlDeltas {
  type: 'rl-deltas'
  workerId: number
  slots: number[]
  gens: number[]
  keys: CounterKey[]
  stores: Array<{ key: StoreKey; redis: RedisSettings }>
  wake: boolean
}

/**
 * Primary -> every worker after each flush: the totals (held quota, other nodes' usage) are already
 * in the shared table; this tells which slots changed (their waiting requests re-check), the time
 * of the sync, and which stores failed (requests waiting on them stop waiting).
 */
export interface RlTotals { type: 'rl-totals'; at: number; slots: number[]; down: StoreKey[] }

/**
 * GET /status/dns (primary/dns-stats.ts): the primary asks every serving worker for the statistics
 * of its DnsCache; each answers once with the same `seq`.
 */
export interface DnsStatsRequest { type: 'dns-stats'; seq: number }
export interface DnsStatsResult { type: 'dns-stats-result'; workerId: number; seq: number; report: DnsStatsReport }
