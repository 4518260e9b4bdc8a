/**
 * The PostgreSQL counter store: every row of a tick in ONE statement, rate-limiting and
 * response-ratelimiting rows alike (two data-modifying CTEs when both have rows):
 *
 *   insert into ratelimiting_metrics ... select ... from unnest($1::text[], ...)
 *   on conflict (identifier, period, period_date, service_id, route_id) do update
 *     set value = value + excluded.value, <reservation> returning ...
 *
 * The reservation (primary/ratelimit/reservation.ts) happens in the same row update, under the
 * row lock the upsert takes anyway: with base = greatest(reserved, value + delta), the grant is
 * least(want, lim - base), never negative, and reserved grows by it. A SET expression sees the row
 * as it was before the update, so `granted` and `reserved` are computed from the same old values;
 * RETURNING gives this statement's own grant. The proposed row of a new key carries the grant
 * computed against delta alone, which is >= the grant against any base >= delta, so
 * least(excluded.granted, lim - base) is exactly least(want, lim - base) on the update path.
 *
 * Rows are inserted in one fixed order (period, date, scope, identifier in "C" collation), so nodes
 * flushing at the same moment lock shared rows in the same order and cannot deadlock.
 * Sliding windows: the previous window's row is joined in and `lim` lowered by its weighted value.
 */
import { createPool, type Pool } from '../../db/pool.ts'
import type { PgSettings } from '../../config/load.ts'
import { PG_STORE } from '../../common/ratelimit/keys.ts'
import type { CounterStore, FlushResult, FlushRow } from './store.ts'

const RL_COLUMNS = 11
const RRL_COLUMNS = 7

function rlCte (p: number): string {
  const a = (i: number): string => `$${p + i}`
  return `rl_in as (
    select u.*, greatest(0, u.lim - floor(coalesce(prev.value, 0) * u.weight)::int4) as lim_eff
    from unnest(${a(0)}::text[], ${a(1)}::text[], ${a(2)}::float8[], ${a(3)}::uuid[], ${a(4)}::uuid[], ${a(5)}::int4[],
                ${a(6)}::int4[], ${a(7)}::int4[], ${a(8)}::int4[], ${a(9)}::float8[], ${a(10)}::float8[])
      as u(identifier, period, pdate, service_id, route_id, delta, want, lim, ttl, prev_pdate, weight)
    left join ratelimiting_metrics prev on u.prev_pdate is not null and prev.identifier = u.identifier
      and prev.period = u.period and prev.period_date = to_timestamp(u.prev_pdate)
      and prev.service_id = u.service_id and prev.route_id = u.route_id
  ),
  rl as (
    insert into ratelimiting_metrics as m
      (identifier, period, period_date, service_id, route_id, value, ttl, lim, granted, reserved)
    select identifier, period, to_timestamp(pdate), service_id, route_id, delta,
           now() + make_interval(secs => ttl), lim_eff, g.granted, delta + greatest(g.granted, 0)
    from rl_in cross join lateral (
      select case when want >= 0 then least(want, greatest(0, lim_eff - delta)) else want end as granted) g
    order by period, pdate, service_id, route_id, identifier collate "C"
    on conflict (identifier, period, period_date, service_id, route_id) do update set
      value = m.value + excluded.value,
      lim = excluded.lim,
      granted = case when excluded.granted >= 0
        then least(excluded.granted, greatest(0, excluded.lim - greatest(m.reserved, m.value + excluded.value)))
        else excluded.granted end,
      reserved = greatest(m.value + excluded.value, greatest(m.reserved, m.value + excluded.value) +
        case when excluded.granted >= 0
          then least(excluded.granted, greatest(0, excluded.lim - greatest(m.reserved, m.value + excluded.value)))
          else excluded.granted end)
    returning 'rl'::text as t, identifier, period, extract(epoch from period_date)::float8 as pdate, service_id::text,
      route_id::text, value, reserved, granted, lim
  )`
}

