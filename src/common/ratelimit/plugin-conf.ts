/**
 * Config pieces both rate-limiting plugins share, turned into hot-path values at prepare time:
 * the policy, the Redis settings (Kong's `config.redis` record) and the store they name, and the
 * scope (Kong's conf.route_id / conf.service_id) counters are keyed by.
 */
import { EMPTY_UUID, PG_STORE, redisStoreKey, type RedisSettings, type StoreKey } from './keys.ts'

export const POLICY_LOCAL = 0
export const POLICY_CLUSTER = 1
export const POLICY_REDIS = 2

/** Seconds a counter's slot outlives its window before it may be reused (see counter-table.ts). */
export const SLOT_GRACE_S = 5

export function policyOf (p: unknown): number {
  return p === 'cluster' ? POLICY_CLUSTER : p === 'redis' ? POLICY_REDIS : POLICY_LOCAL
}

function str (v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null
}

export function redisSettingsOf (r: unknown): RedisSettings | null {
  if (r === null || typeof r !== 'object') return null
  const o = r as Record<string, unknown>
  const host = str(o.host)
  if (host === null) return null
  return {
    host,
    port: typeof o.port === 'number' ? o.port : 6379,
    username: str(o.username),
    password: str(o.password),
    database: typeof o.database === 'number' ? o.database : 0,
    timeout: typeof o.timeout === 'number' && o.timeout > 0 ? o.timeout : 2000,
    ssl: o.ssl === true,
    sslVerify: o.ssl_verify === true,
    serverName: str(o.server_name),
  }
}

/** The store of a policy: PostgreSQL for cluster, the Redis server for redis, none for local. */
export function storeOf (policy: number, redis: RedisSettings | null): StoreKey {
  if (policy === POLICY_REDIS && redis !== null) return redisStoreKey(redis)
  return PG_STORE
}

/** Kong's scope ids of a plugin row (the zero UUID when unscoped). */
export function scopeOf (plugin: { route: { id: string } | null; service: { id: string } | null }): { routeId: string; serviceId: string } {
  return { routeId: plugin.route?.id ?? EMPTY_UUID, serviceId: plugin.service?.id ?? EMPTY_UUID }
}
