/**
 * The piscina worker: declarative loads and exports (load.ts) off the primary thread. Snapshot
 * bytes travel in a SharedArrayBuffer both ways, so nothing large is copied between threads but
 * the texts.
 */
import { workerData } from 'node:worker_threads'
import { setDatabaseOff } from '../plugins/schemas.ts'
import { exportSnapshot, runLoad, type LoadInput, type LoadOutput } from './load.ts'
import type { GenericRow } from '../common/snapshot.ts'

if ((workerData as { databaseOff?: boolean } | null)?.databaseOff === true) setDatabaseOff(true)

export type Task = { load: LoadInput } | { export: Uint8Array; adminTables?: Record<string, GenericRow[]> }

export default function task (t: Task): LoadOutput | string {
  return 'load' in t ? runLoad(t.load) : exportSnapshot(t.export, t.adminTables)
}
