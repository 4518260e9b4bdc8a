/**
 * PostgreSQL for tests: `SLUICE_TEST_PG` (a connection URL) if set, else 127.0.0.1:5432 as user
 * postgres if it answers, else an embedded server under .cache/test-pg. Each test file gets its own
 * database, cloned from a migrated template (graphile-worker's trick): cheap, isolated, real.
 */
import pg from 'pg'
import { createHash, randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import type { PgSettings } from '../../src/config/load.ts'
import { createPool, type Pool } from '../../src/db/pool.ts'
import { knownMigrations, migrateUp } from '../../src/db/migrate.ts'
import { startEmbedded } from '../../src/db/embedded.ts'

let serverPromise: Promise<PgSettings> | null = null

async function answers (s: PgSettings): Promise<boolean> {
  const c = new pg.Client({ ...s, password: s.password || undefined, connectionTimeoutMillis: 1500 })
  try {
    await c.connect()
    await c.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await c.end().catch(() => {})
  }
}

/** The server tests run against (its admin database: `postgres`). */
export function testServer (): Promise<PgSettings> {
  serverPromise ??= (async () => {
    const url = process.env.SLUICE_TEST_PG
    if (url !== undefined && url !== '') {
      const u = new URL(url)
      return { host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username || 'postgres'), password: decodeURIComponent(u.password), database: 'postgres', ssl: false, sslVerify: false }
    }
    const local: PgSettings = { host: '127.0.0.1', port: 5432, user: 'postgres', password: '', database: 'postgres', ssl: false, sslVerify: false }
    if (await answers(local)) return local
    const emb = await startEmbedded({ prefix: resolve('.cache/test-pg'), port: 54330 })
    // The embedded server is left running for the other test files; scripts/test.ts stops it.
    return { ...emb.settings, database: 'postgres' }
  })()
  return serverPromise
}

async function admin<T> (fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const s = await testServer()
  const c = new pg.Client({ ...s, password: s.password || undefined })
  await c.connect()
  try { return await fn(c) } finally { await c.end() }
}

function templateName (): string {
  const h = createHash('sha1')
  for (const m of knownMigrations()) h.update(m.name).update(m.sql)
  return `sluice_tpl_${h.digest('hex').slice(0, 12)}`
}

async function ensureTemplate (): Promise<string> {
  const name = templateName()
  const s = await testServer()
  const exists = await admin(async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1)
  if (exists) return name
  // Build under a temporary name, then rename: concurrent test files never see a half-migrated template.
  const tmp = `${name}_b${randomBytes(3).toString('hex')}`
  await admin((c) => c.query(`create database "${tmp}"`))
  const pool = createPool({ ...s, database: tmp, timeoutMs: 5000, max: 1 })
  try { await migrateUp(pool) } finally { await pool.end() }
  try {
    await admin((c) => c.query(`alter database "${tmp}" rename to "${name}"`))
  } catch {
    await admin((c) => c.query(`drop database if exists "${tmp}"`)) // another file won the race
  }
  return name
}

export interface TestDb {
  settings: PgSettings
  pool: Pool
  /** Drops the database (after closing the pool). */
  drop (): Promise<void>
}

/** A fresh migrated database for one test file. `migrated: false` gives an empty one. */
export async function createTestDb (opts: { migrated?: boolean } = {}): Promise<TestDb> {
  const s = await testServer()
  const name = `sluice_t_${randomBytes(5).toString('hex')}`
  if (opts.migrated === false) await admin((c) => c.query(`create database "${name}"`))
  else {
    const tpl = await ensureTemplate()
    await admin((c) => c.query(`create database "${name}" template "${tpl}"`))
  }
  const settings = { ...s, database: name }
  const pool = createPool({ ...settings, timeoutMs: 5000, max: 4 })
  let dropped = false
  return {
    settings,
    pool,
    async drop () {
      if (dropped) return
      dropped = true
      await pool.end().catch(() => {})
      await admin((c) => c.query(`drop database if exists "${name}" with (force)`))
    },
  }
}
