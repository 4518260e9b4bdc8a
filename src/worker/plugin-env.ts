/**
 * The per-snapshot side of `prepare(conf, env)`: snapshot rows by table, the consumer index, and
 * a memo that plugins use to build their credential indexes once per snapshot (shared by every
 * instance of the plugin). One SnapshotEnv per compile; each instance gets a view that carries its
 * own plugin row.
 *
 * Consumers and credentials arrive as CompactTables (compile-delta.ts COMPACT_TABLES, registered
 * for the snapshot with setCompactTables): the consumer index is a binary search by id and a
 * string index by username over their columns, and `table(name)` hands plugins the columns.
 */
import { hostname } from 'node:os'
import type { Snapshot } from '../common/snapshot.ts'
import type { ConsumerIndex, ConsumerRow, PluginRow, PrepareEnv, TableView } from '../plugins/types.ts'
import type { CompactTable } from './compact-table.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const EMPTY: readonly Record<string, unknown>[] = []
const HOSTNAME = hostname()

const compactOf = new WeakMap<Snapshot, ReadonlyMap<string, CompactTable>>()

/** The CompactTables of `snap` (compile-delta.ts): its compile reads these instead of row arrays. */
export function setCompactTables (snap: Snapshot, tables: ReadonlyMap<string, CompactTable>): void {
  compactOf.set(snap, tables)
}

function consumerIndex (snap: Snapshot, table: CompactTable | undefined): ConsumerIndex {
  if (table !== undefined) {
    let byUsername: ((v: string) => number) | null | undefined
    const username = (x: string): ConsumerRow | undefined => {
      byUsername ??= table.indexOf('username')
      if (byUsername !== null) {
        const i = byUsername(x)
        return i < 0 ? undefined : table.row(i) as unknown as ConsumerRow
      }
      for (let i = 0; i < table.size; i++) if (table.field(i, 'username') === x) return table.row(i) as unknown as ConsumerRow
      return undefined
    }
    const byId = (id: string): ConsumerRow | undefined => table.get(id) as unknown as ConsumerRow | undefined
    return {
      byId,
      // kong/pdk/client.lua load_consumer(x, true): a UUID is tried as id first, then as username.
      find: (x) => (UUID.test(x) ? byId(x) : undefined) ?? username(x),
    }
  }
  const byId = new Map<string, ConsumerRow>()
  const byUsername = new Map<string, ConsumerRow>()
  for (const r of (snap.entities?.consumers ?? []) as unknown as ConsumerRow[]) {
    byId.set(r.id, r)
    if (typeof r.username === 'string') byUsername.set(r.username, r)
  }
  return {
    byId: (id) => byId.get(id),
    find: (x) => (UUID.test(x) ? byId.get(x) : undefined) ?? byUsername.get(x),
  }
}

export class SnapshotEnv {
  readonly snap: Snapshot
  readonly consumers: ConsumerIndex
  readonly nodeId: string
  readonly #memo = new Map<string, unknown>()
  readonly #compact: ReadonlyMap<string, CompactTable>

  constructor (snap: Snapshot, nodeId: string) {
    this.snap = snap
    this.nodeId = nodeId
    this.#compact = compactOf.get(snap) ?? new Map()
    this.consumers = consumerIndex(snap, this.#compact.get('consumers'))
  }

  rows (table: string): readonly Record<string, unknown>[] {
    return this.snap.entities?.[table] ?? EMPTY
  }

  /** The columns of a compact table (undefined: the table is kept as rows; use `rows`). */
  table (name: string): TableView | undefined {
    return this.#compact.get(name)
  }

  memo<T> (key: string, build: () => T): T {
    if (this.#memo.has(key)) return this.#memo.get(key) as T
    const v = build()
    this.#memo.set(key, v)
    return v
  }

  /** The env one instance's prepare() sees. */
  forPlugin (plugin: PluginRow): PrepareEnv {
    return {
      plugin,
      rows: (t) => this.rows(t),
      table: (t) => this.table(t),
      consumers: this.consumers,
      memo: (k, b) => this.memo(k, b),
      nodeId: this.nodeId,
      hostname: HOSTNAME,
    }
  }
}
