/**
 * rate-limiting (kong/plugins/rate-limiting/handler.lua, PRIORITY 910).
 *
 * Identifier as Kong's get_identifier (consumer -> credential -> IP; credential; ip; service;
 * header; path when equal to config.path; anything missing falls back to the forwarded IP). One
 * counter per configured period in the node's shared table (common/ratelimit/counter-table.ts),
 * keyed like Kong's (plugin scope route/service, identifier, period, window start).
 *
 * Counting is synchronous and exact: the check and the increment are one CAS, so with minute = 6
 * the 7th request is the 429, whatever the concurrency. A request is counted in every period or in
 * none (an earlier period's admission is taken back when a later one refuses), as Kong only
 * increments a request that passed every period.
 *
 * - local: against the limit, in the table shared by the node's workers (Kong's shared dict).
 * - cluster / redis: against the quota this node holds (primary/ratelimit/reservation.ts). No
 *   quota and not exhausted: the request parks until the next flush (usually it does not: the
 *   primary prefetches). Store unreachable: fault_tolerant counts locally against the limit and
 *   sends no rate-limit headers (Kong sends none when the store fails); otherwise 500.
 * - window_type = sliding (Kong Enterprise's name): the previous window's count weighs in, by the
 *   share of it a window ending now still covers.
 *
 * Headers (unless hide_client_headers): X-RateLimit-Limit/Remaining-<Period> for each period, and
 * RateLimit-Limit/Remaining/Reset of the most restrictive one (lowest remaining, ties: the longer
 * window); remaining = limit - usage - 1 floored at 0; on refusal also Retry-After, and
 * kong.response.error(error_code, error_message).
 */
import { now, currentWindows } from '../../common/ratelimit/clock.ts'
import {
  FLAG_EXHAUSTED, FLAG_REGISTERED, H_DEGRADED, H_TICKET, H_WAITS, S_DEMAND, S_FLAGS, S_LIM, S_OTHERS, S_STORE_LIM, S_TOUCHED, S_USED, type CounterTable,
} from '../../common/ratelimit/counter-table.ts'
import { lanes } from '../../common/ratelimit/hash.ts'
import { provisionalShare } from '../../common/ratelimit/provisional.ts'
import { counterHashFinish, identifierHash, kongRedisKey, PG_STORE, scopeSeed, type CounterKey, type RedisSettings, type StoreKey } from '../../common/ratelimit/keys.ts'
import {
  EXPIRATION, PERIODS, RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET, RETRY_AFTER, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING,
  configuredPeriods,
} from '../../common/ratelimit/periods.ts'
import { POLICY_LOCAL, POLICY_REDIS, SLOT_GRACE_S, policyOf, redisSettingsOf, scopeOf, storeOf } from '../../common/ratelimit/plugin-conf.ts'
import { previousWeight, resetSeconds, windowId, WINDOW_EPOCH, type Windows } from '../../common/ratelimit/windows.ts'
import { log } from '../../common/log.ts'
import { rateLimitClient } from '../../worker/ratelimit-client.ts'
import type { FlatHeaders, PhaseResult, PluginContext, PluginHandler, PrepareEnv } from '../types.ts'

export interface RateLimitingConfig {
  second?: number | null
  minute?: number | null
  hour?: number | null
  day?: number | null
  month?: number | null
  year?: number | null
  limit_by?: string
  header_name?: string | null
  path?: string | null
  policy?: string
  fault_tolerant?: boolean
  hide_client_headers?: boolean
  error_code?: number
  error_message?: string
  sync_rate?: number
  redis?: Record<string, unknown> | null
  /** Sluice / Kong Enterprise: `fixed` (default) or `sliding`. */
  window_type?: string
}

const BY_CONSUMER = 0
const BY_CREDENTIAL = 1
const BY_IP = 2
const BY_SERVICE = 3
const BY_HEADER = 4
const BY_PATH = 5
const LIMIT_BY: Record<string, number> = { consumer: BY_CONSUMER, credential: BY_CREDENTIAL, ip: BY_IP, service: BY_SERVICE, header: BY_HEADER, path: BY_PATH }

const INTERNAL_ERROR = 'An unexpected error occurred'

