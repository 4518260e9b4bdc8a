/**
 * `sluice config init|parse|db_import|db_export|keys` (kong/cmd/config.lua):
 *
 *   init [FILE]        writes an example declarative config (default ./kong.yml), never over a file
 *   parse FILE         validates a declarative config; every error is listed by path
 *   db_import FILE     validates, then writes everything in one transaction (nothing half-imported)
 *   db_export [FILE]   writes the database as a `_format_version: "3.0"` file (default ./kong.yml,
 *                      never over an existing file; `-` for stdout)
 *   keys               lists every configuration key with its default
 *
 * Long operations print a line per 10,000 entities so that a 100,000-entity file shows progress.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { CONFIG_KEYS } from '../config/defaults.ts'
import { enabledPlugins, setDatabaseOff } from '../plugins/schemas.ts'
import { openDatastore, prepareSchema } from '../primary/database.ts'
import { DbError } from '../db/schema/db-errors.ts'
import { exportFromDb } from '../declarative/db-export.ts'
import { importIntoDb } from '../declarative/db-import.ts'
import { countErrors, prettyPrintErrors } from '../declarative/errors.ts'
import { toYaml } from '../declarative/export.ts'
import { flatten, type Flattened } from '../declarative/flatten.ts'
import { unserialize } from '../declarative/parse.ts'
import { KONG_YML } from '../declarative/template.ts'
import { UsageError, type Parsed } from './args.ts'
import { nodeConfigFrom as configFrom } from './common.ts'

const PROGRESS_EVERY = 10_000

const say = (m: string): void => { process.stdout.write(m + '\n') }
const fail = (m: string): void => { process.stderr.write(m.endsWith('\n') ? m : m + '\n') }
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

/** Reads and validates a file, printing progress; null (errors printed) when invalid. */
function parseFile (file: string, plugins: ReadonlySet<string> | undefined): Flattened | null {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (err) { fail(`Error: ${(err as Error).message}`); return null }
  const t0 = performance.now()
  const u = unserialize(text, file)
  if (!u.ok) { fail(`Error: Failed parsing:\n${u.error}`); return null }
  const big = text.length > 1_000_000
  if (big) say(`read ${file} (${(text.length / 1e6).toFixed(1)} MB) in ${seconds(performance.now() - t0)}, validating`)
  const r = flatten(u.table, {
    ...(plugins !== undefined ? { enabledPlugins: plugins } : {}),
    progressEvery: PROGRESS_EVERY,
    onProgress: (n) => say(`  validated ${n} entities`),
  })
  if (!r.ok) {
    const n = countErrors(r.errors)
    fail(`Error: Failed parsing: ${n} error${n === 1 ? '' : 's'} in ${file}:\n${prettyPrintErrors(r.errors)}`)
    return null
  }
  const parts = [...r.value.entities].map(([t, rows]) => `${rows.length} ${t}`)
  say(`parse successful: ${r.value.count} entities${parts.length > 0 ? ` (${parts.join(', ')})` : ''} in ${seconds(performance.now() - t0)}`)
  return r.value
}

async function dbImport (p: Parsed, file: string): Promise<number> {
  const config = configFrom(p)
  if (config.database === 'off') {
    fail("Error: 'sluice config db_import' only works with a database.\nWhen using database=off, reload your declarative configuration\nusing the /config endpoint.")
    return 1
  }
  const flat = parseFile(file, new Set(enabledPlugins(config.plugins)))
  if (flat === null) return 1
  say('parse successful, beginning import')
  const ds = await openDatastore(config, { applicationName: 'sluice-config' })
  try {
    await prepareSchema(ds.pool)
    let lastTable = ''
    let lastMark = 0
    const r = await importIntoDb(ds.pool, flat, null, (table, done, total) => {
      if (table !== lastTable) { lastTable = table; lastMark = 0 }
      if (done === total) say(`  ${table}: ${total} written`)
      else if (done - lastMark >= PROGRESS_EVERY) { lastMark = done; say(`  ${table}: ${done} / ${total}`) }
    })
    say(`import successful: ${r.rows} entities in ${r.statements} statements, ${seconds(r.ms)} (one transaction)`)
    return 0
  } catch (err) {
    if (err instanceof DbError) fail(`Error: Failed importing (nothing was written):\n${err.errT.message}`)
    else fail(`Error: Failed importing (nothing was written): ${(err as Error).message}`)
    return 1
  } finally {
    await ds.close()
    if (ds.embedded?.started === true) await ds.embedded.stop()
  }
}

async function dbExport (p: Parsed, file: string): Promise<number> {
  const config = configFrom(p)
  if (config.database === 'off') {
    fail("Error: 'sluice config db_export' only works with a database.")
    return 1
  }
  if (file !== '-' && existsSync(file)) {
    fail(`Error: ${file} already exists. Will not overwrite it.`)
    return 1
  }
  const ds = await openDatastore(config, { applicationName: 'sluice-config' })
  try {
    const t0 = performance.now()
    const toStdout = file === '-'
    const doc = await exportFromDb(ds.pool, (table, rows) => { if (!toStdout && rows > 0) say(`  ${table}: ${rows}`) })
    const yaml = toYaml(doc)
    if (toStdout) process.stdout.write(yaml)
    else {
      writeFileSync(file, yaml)
      let n = 0
      for (const [k, v] of Object.entries(doc)) if (!k.startsWith('_') && Array.isArray(v)) n += v.length
      say(`export successful: ${n} entities to ${file} in ${seconds(performance.now() - t0)}`)
    }
    return 0
  } finally {
    await ds.close()
    if (ds.embedded?.started === true) await ds.embedded.stop()
  }
}

function init (file: string): number {
  if (existsSync(file)) {
    fail(`Error: ${file} already exists in the current directory.\nWill not overwrite it.`)
    return 1
  }
  writeFileSync(file, KONG_YML)
  say(`${file} written`)
  return 0
}

export const CONFIG_COMMANDS = ['init', 'parse', 'db_import', 'db_export', 'keys'] as const

export async function configCommand (p: Parsed): Promise<number> {
  const sub = p.positionals[1]?.replace(/-/g, '_')
  if (sub === undefined) throw new UsageError('expected a command: init, parse, db_import, db_export or keys')
  if (!(CONFIG_COMMANDS as readonly string[]).includes(sub)) throw new UsageError(`No such command for config: ${p.positionals[1]}`)
  const arg = p.positionals[2]
  switch (sub) {
    case 'keys':
      for (const [k, spec] of Object.entries(CONFIG_KEYS)) process.stdout.write(`${k} = ${spec.default}\n    ${spec.doc}\n`)
      return 0
    case 'init':
      return init(arg ?? 'kong.yml')
    case 'parse': {
      if (arg === undefined) { fail('Error: expected a declarative configuration file; see `sluice config --help`'); return 1 }
      const config = configFrom(p)
      // As Kong's plugin schemas with database = off: rate limiters accept local and redis only.
      if (config.database === 'off') setDatabaseOff(true)
      return parseFile(arg, new Set(enabledPlugins(config.plugins))) === null ? 1 : 0
    }
    case 'db_import':
      if (arg === undefined) { fail('Error: expected a declarative configuration file; see `sluice config --help`'); return 1 }
      return await dbImport(p, arg)
    case 'db_export':
      return await dbExport(p, arg ?? 'kong.yml')
    default:
      return 1
  }
}