function rrlCte (p: number): string {
  const a = (i: number): string => `$${p + i}`
  return `rrl as (
    insert into response_ratelimiting_metrics as m (identifier, period, period_date, service_id, route_id, value, ttl)
    select identifier, period, to_timestamp(pdate), service_id, route_id, delta, now() + make_interval(secs => ttl)
    from unnest(${a(0)}::text[], ${a(1)}::text[], ${a(2)}::float8[], ${a(3)}::uuid[], ${a(4)}::uuid[], ${a(5)}::int4[], ${a(6)}::int4[])
      as u(identifier, period, pdate, service_id, route_id, delta, ttl)
    order by period, pdate, service_id, route_id, identifier collate "C"
    on conflict (identifier, period, period_date, service_id, route_id) do update set value = m.value + excluded.value
    returning 'rrl'::text as t, identifier, period, extract(epoch from period_date)::float8 as pdate, service_id::text,
      route_id::text, value, 0 as reserved, 0 as granted, 0 as lim
  )`
}

const SQL_RL = `with ${rlCte(1)} select * from rl`
const SQL_RRL = `with ${rrlCte(1)} select * from rrl`
const SQL_BOTH = `with ${rlCte(1)}, ${rrlCte(1 + RL_COLUMNS)} select * from rl union all select * from rrl`

interface ResultRow {
  t: string
  identifier: string
  period: string
  pdate: number
  service_id: string
  route_id: string
  value: number | null
  reserved: number
  granted: number
  lim: number
}

function rowKey (t: string, identifier: string, period: string, pdate: number, service: string, route: string): string {
  return `${t}\u0000${period}\u0000${pdate}\u0000${service}\u0000${route}\u0000${identifier}`
}

export interface PgStoreOptions extends PgSettings {
  schema?: string | null
  timeoutMs: number
}

/** The statement text for a mix of tables (exported for the flush benchmark and tests). */
export function flushStatement (hasRl: boolean, hasRrl: boolean): string {
  return hasRl && hasRrl ? SQL_BOTH : hasRl ? SQL_RL : SQL_RRL
}

export class PgCounterStore implements CounterStore {
  readonly key = PG_STORE
  readonly pool: Pool
  /** Statements sent (observability: "DB statements per second"). */
  statements = 0

  constructor (o: PgStoreOptions) {
    // One connection: one statement in flight per node, by construction.
    this.pool = createPool({ ...o, max: 1, applicationName: 'sluice-ratelimit' })
  }

  async flush (rows: readonly FlushRow[]): Promise<FlushResult[]> {
    const rl: unknown[][] = Array.from({ length: RL_COLUMNS }, () => [])
    const rrl: unknown[][] = Array.from({ length: RRL_COLUMNS }, () => [])
    const nowS = Date.now() / 1000
    for (const r of rows) {
      const k = r.key
      // Kong's ttl is the write time + the period; a window written before it starts (next-window
      // prefetch) lives that much longer.
      const ttl = k.ttl + Math.max(0, Math.ceil(k.windowStart - nowS))
      if (k.table === 'rl') {
        rl[0]!.push(k.identifier); rl[1]!.push(k.period); rl[2]!.push(k.windowStart); rl[3]!.push(k.serviceId)
        rl[4]!.push(k.routeId); rl[5]!.push(r.delta); rl[6]!.push(r.want); rl[7]!.push(r.lim)
        rl[8]!.push(k.prevStart === null ? ttl : ttl + k.ttl); rl[9]!.push(k.prevStart); rl[10]!.push(k.prevStart === null ? 0 : r.weight)
      } else {
        rrl[0]!.push(k.identifier); rrl[1]!.push(k.period); rrl[2]!.push(k.windowStart); rrl[3]!.push(k.serviceId)
        rrl[4]!.push(k.routeId); rrl[5]!.push(r.delta); rrl[6]!.push(ttl)
      }
    }
    const hasRl = rl[0]!.length > 0
    const hasRrl = rrl[0]!.length > 0
    const params = hasRl && hasRrl ? [...rl, ...rrl] : hasRl ? rl : rrl
    this.statements++
    const res = await this.pool.query<ResultRow>(flushStatement(hasRl, hasRrl), params)
    const byKey = new Map<string, ResultRow>()
    for (const row of res.rows) byKey.set(rowKey(row.t, row.identifier, row.period, row.pdate, row.service_id, row.route_id), row)
    const out: FlushResult[] = []
    for (const r of rows) {
      const k = r.key
      const got = byKey.get(rowKey(k.table, k.identifier, k.period, k.windowStart, k.serviceId, k.routeId))
      if (got === undefined) throw new Error(`ratelimit flush: no row returned for ${k.period} ${k.identifier}`)
      out.push({ value: got.value ?? 0, reserved: got.reserved, granted: got.granted, lim: got.lim })
    }
    return out
  }

  async close (): Promise<void> {
    await this.pool.end().catch(() => {})
  }
}
