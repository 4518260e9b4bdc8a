/**
 * response-ratelimiting (kong/plugins/response-ratelimiting/{handler,access,header_filter,log}.lua,
 * PRIORITY 900): limits counted from what the upstream reports, not from requests.
 *
 * - access: per limit name and period, usage from the counter table (cluster/redis: plus the other
 *   nodes' usage as of the last sync); `X-RateLimit-Remaining-<name>` (the lowest over the
 *   periods) goes upstream; with block_on_first_violation a limit at exactly 0 remaining answers
 *   429 `API rate limit exceeded for '<name>'`. Store unreachable: fault_tolerant skips the plugin
 *   for the request (no usage, no headers), otherwise 500.
 * - header filter: the upstream's `<header_name>: name=n, other=m` gives the increments;
 *   X-RateLimit-Limit-<name>-<period> / X-RateLimit-Remaining-<name>-<period> (remaining minus the
 *   increment, floored at 0) unless hide_client_headers; the header is removed; a positive
 *   increment on a limit already at or below 0 turns the response into a 429 with no body.
 * - (counting) the increments are added to every configured period in the header filter (not after a 429 of the header
 *   filter). Kong counts all six periods; unconfigured ones are never read, so only configured
 *   periods are kept here.
 *
 * The counters live in the node's shared table (local: exact across workers); cluster and redis
 * rows go through the primary's batched writer into response_ratelimiting_metrics / Kong's Redis
 * keys (`response-ratelimit:<route>:<service>:<identifier>:<period_date>:<name>:<period>`).
 */
import { now, currentWindows } from '../../common/ratelimit/clock.ts'
import { FLAG_REGISTERED, S_FLAGS, S_OTHERS, S_TOUCHED, S_USED, type CounterTable } from '../../common/ratelimit/counter-table.ts'
import { lanes } from '../../common/ratelimit/hash.ts'
import { counterHashFinish, identifierHash, kongRedisKey, scopeSeed, type CounterKey, type RedisSettings, type StoreKey } from '../../common/ratelimit/keys.ts'
import { EXPIRATION, PERIODS, configuredPeriods } from '../../common/ratelimit/periods.ts'
import { POLICY_LOCAL, SLOT_GRACE_S, policyOf, redisSettingsOf, scopeOf, storeOf } from '../../common/ratelimit/plugin-conf.ts'
import { windowId, WINDOW_EPOCH, type Windows } from '../../common/ratelimit/windows.ts'
import { rateLimitClient } from '../../worker/ratelimit-client.ts'
import { identifierOf } from '../rate-limiting/handler.ts'
import type { PluginContext, PluginHandler, PrepareEnv } from '../types.ts'

export interface ResponseRateLimitingConfig {
  header_name?: string
  limit_by?: string
  policy?: string
  fault_tolerant?: boolean
  redis?: Record<string, unknown> | null
  block_on_first_violation?: boolean
  hide_client_headers?: boolean
  limits?: Record<string, Record<string, number | null>> | null
}

interface Limit {
  readonly name: string
  readonly periods: readonly number[]
  readonly limits: readonly number[]
  readonly limitStrings: readonly string[]
  readonly seed: readonly [number, number]
  readonly upstreamHeader: string
  readonly limitHeaders: readonly string[]
  readonly remainingHeaders: readonly string[]
  readonly blockedMessage: string
  /** Offset of this limit's first period in the per-request arrays. */
  readonly offset: number
}

interface Prepared {
  readonly limits: readonly Limit[]
  readonly byName: ReadonlyMap<string, number>
  readonly count: number
  readonly headerName: string
  /** For identifierOf (rate-limiting/handler.ts): consumer, credential or ip. */
  readonly by: { readonly limitBy: number; readonly headerName: string; readonly path: null }
  readonly policy: number
  readonly store: StoreKey
  readonly redis: RedisSettings | null
  readonly faultTolerant: boolean
  readonly block: boolean
  readonly hide: boolean
  readonly routeId: string
  readonly serviceId: string
  /** kong.ctx.plugin of this instance, per request. */
  readonly state: WeakMap<PluginContext, RequestState>
}

interface RequestState {
  readonly slots: Int32Array
  readonly remaining: Float64Array
  /** Per limit: the increment the upstream reported (NaN: none). */
  increments: Float64Array | null
  stopLog: boolean
}

const LIMIT_BY: Record<string, number> = { consumer: 0, credential: 1, ip: 2 }

function prepare (conf: ResponseRateLimitingConfig, env: PrepareEnv): Prepared {
  const policy = policyOf(conf.policy)
  const redis = redisSettingsOf(conf.redis)
  const { routeId, serviceId } = scopeOf(env.plugin)
  const limits: Limit[] = []
  let offset = 0
  for (const [name, rec] of Object.entries(conf.limits ?? {})) {
    const periods = configuredPeriods((rec ?? {}) as Record<string, unknown>)
    if (periods.length === 0) continue
    limits.push({
      name,
      periods: periods.map((p) => p.period),
      limits: periods.map((p) => p.limit),
      limitStrings: periods.map((p) => String(p.limit)),
      seed: scopeSeed('rrl', routeId, serviceId, name),
      upstreamHeader: `X-RateLimit-Remaining-${name}`,
      limitHeaders: periods.map((p) => `X-RateLimit-Limit-${name}-${PERIODS[p.period]}`),
      remainingHeaders: periods.map((p) => `X-RateLimit-Remaining-${name}-${PERIODS[p.period]}`),
      blockedMessage: `API rate limit exceeded for '${name}'`,
      offset,
    })
    offset += periods.length
  }
  return {
    limits,
    byName: new Map(limits.map((l, i) => [l.name, i])),
    count: offset,
    headerName: (conf.header_name ?? 'x-kong-limit').toLowerCase(),
    by: { limitBy: LIMIT_BY[conf.limit_by ?? 'consumer'] ?? 0, headerName: '', path: null },
    policy,
    store: storeOf(policy, redis),
    redis,
    faultTolerant: conf.fault_tolerant !== false,
    block: conf.block_on_first_violation === true,
    hide: conf.hide_client_headers === true,
    routeId,
    serviceId,
    state: new WeakMap(),
  }
}

