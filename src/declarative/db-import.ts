/**
 * `db_import`: flattened rows -> PostgreSQL, in one transaction (kong/db/declarative/import.lua
 * `load_into_db`: upsert by primary key, entity tables in dependency order). Rows go in batches:
 * one `INSERT .. SELECT FROM jsonb_to_recordset($1) ON CONFLICT (id) DO UPDATE` per few thousand
 * rows, one parameter per statement, so 100,000 rows are some tens of statements. Instead of a
 * `crud` event per row, one `reload` cluster event tells every node to reload everything. Any
 * failure (a unique name already taken by another row, a lost connection) rolls everything back.
 */
import type { Pool, PoolClient } from '../db/pool.ts'
import { columnsOf, quoteIdent, tableOf, type Column } from '../db/dao/columns.ts'
import { cacheKeyOf, hasCacheKeyColumn } from '../db/dao/row-sql.ts'
import { mapPgError } from '../db/dao/pg-errors.ts'
import { uniqueViolation } from '../db/schema/db-errors.ts'
import { getSchema } from '../db/schema/registry.ts'
import type { EntitySchema } from '../db/schema/types.ts'
import { storedOrder } from './entities.ts'
import type { Flattened, Row } from './flatten.ts'

export const IMPORT_BATCH = 5000

export interface ImportProgress {
  (table: string, done: number, total: number): void
}

export interface ImportResult { rows: number; statements: number; ms: number; byTable: Record<string, number> }

function recordType (c: Column): string {
  switch (c.kind) {
    case 'uuid': case 'fk': return 'uuid'
    case 'bigint': return 'bigint'
    case 'double': case 'ts_s': case 'ts_ms': return 'float8'
    case 'bool': return 'boolean'
    case 'text[]': return 'text[]'
    case 'uuid[]': return 'uuid[]'
    case 'bigint[]': return 'bigint[]'
    case 'jsonb': return 'jsonb'
    default: return 'text'
  }
}

function valueExpr (c: Column): string {
  const ref = `r.${c.sql}`
  return c.kind === 'ts_s' || c.kind === 'ts_ms' ? `to_timestamp(${ref})` : ref
}

function jsonValue (c: Column, v: unknown): unknown {
  if (v === undefined) return null
  if (c.kind === 'fk') return v === null ? null : (v as { id?: unknown }).id ?? null
  return v
}

interface Statement { sql: string; cols: readonly Column[]; cacheKey: boolean; ttl: boolean }

function statementFor (schema: EntitySchema): Statement {
  const cols = columnsOf(schema)
  const cacheKey = hasCacheKeyColumn(schema)
  const ttl = schema.ttl === true
  const names = cols.map((c) => c.sql)
  const defs = cols.map((c) => `${c.sql} ${recordType(c)}`)
  const exprs = cols.map(valueExpr)
  if (cacheKey) { names.push('"cache_key"'); defs.push('"cache_key" text'); exprs.push('r."cache_key"') }
  if (ttl) { names.push('"ttl"'); defs.push('"ttl" float8'); exprs.push('to_timestamp(r."ttl")') }
  const pk = schema.primary_key.map(quoteIdent)
  const updates = names.filter((n) => !pk.includes(n)).map((n) => `${n} = excluded.${n}`)
  const sql = `insert into ${tableOf(schema)} (${names.join(', ')}) select ${exprs.join(', ')} ` +
    `from jsonb_to_recordset($1::jsonb) as r(${defs.join(', ')}) ` +
    `on conflict (${pk.join(', ')}) do update set ${updates.join(', ')}`
  return { sql, cols, cacheKey, ttl }
}

function batchJson (schema: EntitySchema, st: Statement, rows: readonly Row[]): string {
  const out = new Array<Record<string, unknown>>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    const o: Record<string, unknown> = {}
    for (const c of st.cols) o[c.name] = jsonValue(c, row[c.field])
    if (st.cacheKey) o.cache_key = cacheKeyOf(schema, row)
    if (st.ttl) o.ttl = typeof row.ttl === 'number' ? row.ttl : null
    out[i] = o
  }
  return JSON.stringify(out)
}

/** Writes every row in `flat` in one transaction, then one `reload` cluster event. */
export async function importIntoDb (pool: Pool, flat: Flattened, nodeId: string | null, progress?: ImportProgress): Promise<ImportResult> {
  const t0 = performance.now()
  const client: PoolClient = await pool.connect()
  let statements = 0
  let total = 0
  const byTable: Record<string, number> = {}
  let current: EntitySchema | null = null
  try {
    await client.query('begin')
    for (const table of storedOrder()) {
      const rows = flat.entities.get(table)
      if (rows === undefined || rows.length === 0) continue
      const schema = getSchema(table)!
      current = schema
      const st = statementFor(schema)
      for (let i = 0; i < rows.length; i += IMPORT_BATCH) {
        const batch = rows.slice(i, i + IMPORT_BATCH)
        await client.query(st.sql, [batchJson(schema, st, batch)])
        statements++
        total += batch.length
        progress?.(table, Math.min(i + IMPORT_BATCH, rows.length), rows.length)
      }
      byTable[table] = rows.length
    }
    current = null
    await client.query("insert into cluster_events (node_id, channel, data) values ($1, 'reload', $2)",
      [nodeId, JSON.stringify({ source: 'db_import', rows: total })])
    await client.query('commit')
  } catch (err) {
    await client.query('rollback').catch(() => {})
    throw current !== null ? importError(err, current) : err
  } finally {
    client.release()
  }
  return { rows: total, statements, ms: performance.now() - t0, byTable }
}

/**
 * A database refusal as Kong's DAO error. A unique value held by another row (the file's
 * consumer `bob` has another id than the database's `bob`) names the value from PostgreSQL's
 * detail, since the failing row of a batch is not known otherwise.
 */
function importError (err: unknown, schema: EntitySchema): Error {
  const e = err as { code?: string; detail?: string } | null
  const m = e?.code === '23505' ? /^Key \((.+?)\)=\((.*)\) already exists/.exec(e.detail ?? '') : null
  if (m !== null && m[1] !== 'id') {
    const col = columnsOf(schema).find((c) => c.name === m[1])
    const field = col?.field ?? m[1]!
    return uniqueViolation({ [field]: col?.kind === 'fk' ? { id: m[2] } : m[2] })
  }
  return mapPgError(err, schema, null)
}