export interface Prepared {
  readonly periods: readonly number[]
  readonly limits: readonly number[]
  /** ceil(limit): the integer the store enforces. */
  readonly lims: readonly number[]
  readonly limitStrings: readonly string[]
  readonly limitBy: number
  readonly headerName: string
  readonly path: string | null
  readonly policy: number
  readonly store: StoreKey
  readonly redis: RedisSettings | null
  readonly faultTolerant: boolean
  readonly hide: boolean
  readonly errorCode: number
  readonly errorMessage: string
  readonly sliding: boolean
  readonly routeId: string
  readonly serviceId: string
  readonly seed: readonly [number, number]
  /** Kong's sync_rate (redis only), ms; 0: every tick. */
  readonly syncMs: number
  /** Per period: the quota a new counter starts with where the node holds a ticket (cluster, fixed windows). */
  readonly provisional: readonly number[]
}

// Per-request scratch: check() is synchronous from its first to its last use.
const SLOTS = new Int32Array(PERIODS.length)
/** Usage the headers report per period (before this request, all nodes). */
const USAGE = new Float64Array(PERIODS.length)
/** Limit in force per period (sliding: lowered by the previous window). */
const EFF = new Float64Array(PERIODS.length)

let lastFullWarning = 0

export function prepare (conf: RateLimitingConfig, env: PrepareEnv): Prepared {
  const periods = configuredPeriods(conf as Record<string, unknown>)
  const policy = policyOf(conf.policy)
  const redis = redisSettingsOf(conf.redis)
  const { routeId, serviceId } = scopeOf(env.plugin)
  return {
    periods: periods.map((p) => p.period),
    limits: periods.map((p) => p.limit),
    lims: periods.map((p) => Math.ceil(p.limit)),
    limitStrings: periods.map((p) => String(p.limit)),
    limitBy: LIMIT_BY[conf.limit_by ?? 'consumer'] ?? BY_CONSUMER,
    headerName: (conf.header_name ?? '').toLowerCase(),
    path: conf.path ?? null,
    policy,
    store: storeOf(policy, redis),
    redis,
    faultTolerant: conf.fault_tolerant !== false,
    hide: conf.hide_client_headers === true,
    errorCode: conf.error_code ?? 429,
    errorMessage: conf.error_message ?? 'API rate limit exceeded',
    sliding: conf.window_type === 'sliding',
    routeId,
    serviceId,
    seed: scopeSeed('rl', routeId, serviceId),
    provisional: periods.map((p) => policy !== POLICY_LOCAL && storeOf(policy, redis) === PG_STORE && conf.window_type !== 'sliding' ? provisionalShare(Math.ceil(p.limit)) : 0),
    syncMs: policy === POLICY_REDIS && typeof conf.sync_rate === 'number' && conf.sync_rate > 0 ? Math.round(conf.sync_rate * 1000) : 0,
  }
}

/** kong/plugins/rate-limiting/handler.lua get_identifier. */
export function identifierOf (ctx: PluginContext, c: { limitBy: number; headerName: string; path: string | null }): string {
  let id: unknown
  switch (c.limitBy) {
    case BY_CONSUMER: id = ctx.consumer?.id ?? ctx.credential?.id; break
    case BY_CREDENTIAL: id = ctx.credential?.id; break
    case BY_SERVICE: id = ctx.serviceRow?.id; break
    case BY_HEADER: id = ctx.getHeader(c.headerName); break
    case BY_PATH: id = c.path !== null && ctx.path === c.path ? ctx.path : undefined; break
  }
  return typeof id === 'string' ? id : ctx.forwardedIp()
}

function counterKey (c: Prepared, id: string, p: number, w: Windows): CounterKey {
  const start = w.start[p]!
  return {
    table: 'rl',
    store: c.store,
    identifier: id,
    period: PERIODS[p]!,
    periodIndex: p,
    windowStart: start / 1000,
    windowEnd: w.end[p]! / 1000,
    prevStart: c.sliding ? w.prevStart[p]! / 1000 : null,
    serviceId: c.serviceId,
    routeId: c.routeId,
    ttl: EXPIRATION[p]!,
    redisKey: kongRedisKey('rl', c.routeId, c.serviceId, id, start, PERIODS[p]!, null),
    redisPrevKey: c.sliding ? kongRedisKey('rl', c.routeId, c.serviceId, id, w.prevStart[p]!, PERIODS[p]!, null) : null,
    syncMs: c.syncMs,
  }
}

