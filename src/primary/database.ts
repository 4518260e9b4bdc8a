/**
 * Opens the datastore for a primary or a CLI command: the configured PostgreSQL, or the embedded
 * one under <prefix>/pgdata when no pg_host is set. Checks the schema state on the way.
 */
import type { Config, PgSettings } from '../config/load.ts'
import { createPool, type Pool } from '../db/pool.ts'
import { startEmbedded, type EmbeddedPostgres } from '../db/embedded.ts'
import { migrateUp, schemaState, SchemaNewerError } from '../db/migrate.ts'
import { log } from '../common/log.ts'

export interface Datastore {
  pool: Pool
  settings: PgSettings & { schema: string | null }
  embedded: EmbeddedPostgres | null
  close (): Promise<void>
}

export async function openDatastore (config: Config, opts: { applicationName?: string } = {}): Promise<Datastore> {
  let embedded: EmbeddedPostgres | null = null
  let settings: PgSettings
  if (config.pg === null) {
    embedded = await startEmbedded({ prefix: config.prefix, port: config.pgEmbeddedPort, log: (m) => log.notice(m) })
    settings = embedded.settings
  } else {
    settings = config.pg
  }
  const pool = createPool({
    ...settings,
    timeoutMs: config.pgTimeout,
    max: config.pgMaxConcurrentQueries > 0 ? config.pgMaxConcurrentQueries : 16,
    schema: config.pgSchema,
    applicationName: opts.applicationName,
  })
  return {
    pool,
    settings: { ...settings, schema: config.pgSchema },
    embedded,
    async close () {
      await pool.end().catch(() => {})
    },
  }
}

/** `sluice start`: bootstrap an empty database, run pending migrations, refuse a newer schema. */
export async function prepareSchema (pool: Pool): Promise<void> {
  const state = await schemaState(pool)
  if (state.kind === 'newer') throw new SchemaNewerError(state.unknown)
  if (state.kind === 'empty') log.notice('database is empty: bootstrapping')
  if (state.kind === 'pending') log.notice(`running ${state.pending.length} pending migration(s)`)
  if (state.kind !== 'up-to-date') await migrateUp(pool, (m) => log.notice(m))
}
