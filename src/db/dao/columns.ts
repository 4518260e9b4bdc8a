/**
 * Schema fields -> SQL columns, both ways. The mapping is derived from the field types, so a
 * new entity needs no per-entity SQL: strings are text (uuid when `uuid`), integers bigint,
 * timestamps timestamptz read back as epoch seconds, string/uuid/integer lists native arrays,
 * maps, records and lists of records jsonb, and a foreign key `f` the column `f_id`.
 * Transient fields (certificates' `snis`) have no column.
 */
import { deepCopy } from '../schema/process.ts'
import type { EntitySchema, FieldDef } from '../schema/types.ts'

export type ColumnKind =
  | 'text' | 'uuid' | 'bigint' | 'double' | 'bool' | 'ts_s' | 'ts_ms'
  | 'text[]' | 'uuid[]' | 'bigint[]' | 'jsonb' | 'fk'

export interface Column {
  readonly field: string
  readonly name: string
  /** `"name"`, quoted for SQL */
  readonly sql: string
  readonly kind: ColumnKind
  readonly def: FieldDef
}

function kindOf (def: FieldDef): ColumnKind {
  switch (def.type) {
    case 'string': return def.uuid === true ? 'uuid' : 'text'
    case 'integer': return def.timestamp === true ? 'ts_s' : 'bigint'
    case 'number': return def.timestamp === true ? 'ts_ms' : 'double'
    case 'boolean': return 'bool'
    case 'foreign': return 'fk'
    case 'array':
    case 'set': {
      const el = def.elements
      if (el?.type === 'string') return el.uuid === true ? 'uuid[]' : 'text[]'
      if (el?.type === 'integer') return 'bigint[]'
      return 'jsonb'
    }
    case 'map':
    case 'record':
      return 'jsonb'
  }
}

export function quoteIdent (name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

const cache = new WeakMap<EntitySchema, readonly Column[]>()

export function columnsOf (schema: EntitySchema): readonly Column[] {
  let cols = cache.get(schema)
  if (cols === undefined) {
    cols = Object.entries(schema.fields).filter(([, def]) => def.transient !== true).map(([field, def]) => {
      const kind = kindOf(def)
      const name = kind === 'fk' ? `${field}_id` : field
      return { field, name, sql: quoteIdent(name), kind, def }
    })
    cache.set(schema, cols)
  }
  return cols
}

export function tableOf (schema: EntitySchema): string {
  return quoteIdent(schema.table ?? schema.name)
}

/** The select-list expression that reads a column back in the Admin API's shape. */
export function selectExpr (c: Column): string {
  switch (c.kind) {
    case 'ts_s': return `floor(extract(epoch from ${c.sql}))::bigint as ${c.sql}`
    case 'ts_ms': return `(floor(extract(epoch from ${c.sql}) * 1000) / 1000)::float8 as ${c.sql}`
    case 'uuid[]': return `${c.sql}::text[] as ${c.sql}`
    default: return c.sql
  }
}

/** The value expression for parameter `$n`. */
export function paramExpr (c: Column, n: number): string {
  switch (c.kind) {
    case 'ts_s':
    case 'ts_ms': return `to_timestamp($${n}::float8)`
    case 'jsonb': return `$${n}::jsonb`
    case 'uuid': case 'fk': return `$${n}::uuid`
    case 'text[]': return `$${n}::text[]`
    case 'uuid[]': return `$${n}::uuid[]`
    case 'bigint[]': return `$${n}::bigint[]`
    case 'bigint': return `$${n}::bigint`
    case 'double': return `$${n}::float8`
    case 'bool': return `$${n}::boolean`
    default: return `$${n}::text`
  }
}

/** An entity field value as a query parameter. */
export function toParam (c: Column, v: unknown): unknown {
  if (v === null || v === undefined) return null
  switch (c.kind) {
    case 'jsonb': return JSON.stringify(v)
    case 'fk': return (v as { id?: unknown }).id ?? null
    case 'bigint': case 'ts_s': case 'ts_ms': case 'double':
      // full precision: String(1e21) would be "1e+21", which bigint refuses
      return typeof v === 'number' && Number.isInteger(v) ? BigInt(v).toString() : v
    default: return v
  }
}

/** A row as returned by `selectExpr` to the entity shape (before select-time processing). */
export function fromRow (schema: EntitySchema, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null)
  for (const c of columnsOf(schema)) {
    const v = row[c.name]
    if (v === undefined) continue
    // jsonb comes back from JSON.parse: re-home it in null-prototype objects like all input
    out[c.field] = c.kind === 'fk' ? (v === null ? null : { id: v }) : c.kind === 'jsonb' ? deepCopy(v) : v
  }
  return out
}

export function selectList (schema: EntitySchema): string {
  return columnsOf(schema).map(selectExpr).join(', ')
}
