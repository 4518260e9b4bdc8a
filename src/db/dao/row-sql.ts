/**
 * The SQL pieces one entity's DAO builds once: the select list (with Kong's `ttl` as seconds
 * left, and the absolute expiry for snapshots), the "not expired" condition, and the value
 * lists of writes, including the two columns that are not schema fields: `cache_key` (composite
 * cache keys: kong/db/strategies/postgres/init.lua) and `ttl`.
 */
import type { EntitySchema } from '../schema/types.ts'
import { columnsOf, paramExpr, selectList, toParam, type Column } from './columns.ts'

export type Entity = Record<string, unknown>

export interface RowSql {
  /** Columns of a write, in order, with their parameter expressions and values. */
  names: string[]
  exprs: string[]
  params: unknown[]
}

/** Composite cache keys get their own unique column; single-field ones are the field itself. */
export function hasCacheKeyColumn (schema: EntitySchema): boolean {
  return (schema.cache_key?.length ?? 0) > 1
}

/** `<name>:<v1>:<v2>:...`, foreign keys by id, null as empty (kong/db/dao/init.lua cache_key). */
export function cacheKeyOf (schema: EntitySchema, e: Entity): string {
  const parts = (schema.cache_key ?? []).map((k) => {
    const v = e[k]
    if (v === null || v === undefined) return ''
    if (schema.fields[k]?.type === 'foreign') return String((v as { id?: unknown }).id ?? '')
    return String(v)
  })
  return `${schema.name}:${parts.join(':')}`
}

/** The cache key fields as Kong names them in a unique violation (foreign keys as `{id}`). */
export function cacheKeyFields (schema: EntitySchema, e: Entity | null): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of schema.cache_key ?? []) {
    const v = e?.[k] ?? null
    out[k] = schema.fields[k]?.type === 'foreign' && v !== null ? { id: (v as { id?: unknown }).id ?? null } : v
  }
  return out
}

export function selectSql (schema: EntitySchema, forSnapshot: boolean): string {
  let s = selectList(schema)
  if (schema.ttl === true) {
    s += ', floor(extract(epoch from ("ttl" - now())))::bigint as "ttl"'
    if (forSnapshot) s += ', floor(extract(epoch from "ttl"))::bigint as "__expires_at"'
  }
  return s
}

/** Rows whose ttl has passed are gone for every read (the `ttl_select_where` of Kong's strategy). */
export function liveCondition (schema: EntitySchema): string | null {
  return schema.ttl === true ? '("ttl" is null or "ttl" >= now())' : null
}

/**
 * The values of a full-row write. `expiresAt` (epoch seconds, or null) fills the ttl column;
 * `withPk: false` leaves out the primary key (UPDATE ... SET), numbering from `firstParam`.
 */
export function rowValues (schema: EntitySchema, e: Entity, expiresAt: number | null, withPk: boolean, firstParam = 1): RowSql {
  const cols: readonly Column[] = columnsOf(schema).filter((c) => withPk || !schema.primary_key.includes(c.field))
  const out: RowSql = { names: [], exprs: [], params: [] }
  let n = firstParam
  for (const c of cols) {
    out.names.push(c.sql)
    out.exprs.push(paramExpr(c, n++))
    out.params.push(toParam(c, e[c.field]))
  }
  if (hasCacheKeyColumn(schema)) {
    out.names.push('"cache_key"')
    out.exprs.push(`$${n++}::text`)
    out.params.push(cacheKeyOf(schema, e))
  }
  if (schema.ttl === true) {
    out.names.push('"ttl"')
    out.exprs.push(`to_timestamp($${n++}::float8)`)
    out.params.push(expiresAt)
  }
  return out
}
