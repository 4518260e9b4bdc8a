/**
 * `sluice migrations bootstrap|up|finish|list|reset|status` (kong/cmd/migrations.lua), with Kong's
 * exit codes and wording where scripts read them:
 *
 *   list       0 up to date; 3 needs bootstrap; 5 new migrations to run (`up`)
 *   up         on an empty database: error (exit 1) "Cannot run migrations: Database needs bootstrapping"
 *   finish     Sluice's migrations are one phase (no `teardown`): "No pending migrations to finish"
 *   status     the state as JSON (needs_bootstrap, executed/new migrations), exit 0
 *   reset      asks on a terminal; elsewhere needs -y/--yes ("not a tty" error otherwise)
 *
 * -q/--quiet prints nothing; --db-timeout (seconds) is pg_timeout for this run; --lock-timeout is
 * accepted (migrations wait on an advisory lock as long as another node holds it).
 */
import { createInterface } from 'node:readline/promises'
import { UsageError, flag, type Parsed } from './args.ts'
import { configFrom } from './common.ts'
import { openDatastore } from '../primary/database.ts'
import { knownMigrations, migrateReset, migrateUp, schemaState, type SchemaState } from '../db/migrate.ts'

export const MIGRATION_COMMANDS = ['bootstrap', 'up', 'finish', 'list', 'reset', 'status'] as const

const NEEDS_BOOTSTRAP = "Database needs bootstrapping.\n\nTo start a new installation from scratch, run 'sluice migrations bootstrap'."

const pad = (id: number): string => String(id).padStart(6, '0')

function statusJson (state: SchemaState): string {
  const known = knownMigrations()
  const names = new Map(known.map((m) => [m.id, `${pad(m.id)}_${m.name}`]))
  const executed = state.kind === 'empty' ? [] : state.executed
  const ns = (ids: number[]): Array<{ subsystem: string; namespace: string; migrations: string[] }> | undefined =>
    ids.length === 0 ? undefined : [{ subsystem: 'core', namespace: 'sluice.db.migrations', migrations: ids.map((id) => names.get(id) ?? String(id)) }]
  return JSON.stringify({
    needs_bootstrap: state.kind === 'empty',
    executed_migrations: ns(executed),
    new_migrations: ns(state.kind === 'pending' ? state.pending.map((m) => m.id) : state.kind === 'empty' ? known.map((m) => m.id) : []),
    unknown_migrations: state.kind === 'newer' ? state.unknown.map(String) : undefined,
  })
}

async function confirm (question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout })
  try {
    for (let i = 0; i < 3; i++) {
      const a = (await rl.question(`> ${question} [y/n] `)).trim()
      if (/^(y|yes)$/i.test(a)) return true
      if (/^(n|no)$/i.test(a)) return false
    }
    return false
  } finally { rl.close() }
}

export async function migrations (p: Parsed): Promise<number> {
  const sub = p.positionals[1]
  if (sub === undefined) throw new UsageError('expected a command: bootstrap, up, finish, list, reset or status')
  if (!(MIGRATION_COMMANDS as readonly string[]).includes(sub)) throw new UsageError(`No such command for migrations: ${sub}`)
  if (p.positionals.length > 2) throw new UsageError(`unexpected argument '${p.positionals[2]}'`)
  const quiet = flag(p, 'q', 'quiet') !== undefined
  const say = (m: string): void => { if (!quiet) process.stdout.write(m + '\n') }
  const config = configFrom(p)
  if (config.database === 'off') {
    process.stderr.write("Error: 'sluice migrations' needs a database; database = off keeps the configuration in memory\n")
    return 1
  }
  if (sub === 'reset' && flag(p, 'y', 'yes') === undefined && !process.stdin.isTTY) {
    process.stderr.write("Error: not a tty: invoke 'reset' non-interactively with the --yes flag\n")
    return 1
  }
  const ds = await openDatastore(config, { applicationName: 'sluice-migrations' })
  try {
    const state = await schemaState(ds.pool)
    if (state.kind === 'newer' && sub !== 'status' && sub !== 'reset') {
      process.stderr.write(`Error: Database schema is newer than this Sluice (unknown migrations: ${state.unknown.join(', ')})\n`)
      return 1
    }
    switch (sub) {
      case 'status':
        process.stdout.write(statusJson(state) + '\n')
        return 0
      case 'list': {
        if (state.kind === 'empty') { say(NEEDS_BOOTSTRAP); return 3 }
        const executed = new Set(state.executed)
        for (const m of knownMigrations()) say(`${executed.has(m.id) ? 'executed' : 'pending '}  ${pad(m.id)}_${m.name}`)
        if (state.kind === 'pending') {
          say(`\nNew migrations available: ${state.pending.length}\n\nRun 'sluice migrations up' to proceed`)
          return 5
        }
        say('\nDatabase is up-to-date')
        return 0
      }
      case 'bootstrap':
        if (state.kind !== 'empty' && flag(p, 'f', 'force') === undefined) { say('Database already bootstrapped'); return 0 }
        if (state.kind !== 'empty') { say('Resetting database...'); await migrateReset(ds.pool) }
        say('Bootstrapping database...')
        await migrateUp(ds.pool, say)
        say('Database is up-to-date')
        return 0
      case 'up': {
        if (state.kind === 'empty') { process.stderr.write(`Error: Cannot run migrations: ${NEEDS_BOOTSTRAP}\n`); return 1 }
        const ran = await migrateUp(ds.pool, say)
        say(ran.length === 0 ? 'Database is already up-to-date' : `${ran.length} migration${ran.length === 1 ? '' : 's'} executed\nDatabase is up-to-date`)
        return 0
      }
      case 'finish':
        if (state.kind === 'empty') { process.stderr.write(`Error: Cannot run migrations: ${NEEDS_BOOTSTRAP}\n`); return 1 }
        say('No pending migrations to finish')
        return 0
      case 'reset':
        if (state.kind === 'empty') { say('Database not bootstrapped, nothing to reset'); return 1 }
        if (flag(p, 'y', 'yes') === undefined && !(await confirm('Are you sure? This operation is irreversible.'))) { say('cancelled'); return 0 }
        say('Resetting database...')
        await migrateReset(ds.pool)
        say('Database successfully reset')
        return 0
    }
    return 1
  } finally {
    await ds.close()
    if (ds.embedded?.started === true) await ds.embedded.stop()
  }
}
