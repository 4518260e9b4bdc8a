/**
 * Counter keys. A counter is Kong's (route_id, service_id, identifier, period, period_date): the
 * route and service of the plugin's *scope* (conf.route_id / conf.service_id, the zero UUID when
 * unscoped: a global instance shares counters across routes, as in Kong), the identifier the
 * request is limited by, and the window. Three forms of it:
 *
 * - the slot hash in the counter table: the scope hashed once per snapshot (`scopeSeed`), then the
 *   identifier per request, then period and window id (`counterHash`): no string is built per
 *   request;
 * - a `CounterKey` object, built once per key and window on the worker that creates the slot and
 *   posted to the primary, which needs the columns for the store;
 * - the Redis key, Kong's own format (policies/init.lua get_local_key).
 */
import { hashFinish, hashString, lanes, HASH_SEED_A, HASH_SEED_B } from './hash.ts'

export const EMPTY_UUID = '00000000-0000-0000-0000-000000000000'

/** `rl`: rate-limiting (ratelimiting_metrics); `rrl`: response-ratelimiting (response_ratelimiting_metrics). */
export type CounterTableName = 'rl' | 'rrl'

/** Redis connection settings of a plugin (Kong's `config.redis`). */
export interface RedisSettings {
  host: string
  port: number
  username: string | null
  password: string | null
  database: number
  timeout: number
  ssl: boolean
  sslVerify: boolean
  serverName: string | null
}

/** Where a counter is kept: `pg` or a Redis store key (`redis:<host>:<port>/<db>...`). */
export type StoreKey = string
export const PG_STORE: StoreKey = 'pg'

export interface CounterKey {
  table: CounterTableName
  store: StoreKey
  identifier: string
  /** The `period` column: `minute`, or `<limit name>_minute` for response-ratelimiting. */
  period: string
  periodIndex: number
  /** Window start, seconds since the Unix epoch (the `period_date` column). */
  windowStart: number
  /** Window end (exclusive), seconds since the Unix epoch. */
  windowEnd: number
  /** Sliding windows: start of the previous window (its count is weighed in), else null. */
  prevStart: number | null
  serviceId: string
  routeId: string
  /** Kong's EXPIRATION of the period (the `ttl` column is now + this). */
  ttl: number
  /** The Redis key (Kong's format), also for the previous window when sliding. */
  redisKey: string
  redisPrevKey: string | null
  /**
   * Kong's sync_rate (redis policy) in ms: the counter is written at most that often unless the
   * node needs quota; 0: every tick.
   */
  syncMs: number
}

/** Seeds for counterHash: the scope of one plugin instance (and the limit name of response-ratelimiting). */
export function scopeSeed (table: CounterTableName, routeId: string, serviceId: string, name = ''): readonly [number, number] {
  hashString(`${table}:${routeId}:${serviceId}:${name}:`, HASH_SEED_A, HASH_SEED_B)
  return [lanes[0]!, lanes[1]!]
}

/** Hash of (scope, identifier) into `lanes`; finish per period and window with counterHashFinish. */
export function identifierHash (seed: readonly [number, number], identifier: string): void {
  hashString(identifier, seed[0], seed[1])
}

/** Leaves the slot hash of (identifier hash in `a`/`b`, period, window id) in `lanes`. */
export function counterHashFinish (a: number, b: number, period: number, windowId: number): void {
  hashFinish(a, b, period, windowId)
}

/** Kong's local/redis key: `ratelimit:<route>:<service>:<identifier>:<period_date ms>:<period>`. */
export function kongRedisKey (table: CounterTableName, routeId: string, serviceId: string, identifier: string,
  windowStartMs: number, period: string, limitName: string | null): string {
  return table === 'rl'
    ? `ratelimit:${routeId}:${serviceId}:${identifier}:${windowStartMs}:${period}`
    : `response-ratelimit:${routeId}:${serviceId}:${identifier}:${windowStartMs}:${limitName ?? ''}:${period}`
}

/**
 * Store key of a Redis configuration: same server, database and credentials, same store and
 * connection. The password shows only as a hash (store keys appear in /status and logs).
 */
export function redisStoreKey (r: RedisSettings): StoreKey {
  let pw = ''
  if (r.password !== null) {
    hashString(r.password, HASH_SEED_A, HASH_SEED_B)
    pw = `#${(lanes[0]! >>> 0).toString(16)}`
  }
  return `redis:${r.ssl ? 's' : ''}${r.host}:${r.port}/${r.database}${r.username !== null ? `@${r.username}` : ''}${pw}`
}
