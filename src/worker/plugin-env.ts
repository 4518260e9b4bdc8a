/**
 * The per-snapshot side of `prepare(conf, env)`: snapshot rows by table, the consumer index, and
 * a memo that plugins use to build their credential indexes once per snapshot (shared by every
 * instance of the plugin). One SnapshotEnv per compile; each instance gets a view that carries its
 * own plugin row.
 */
import { hostname } from 'node:os'
import type { Snapshot } from '../common/snapshot.ts'
import type { ConsumerIndex, ConsumerRow, PluginRow, PrepareEnv } from '../plugins/types.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const EMPTY: readonly Record<string, unknown>[] = []
const HOSTNAME = hostname()

export class SnapshotEnv {
  readonly snap: Snapshot
  readonly consumers: ConsumerIndex
  readonly nodeId: string
  readonly #memo = new Map<string, unknown>()

  constructor (snap: Snapshot, nodeId: string) {
    this.snap = snap
    this.nodeId = nodeId
    const byId = new Map<string, ConsumerRow>()
    const byUsername = new Map<string, ConsumerRow>()
    for (const r of (snap.entities?.consumers ?? []) as unknown as ConsumerRow[]) {
      byId.set(r.id, r)
      if (typeof r.username === 'string') byUsername.set(r.username, r)
    }
    this.consumers = {
      byId: (id) => byId.get(id),
      // kong/pdk/client.lua load_consumer(x, true): a UUID is tried as id first, then as username.
      find: (x) => (UUID.test(x) ? byId.get(x) : undefined) ?? byUsername.get(x),
    }
  }

  rows (table: string): readonly Record<string, unknown>[] {
    return this.snap.entities?.[table] ?? EMPTY
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
      consumers: this.consumers,
      memo: (k, b) => this.memo(k, b),
      nodeId: this.nodeId,
      hostname: HOSTNAME,
    }
  }
}
