/**
 * The DAO's public surface: per-entity DAOs, the write transaction, and the loaders the
 * primary's config cache uses. Rows come out in the exact JSON shape the Admin API returns
 * (every field, explicit nulls), which is also the shape of the snapshot rows
 * (common/snapshot.ts); `loadAllForSnapshot` / `loadOneForSnapshot` add what only the proxy
 * needs (`expires_at` of key-auth credentials).
 */
import { withTransaction, type Pool } from '../pool.ts'
import { getSchema } from '../schema/registry.ts'
import { Dao, daoFor, type WriteTx } from './dao.ts'
import { mapPgError } from './pg-errors.ts'
import type { EntitySchema } from '../schema/types.ts'

export { Dao, daoFor, MAX_PAGE_SIZE, MAX_TTL, PAGE_SIZE } from './dao.ts'
export type { Entity, EntityKey, Page, PageOptions, Queryable, WriteOptions, WriteTx } from './dao.ts'
export { DbUnavailable } from './pg-errors.ts'
export { decodeOffset, encodeOffset } from './paging.ts'

function daoByTable (table: string): Dao {
  const schema = getSchema(table)
  if (schema === undefined) throw new Error(`unknown entity table '${table}'`)
  return daoFor(schema)
}

/** Plain objects, exactly what the JSON of GET holds (a `__proto__` key stays a key). */
function plain<T> (v: T): T {
  return JSON.parse(JSON.stringify(v)) as T
}

/** Every row of `table`, ordered by id, in the Admin API's JSON shape. */
export async function loadAll (pool: Pool, table: string): Promise<Record<string, unknown>[]> {
  return plain(await daoByTable(table).all(pool))
}

/** One row by id, or null when it does not exist (any more). */
export async function loadOne (pool: Pool, table: string, id: string): Promise<Record<string, unknown> | null> {
  const row = await daoByTable(table).selectById(pool, id)
  return row === null ? null : plain(row)
}

/**
 * Every row for the proxy: the Admin API's shape, plus `expires_at` (epoch seconds, or null)
 * on tables whose rows expire (keyauth_credentials), since `ttl` (seconds left when read) goes
 * stale in a snapshot. Expired rows are left out, as everywhere.
 */
export async function loadAllForSnapshot (pool: Pool, table: string): Promise<Record<string, unknown>[]> {
  return plain(await daoByTable(table).all(pool, true))
}

/** One row for the proxy (see loadAllForSnapshot), or null. */
export async function loadOneForSnapshot (pool: Pool, table: string, id: string): Promise<Record<string, unknown> | null> {
  const row = (await daoByTable(table).all(pool, true, id))[0]
  return row === undefined ? null : plain(row)
}

export interface WriteSettings {
  /** Plugin names enabled on this node; absent: every plugin Sluice knows. */
  enabledPlugins?: ReadonlySet<string>
}

/**
 * Runs `fn` in one transaction; everything it writes, cluster_events rows included, commits
 * together or not at all. A lost connection surfaces as DbUnavailable.
 */
export async function withWrite<T> (pool: Pool, nodeId: string, schema: EntitySchema, fn: (tx: WriteTx) => Promise<T>,
  settings: WriteSettings = {}): Promise<T> {
  try {
    return await withTransaction(pool, (client) => fn({ client, nodeId, ...settings }))
  } catch (err) {
    throw mapPgError(err, schema, null)
  }
}
