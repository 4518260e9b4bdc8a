/**
 * `sluice migrations bootstrap|up|list|reset`, with Kong's exit codes for `list`
 * (0 up to date, 3 needs bootstrap, 5 new migrations to run).
 */
import type { Parsed } from './args.ts'
import { flag } from './args.ts'
import { configFrom } from './common.ts'
import { openDatastore } from '../primary/database.ts'
import { knownMigrations, migrateReset, migrateUp, schemaState } from '../db/migrate.ts'

export async function migrations (p: Parsed): Promise<number> {
  const sub = p.positionals[1]
  const config = configFrom(p)
  if (!['bootstrap', 'up', 'list', 'reset', 'status'].includes(sub ?? '')) {
    process.stderr.write('Usage: sluice migrations bootstrap|up|list|reset [-c FILE] [-y]\n')
    return 2
  }
  const say = (m: string): void => { process.stdout.write(m + '\n') }
  const ds = await openDatastore(config, { applicationName: 'sluice-migrations' })
  try {
    const state = await schemaState(ds.pool)
    switch (sub) {
      case 'list':
      case 'status': {
        const executed = state.kind === 'empty' ? [] : state.executed
        for (const m of knownMigrations()) say(`${executed.includes(m.id) ? 'executed' : 'pending '}  ${String(m.id).padStart(6, '0')}_${m.name}`)
        if (state.kind === 'empty') { say('Database needs bootstrapping: run `sluice migrations bootstrap`'); return 3 }
        if (state.kind === 'newer') { say(`Database schema is newer than this Sluice (unknown migrations: ${state.unknown.join(', ')})`); return 1 }
        if (state.kind === 'pending') { say(`${state.pending.length} new migration(s) available: run \`sluice migrations up\``); return 5 }
        say('Database is up to date')
        return 0
      }
      case 'bootstrap':
        if (state.kind !== 'empty' && flag(p, 'f', 'force') === undefined) { say('Database already bootstrapped'); return 0 }
        if (state.kind !== 'empty') await migrateReset(ds.pool)
        await migrateUp(ds.pool, say)
        say('Database is up to date')
        return 0
      case 'up': {
        if (state.kind === 'empty') { say('Database needs bootstrapping: run `sluice migrations bootstrap`'); return 3 }
        const ran = await migrateUp(ds.pool, say)
        say(ran.length === 0 ? 'Database is already up to date' : `${ran.length} migration(s) executed`)
        return 0
      }
      case 'reset':
        if (flag(p, 'y', 'yes') === undefined) {
          process.stderr.write('Error: `migrations reset` drops every Sluice table; confirm with -y / --yes\n')
          return 1
        }
        await migrateReset(ds.pool)
        say('Database schema reset')
        return 0
    }
    return 2
  } finally {
    await ds.close()
    if (ds.embedded?.started === true) await ds.embedded.stop()
  }
}
