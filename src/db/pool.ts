/**
 * The primary's one pg.Pool (pg-pool under the hood). Workers never open a database connection.
 */
import pg from 'pg'
import type { PgSettings } from '../config/load.ts'

export type Pool = pg.Pool
export type PoolClient = pg.PoolClient

export interface PoolOptions extends PgSettings {
  timeoutMs: number
  max: number
  schema?: string | null
  applicationName?: string
}

// int8 (bigint) columns hold timestamps and counters well inside 2^53: return numbers, not strings.
pg.types.setTypeParser(20, (v) => Number(v))

export function createPool (o: PoolOptions): Pool {
  const pool = new pg.Pool({
    host: o.host,
    port: o.port,
    user: o.user,
    password: o.password === '' ? undefined : o.password,
    database: o.database,
    ssl: o.ssl ? { rejectUnauthorized: o.sslVerify } : undefined,
    max: o.max,
    connectionTimeoutMillis: o.timeoutMs,
    query_timeout: o.timeoutMs * 6,
    idleTimeoutMillis: 30_000,
    application_name: o.applicationName ?? 'sluice',
    options: o.schema != null ? `-c search_path=${o.schema}` : undefined,
  })
  // An idle client losing its connection must not crash the primary; the next query reconnects.
  pool.on('error', () => {})
  return pool
}

/** Runs fn in a transaction on one client; rolls back on throw. */
export async function withTransaction<T> (pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const out = await fn(client)
    await client.query('COMMIT')
    return out
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}

/** SQLSTATE classes that mean "the database is not reachable", as opposed to a bad query. */
export function isConnectionError (err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code ?? ''
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'ENOTFOUND' ||
    code === 'EPIPE' || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test((err as Error)?.message ?? '')
}
