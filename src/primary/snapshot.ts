/**
 * Config cache -> Snapshot -> msgpack bytes, encoded once per version into a SharedArrayBuffer
 * and posted unchanged to every worker. Rows are sorted by id so that the same configuration
 * gives the same hash on every node. The last good snapshot is also written under the prefix so a
 * node that starts while PostgreSQL is down can still serve.
 */
import { createHash } from 'node:crypto'
import { writeFile, rename, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { RouteRow, ServiceRow, Snapshot, GenericRow } from '../common/snapshot.ts'
import { encodeSnapshot, decodeSnapshot } from '../common/codec.ts'
import { SNAPSHOT_TABLES, type ConfigCache, type Row } from './config-cache.ts'

const byId = (a: Row, b: Row): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

export interface BuiltSnapshot { version: number; hash: string; bytes: Uint8Array; buildMs: number }

export function buildSnapshot (cache: ConfigCache, version: number): BuiltSnapshot {
  const t0 = performance.now()
  const sorted: Record<string, Row[]> = {}
  const h = createHash('md5')
  for (const t of SNAPSHOT_TABLES) {
    const rows = cache.rows(t).sort(byId)
    sorted[t] = rows
    h.update(t).update(JSON.stringify(rows))
  }
  const { services = [], routes = [], ...entities } = sorted
  const hash = h.digest('hex')
  const snapshot: Snapshot = {
    version,
    hash,
    services: services as unknown as ServiceRow[],
    routes: routes as unknown as RouteRow[],
    entities: entities as Record<string, GenericRow[]>,
  }
  const bytes = encodeSnapshot(snapshot)
  return { version, hash, bytes, buildMs: performance.now() - t0 }
}

/** Saves run one after another per process, so an older snapshot never renames over a newer one. */
let saving: Promise<void> = Promise.resolve()
let saveSeq = 0

export function saveLastGood (prefix: string, built: BuiltSnapshot): Promise<void> {
  const file = join(prefix, 'last-snapshot.msgpack')
  const tmp = `${file}.${process.pid}.${++saveSeq}.tmp`
  const run = saving.then(async () => {
    await writeFile(tmp, built.bytes, { mode: 0o600 })
    await rename(tmp, file)
  })
  saving = run.catch(() => {})
  return run
}

export async function loadLastGood (prefix: string): Promise<Snapshot | null> {
  try {
    return decodeSnapshot(await readFile(join(prefix, 'last-snapshot.msgpack')))
  } catch {
    return null
  }
}
