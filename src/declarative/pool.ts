/**
 * The primary's piscina pool for declarative work (parse, validate, flatten, snapshot build).
 * One thread is enough: loads are serialised anyway (a second POST /config meanwhile gets 429);
 * what matters is that none of it runs on the primary thread, where the Admin API answers.
 */
import { Piscina } from 'piscina'
import type { LoadInput, LoadOutput } from './load.ts'
import type { GenericRow } from '../common/snapshot.ts'

const FILE = new URL('./worker.ts', import.meta.url)
// A .ts worker needs the tsx loader registered inside the thread on Node 20 (see worker/ts-loader.mjs).
const EXEC_ARGV = FILE.pathname.endsWith('.ts') ? ['--import', new URL('../worker/ts-loader.mjs', import.meta.url).href] : []

export interface DeclarativePool {
  load (input: LoadInput): Promise<LoadOutput>
  /** The snapshot, with the tables it leaves out (load.ts ADMIN_ONLY_TABLES), as Kong's export (YAML). */
  exportYaml (bytes: Uint8Array, adminTables?: Record<string, GenericRow[]>): Promise<string>
  close (): Promise<void>
}

/**
 * `databaseOff`: the thread validates plugins as a DB-less node's (plugins/schemas.ts
 * setDatabaseOff: the rate limiters offer no `cluster` policy), set from workerData when the thread
 * starts, so a thread piscina replaces after a crash gets it too.
 */
export function createDeclarativePool (o: { databaseOff?: boolean } = {}): DeclarativePool {
  const pool = new Piscina({
    filename: FILE.href,
    minThreads: 1,
    maxThreads: 1,
    idleTimeout: 60_000,
    execArgv: EXEC_ARGV,
    workerData: { databaseOff: o.databaseOff === true },
  })
  return {
    load: (input) => pool.run({ load: input }) as Promise<LoadOutput>,
    exportYaml: (bytes, adminTables) => pool.run({ export: bytes, adminTables }) as Promise<string>,
    close: () => pool.destroy(),
  }
}