function counterKey (c: Prepared, l: Limit, id: string, p: number, w: Windows): CounterKey {
  const start = w.start[p]!
  return {
    table: 'rrl',
    store: c.store,
    identifier: id,
    period: `${l.name}_${PERIODS[p]}`,
    periodIndex: p,
    windowStart: start / 1000,
    windowEnd: w.end[p]! / 1000,
    prevStart: null,
    serviceId: c.serviceId,
    routeId: c.routeId,
    ttl: EXPIRATION[p]!,
    redisKey: kongRedisKey('rrl', c.routeId, c.serviceId, id, start, PERIODS[p]!, l.name),
    redisPrevKey: null,
    syncMs: 0,
  }
}

/** Slot of every (limit, period) into s.slots. false: the table is full. */
function resolveSlots (table: CounterTable, c: Prepared, id: string, w: Windows, s: RequestState): boolean {
  const nowId = Math.floor(now() / 1000) - WINDOW_EPOCH
  for (const l of c.limits) {
    identifierHash(l.seed, id)
    const a = lanes[0]!
    const b = lanes[1]!
    for (let i = 0; i < l.periods.length; i++) {
      const p = l.periods[i]!
      const wid = windowId(w.start[p]!)
      counterHashFinish(a, b, p, wid)
      const slot = table.findOrInsert(nowId, windowId(w.end[p]!) + SLOT_GRACE_S, wid, p, Math.ceil(l.limits[i]!))
      if (slot < 0) return false
      if (c.policy !== POLICY_LOCAL && (table.created || (table.load(slot, S_FLAGS) & FLAG_REGISTERED) === 0)) {
        rateLimitClient.register(slot, counterKey(c, l, id, p, w), c.redis)
      }
      s.slots[l.offset + i] = slot
    }
  }
  return true
}

/** Kong's parse_header: `a=1, b=2`; only known names, only base-10 integers. */
function parseIncrements (c: Prepared, value: string | undefined): Float64Array | null {
  const out = new Float64Array(c.limits.length).fill(NaN)
  if (value === undefined) return out
  for (const part of value.split(',')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.indexOf('=', eq + 1) >= 0) continue
    const idx = c.byName.get(part.slice(0, eq).trim())
    if (idx === undefined) continue
    const v = part.slice(eq + 1).trim()
    out[idx] = /^[-+]?\d+$/.test(v) ? Number(v) : NaN
  }
  return out
}

export const handler: PluginHandler<ResponseRateLimitingConfig, Prepared> = {
  name: 'response-ratelimiting',
  priority: 900,
  prepare,
  access (ctx, c) {
    if (c.count === 0) return
    if (c.policy !== POLICY_LOCAL && rateLimitClient.storeDown(c.store)) {
      if (!c.faultTolerant) ctx.error(500, 'An unexpected error occurred')
      return
    }
    const id = identifierOf(ctx, c.by)
    const table = rateLimitClient.table
    const s: RequestState = { slots: new Int32Array(c.count), remaining: new Float64Array(c.count), increments: null, stopLog: false }
    if (!resolveSlots(table, c, id, currentWindows(), s)) return
    const cluster = c.policy !== POLICY_LOCAL
    for (const l of c.limits) {
      let min = Infinity
      for (let i = 0; i < l.periods.length; i++) {
        const slot = s.slots[l.offset + i]!
        let usage = table.load(slot, S_USED)
        if (cluster) {
          usage += table.load(slot, S_OTHERS)
          if (table.load(slot, S_TOUCHED) === 0) table.store(slot, S_TOUCHED, 1)
        }
        const remaining = l.limits[i]! - usage
        s.remaining[l.offset + i] = remaining
        if (c.block && remaining === 0) { ctx.error(429, l.blockedMessage); return }
        if (remaining < min) min = remaining
      }
      ctx.setHeader(l.upstreamHeader, String(min))
    }
    c.state.set(ctx, s)
  },
  headerFilter (ctx, c) {
    const s = c.state.get(ctx)
    if (s === undefined) return
    const inc = parseIncrements(c, ctx.getResponseHeader(c.headerName))
    s.increments = inc
    let stop = false
    for (let k = 0; k < c.limits.length; k++) {
      const l = c.limits[k]!
      const n = inc![k]!
      for (let i = 0; i < l.periods.length; i++) {
        const remaining = s.remaining[l.offset + i]!
        if (!c.hide) {
          ctx.setResponseHeader(l.limitHeaders[i]!, l.limitStrings[i]!)
          ctx.setResponseHeader(l.remainingHeaders[i]!, String(Math.max(0, remaining - (Number.isNaN(n) ? 0 : n))))
        }
        if (n > 0 && remaining <= 0) stop = true
      }
    }
    ctx.clearResponseHeader(c.headerName)
    if (stop) {
      s.stopLog = true
      ctx.exit(429)
      return
    }
    // Counted here rather than in the log phase (Kong counts in log): the shared counter table then
    // holds this response's usage before the client can send its next request, on any worker.
    const table = rateLimitClient.table
    for (let k = 0; k < c.limits.length; k++) {
      const n = inc![k]!
      if (Number.isNaN(n) || n === 0) continue
      const l = c.limits[k]!
      for (let i = 0; i < l.periods.length; i++) table.add(s.slots[l.offset + i]!, S_USED, n)
    }
  },
}