/** Finds or creates the slot of every period into SLOTS. false: the table is full. */
function resolveSlots (table: CounterTable, c: Prepared, id: string, w: Windows, t: number): boolean {
  identifierHash(c.seed, id)
  const a = lanes[0]!
  const b = lanes[1]!
  const nowId = Math.floor(t / 1000) - WINDOW_EPOCH
  for (let i = 0; i < c.periods.length; i++) {
    const p = c.periods[i]!
    const wid = windowId(w.start[p]!)
    const endId = windowId(w.end[p]!)
    counterHashFinish(a, b, p, wid)
    // A local sliding counter is read as "the previous window" for one more window.
    const expires = endId + SLOT_GRACE_S + (c.sliding && c.policy === POLICY_LOCAL ? endId - wid : 0)
    // A new counter of a window this node holds a ticket for starts with its provisional quota.
    const prov = c.provisional[i]! > 0 && table.header(H_TICKET + p) === wid ? c.provisional[i]! : 0
    const slot = table.findOrInsert(nowId, expires, wid, p, c.lims[i]!, prov)
    if (slot < 0) return false
    if (c.policy !== POLICY_LOCAL && (table.created || (table.load(slot, S_FLAGS) & FLAG_REGISTERED) === 0)) {
      rateLimitClient.register(slot, counterKey(c, id, p, w), c.redis)
    }
    SLOTS[i] = slot
    if (c.sliding && c.policy === POLICY_LOCAL) {
      counterHashFinish(a, b, p, windowId(w.prevStart[p]!))
      const prev = table.find(lanes[0]!, lanes[1]!)
      const prevUsed = prev < 0 ? 0 : table.load(prev, S_USED)
      EFF[i] = c.limits[i]! - Math.floor(prevUsed * previousWeight(p, t, w))
    } else {
      EFF[i] = c.limits[i]!
    }
  }
  return true
}

function setHeaders (ctx: PluginContext, c: Prepared, w: Windows, t: number, stop: number): FlatHeaders | null {
  let best = -1
  let bestRemaining = 0
  const out: string[] | null = stop >= 0 ? [] : null
  for (let i = 0; i < c.periods.length; i++) {
    const p = c.periods[i]!
    let remaining = EFF[i]! - USAGE[i]!
    if (stop < 0) remaining -= 1
    // The refusing period reports 0 (cluster: the quota is gone even if usage seen here lags).
    if (remaining < 0 || stop === i) remaining = 0
    // Ties go to the longer window: periods run from the shortest.
    if (best < 0 || remaining <= bestRemaining) { best = i; bestRemaining = remaining }
    if (out !== null) out.push(X_RATELIMIT_LIMIT[p]!, c.limitStrings[i]!, X_RATELIMIT_REMAINING[p]!, String(remaining))
    else {
      ctx.setResponseHeader(X_RATELIMIT_LIMIT[p]!, c.limitStrings[i]!)
      ctx.setResponseHeader(X_RATELIMIT_REMAINING[p]!, String(remaining))
    }
  }
  const reset = String(resetSeconds(c.periods[best]!, t, w))
  if (out !== null) {
    out.push(RATELIMIT_LIMIT, c.limitStrings[best]!, RATELIMIT_REMAINING, String(bestRemaining), RATELIMIT_RESET, reset, RETRY_AFTER, reset)
    return out
  }
  ctx.setResponseHeader(RATELIMIT_LIMIT, c.limitStrings[best]!)
  ctx.setResponseHeader(RATELIMIT_REMAINING, String(bestRemaining))
  ctx.setResponseHeader(RATELIMIT_RESET, reset)
  return null
}

function refuse (ctx: PluginContext, c: Prepared, w: Windows, t: number, stop: number, headers: boolean): void {
  if (c.hide || !headers) { ctx.error(c.errorCode, c.errorMessage); return }
  ctx.error(c.errorCode, c.errorMessage, setHeaders(ctx, c, w, t, stop))
}

