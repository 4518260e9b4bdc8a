/**
 * Config cache -> Snapshot -> msgpack bytes, encoded once per version into a SharedArrayBuffer
 * and posted unchanged to every worker. Rows are sorted by id so that the same configuration
 * gives the same bytes on every node. The last good snapshot is also written under the prefix so a
 * node that starts while PostgreSQL is down can still serve.
 *
 * A change of a few rows costs a few rows (`SnapshotBuilder.delta`): the content hash is a sum of
 * per-row digests (order-free, updated row by row), the changed rows go to the workers as a
 * SnapshotDelta, and the full snapshot of that version is encoded only when something reads its
 * `bytes` (a worker that starts or resyncs, a reload, the last-good file).
 */
import { createHash } from 'node:crypto'
import { writeFile, rename, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { EntityChange, GenericRow, RouteRow, ServiceRow, Snapshot } from '../common/snapshot.ts'
import { encodeDelta, encodeSnapshot, decodeSnapshot } from '../common/codec.ts'
import { SNAPSHOT_TABLES, type ConfigCache, type Row } from './config-cache.ts'
import { ReferenceTables } from '../vault/tables.ts'
import type { NodeVaultConfigs } from '../vault/installed.ts'
import { restoreRow } from '../vault/refs.ts'

const byId = (a: Row, b: Row): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

export interface BuiltSnapshot { readonly version: number; readonly hash: string; readonly bytes: Uint8Array; readonly buildMs: number }

/** A full snapshot whose rows are captured now and encoded on first read of `bytes`. */
class LazySnapshot implements BuiltSnapshot {
  readonly version: number
  readonly hash: string
  buildMs: number
  #tables: Array<[string, Row[]]> | null
  #bytes: Uint8Array | null = null

  constructor (version: number, hash: string, tables: Array<[string, Row[]]>, buildMs: number) {
    this.version = version
    this.hash = hash
    this.#tables = tables
    this.buildMs = buildMs
  }

  get bytes (): Uint8Array {
    if (this.#bytes !== null) return this.#bytes
    const t0 = performance.now()
    const sorted: Record<string, Row[]> = {}
    for (const [t, rows] of this.#tables!) sorted[t] = rows.sort(byId)
    const { services = [], routes = [], ...entities } = sorted
    const snapshot: Snapshot = {
      version: this.version,
      hash: this.hash,
      services: services as unknown as ServiceRow[],
      routes: routes as unknown as RouteRow[],
      entities: entities as Record<string, GenericRow[]>,
    }
    this.#bytes = encodeSnapshot(snapshot)
    this.#tables = null
    this.buildMs += performance.now() - t0
    return this.#bytes
  }
}

const MOD = 1n << 128n

function rowDigest (table: string, row: Row): bigint {
  return BigInt('0x' + createHash('md5').update(table).update('\0').update(JSON.stringify(row)).digest('hex'))
}

/** One delta to post: its encoded bytes and the full snapshot of the same version. */
export interface BuiltDelta { base: number; bytes: Uint8Array; snapshot: BuiltSnapshot; changes: number }

/**
 * The primary's snapshot maker. `full` digests every row; `delta` only the changed ones. The
 * hash (Kong's configuration_hash: 32 hex) is md5 of the sum mod 2^128 of md5(table, row JSON)
 * over all rows: equal content gives the equal hash on every node, whatever the order of changes.
 */
export class SnapshotBuilder {
  readonly #digests = new Map<string, bigint>()
  #sum = 0n

  #hash (): string {
    return createHash('md5').update(this.#sum.toString(16)).digest('hex')
  }

  // Vault references are dereferenced in what the workers get; the hash is of the rows as stored.
  readonly #refs: ReferenceTables

  /**
   * `vaults`: the node's vault settings (vault/installed.ts `nodeVaultConfigs` of the loaded
   * configuration: `vault_env_prefix`); none: those of the environment alone.
   */
  constructor (opts: { vaults?: NodeVaultConfigs } = {}) {
    this.#refs = new ReferenceTables(opts.vaults)
  }

  #capture (cache: ConfigCache): Array<[string, Row[]]> {
    this.#refs.useVaults(cache.rows('vaults'))
    return SNAPSHOT_TABLES.map((t) => [t, this.#refs.rows(t, cache.rows(t))])
  }

  full (cache: ConfigCache, version: number): BuiltSnapshot {
    const t0 = performance.now()
    this.#digests.clear()
    let sum = 0n
    for (const t of SNAPSHOT_TABLES) {
      for (const r of cache.rows(t)) {
        const d = rowDigest(t, r)
        this.#digests.set(`${t}:${r.id}`, d)
        sum += d
      }
    }
    this.#sum = sum % MOD
    const built = new LazySnapshot(version, this.#hash(), this.#capture(cache), 0)
    void built.bytes // a full snapshot is posted at once
    built.buildMs += performance.now() - t0
    return built
  }

  /** `changes`: rows as the cache holds them now (null: gone), each (table, id) once. */
  delta (cache: ConfigCache, base: number, version: number, changes: EntityChange[]): BuiltDelta {
    const t0 = performance.now()
    let sum = this.#sum
    for (const c of changes) {
      const key = `${c.table}:${c.id}`
      const old = this.#digests.get(key)
      if (old !== undefined) { sum -= old; this.#digests.delete(key) }
      if (c.row !== null) {
        const d = rowDigest(c.table, c.row as Row)
        this.#digests.set(key, d)
        sum += d
      }
    }
    this.#sum = ((sum % MOD) + MOD) % MOD
    const hash = this.#hash()
    const vaultsChanged = this.#refs.useVaults(cache.rows('vaults'))
    const sent = changes.map((c) => c.row === null ? c : { ...c, row: this.#refs.row(c.table, c.row as Row) })
    if (vaultsChanged) {
      // other vaults: every row holding a reference is dereferenced again
      const seen = new Set(changes.map((c) => `${c.table}:${c.id}`))
      for (const t of SNAPSHOT_TABLES) {
        if (!this.#refs.holds(t)) continue
        for (const r of cache.rows(t)) {
          if (!seen.has(`${t}:${r.id}`) && this.#refs.hasReferences(t, r)) sent.push({ table: t, id: r.id, row: this.#refs.row(t, r) })
        }
      }
    }
    const bytes = encodeDelta({ base, version, hash, changes: sent })
    const snapshot = new LazySnapshot(version, hash, this.#capture(cache), performance.now() - t0)
    return { base, bytes, snapshot, changes: changes.length }
  }
}

/** A full snapshot of the cache, hashed from scratch (DB-less mode, tests). */
export function buildSnapshot (cache: ConfigCache, version: number): BuiltSnapshot {
  return new SnapshotBuilder().full(cache, version)
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
    const s = decodeSnapshot(await readFile(join(prefix, 'last-snapshot.msgpack')))
    // rows as stored: vault references put back (they are dereferenced again when built)
    for (const t of Object.keys(s.entities)) s.entities[t] = s.entities[t]!.map(restoreRow)
    return s
  } catch {
    return null
  }
}
