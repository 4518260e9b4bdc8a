/**
 * Numbered plain-SQL migrations (graphile-worker style). `migrations/NNNNNN_name.sql` files run in
 * order, each in its own transaction, under an advisory lock so concurrent starts serialise.
 * `schema_meta` records what ran. A database that has run a migration this build does not know is
 * "newer" and every command refuses it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import type { Pool, PoolClient } from './pool.ts'

const DIR = fileURLToPath(new URL('./migrations/', import.meta.url))
const LOCK_KEY = 0x5a1c3 // arbitrary, constant: serialises migration runs across nodes
export interface Migration { id: number; name: string; sql: string }

export function knownMigrations (): Migration[] {
  return readdirSync(DIR)
    .filter((f) => /^\d{6}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ id: Number(f.slice(0, 6)), name: f.slice(7, -4), sql: readFileSync(join(DIR, f), 'utf8') }))
}

export type SchemaState =
  | { kind: 'empty' }
  | { kind: 'up-to-date'; executed: number[] }
  | { kind: 'pending'; executed: number[]; pending: Migration[] }
  | { kind: 'newer'; executed: number[]; unknown: number[] }

async function executed (c: PoolClient | Pool): Promise<number[] | null> {
  const t = await c.query<{ exists: boolean }>("select to_regclass('schema_meta') is not null as exists")
  if (!t.rows[0]!.exists) return null
  const r = await c.query<{ id: number }>('select id from schema_meta order by id')
  return r.rows.map((x) => Number(x.id))
}

export async function schemaState (pool: Pool): Promise<SchemaState> {
  const done = await executed(pool)
  if (done === null || done.length === 0) return { kind: 'empty' }
  const known = knownMigrations()
  const knownIds = new Set(known.map((m) => m.id))
  const unknown = done.filter((id) => !knownIds.has(id))
  if (unknown.length > 0) return { kind: 'newer', executed: done, unknown }
  const doneSet = new Set(done)
  const pending = known.filter((m) => !doneSet.has(m.id))
  return pending.length === 0 ? { kind: 'up-to-date', executed: done } : { kind: 'pending', executed: done, pending }
}

/** Runs every pending migration. Returns the ones it ran. Throws on a newer schema. */
export async function migrateUp (pool: Pool, log: (m: string) => void = () => {}): Promise<Migration[]> {
  const client = await pool.connect()
  const ran: Migration[] = []
  try {
    await client.query('select pg_advisory_lock($1)', [LOCK_KEY])
    await client.query(`create table if not exists schema_meta (
      id integer primary key, name text not null, executed_at timestamptz not null default now())`)
    const done = new Set(await executed(client))
    const known = knownMigrations()
    const knownIds = new Set(known.map((m) => m.id))
    const unknown = [...done].filter((id) => !knownIds.has(id))
    if (unknown.length > 0) throw new SchemaNewerError(unknown)
    for (const m of known) {
      if (done.has(m.id)) continue
      log(`migrating ${String(m.id).padStart(6, '0')}_${m.name}`)
      await client.query('BEGIN')
      try {
        await client.query(m.sql)
        await client.query('insert into schema_meta (id, name) values ($1, $2)', [m.id, m.name])
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw new Error(`migration ${m.id}_${m.name} failed: ${(err as Error).message}`, { cause: err })
      }
      ran.push(m)
    }
    return ran
  } finally {
    await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {})
    client.release()
  }
}

/** Drops everything Sluice created (the `public` schema's tables) so bootstrap can start over. */
export async function migrateReset (pool: Pool): Promise<void> {
  const r = await pool.query<{ tablename: string }>("select tablename from pg_tables where schemaname = current_schema()")
  if (r.rows.length === 0) return
  const names = r.rows.map((x) => `"${x.tablename.replace(/"/g, '""')}"`).join(', ')
  await pool.query(`drop table if exists ${names} cascade`)
  await pool.query('drop function if exists sluice_notify_event() cascade')
}

export class SchemaNewerError extends Error {
  readonly unknown: number[]
  constructor (unknown: number[]) {
    super(`the database schema is newer than this Sluice (it has run migration(s) ${unknown.join(', ')}, which this build does not know); upgrade Sluice or use another database`)
    this.name = 'SchemaNewerError'
    this.unknown = unknown
  }
}