function admitLocal (ctx: PluginContext, c: Prepared, table: CounterTable, w: Windows, t: number): void {
  const n = c.periods.length
  for (let i = 0; i < n; i++) {
    const r = table.acquire(SLOTS[i]!, EFF[i]!)
    if (r < 0) {
      for (let j = 0; j < i; j++) table.release(SLOTS[j]!)
      if (!c.hide) for (let j = 0; j < n; j++) USAGE[j] = table.load(SLOTS[j]!, S_USED)
      refuse(ctx, c, w, t, i, true)
      return
    }
    USAGE[i] = r - 1
  }
  if (!c.hide) setHeaders(ctx, c, w, t, -1)
}

/** The store is unreachable: Kong's fault_tolerant (count locally, no headers) or 500. */
function degraded (ctx: PluginContext, c: Prepared, table: CounterTable): void {
  if (!c.faultTolerant) { ctx.error(500, INTERNAL_ERROR); return }
  const n = c.periods.length
  for (let i = 0; i < n; i++) {
    if (table.acquire(SLOTS[i]!, c.limits[i]!) < 0) {
      for (let j = 0; j < i; j++) table.release(SLOTS[j]!)
      ctx.error(c.errorCode, c.errorMessage)
      return
    }
  }
  table.bump(H_DEGRADED)
}

/** cluster / redis: one unit of held quota per period, or park until the primary's next flush. */
function admitHeld (ctx: PluginContext, c: Prepared, id: string, table: CounterTable, w: Windows, t: number, deadline: number): PhaseResult {
  const n = c.periods.length
  for (let i = 0; i < n; i++) {
    const slot = SLOTS[i]!
    if (table.load(slot, S_LIM) !== c.lims[i]) table.store(slot, S_LIM, c.lims[i]!)
    if (table.load(slot, S_TOUCHED) === 0) table.store(slot, S_TOUCHED, 1)
    const r = table.acquireHeld(slot)
    if (r >= 0) {
      USAGE[i] = table.load(slot, S_OTHERS) + r - 1
      if (c.sliding) { const sl = table.load(slot, S_STORE_LIM); if (sl > 0) EFF[i] = sl }
      continue
    }
    for (let j = 0; j < i; j++) table.releaseHeld(SLOTS[j]!)
    table.add(slot, S_DEMAND, 1)
    if ((table.load(slot, S_FLAGS) & FLAG_EXHAUSTED) !== 0) {
      if (!c.hide) {
        for (let j = 0; j < n; j++) USAGE[j] = table.load(SLOTS[j]!, S_OTHERS) + table.load(SLOTS[j]!, S_USED)
        for (let j = 0; j < n; j++) { const sl = c.sliding ? table.load(SLOTS[j]!, S_STORE_LIM) : 0; EFF[j] = sl > 0 ? sl : c.limits[j]! }
      }
      refuse(ctx, c, w, t, i, true)
      return
    }
    // No quota yet: wait for the flush that brings it (or says it is gone).
    if (deadline === 0) { table.bump(H_WAITS); deadline = now() + rateLimitClient.waitMs }
    const d = deadline
    return rateLimitClient.wait(slot, c.store, d).then((ok) => check(ctx, c, id, ok && now() < d ? d : -1))
  }
  if (!c.hide) setHeaders(ctx, c, w, t, -1)
}

/** deadline: 0 first try, > 0 retry after a wake (same deadline), -1 the store is unreachable. */
function check (ctx: PluginContext, c: Prepared, id: string, deadline: number): PhaseResult {
  if (ctx.exited) return
  const table = rateLimitClient.table
  const t = now()
  const w = currentWindows()
  if (!resolveSlots(table, c, id, w, t)) {
    // Table full near this key: let the request through rather than refuse it for our sake.
    if (t - lastFullWarning > 10_000) {
      lastFullWarning = t
      log.warn('rate-limiting: the counter table is full (ratelimit_counter_slots); requests pass uncounted')
    }
    return
  }
  if (c.policy === POLICY_LOCAL) { admitLocal(ctx, c, table, w, t); return }
  if (deadline < 0 || rateLimitClient.storeDown(c.store)) { degraded(ctx, c, table); return }
  return admitHeld(ctx, c, id, table, w, t, deadline)
}

export const handler: PluginHandler<RateLimitingConfig, Prepared> = {
  name: 'rate-limiting',
  priority: 910,
  prepare,
  access (ctx, c) {
    if (c.periods.length === 0) return
    return check(ctx, c, identifierOf(ctx, c), 0)
  },
}
