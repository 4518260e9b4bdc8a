/**
 * The primary's config cache: every proxy-relevant entity row in memory, keyed by table and id,
 * in the Kong-shaped form the Admin API returns. Cluster sync refreshes single rows; a full
 * reload replaces everything. Each change bumps `dirty`, and snapshot.ts builds from here.
 */
import type { Pool } from '../db/pool.ts'
import { loadAllForSnapshot, loadOneForSnapshot } from '../db/dao/index.ts'

/** Tables that make up the proxy configuration, in build order. Later entities join this list. */
export const SNAPSHOT_TABLES = ['services', 'routes', 'consumers', 'plugins', 'upstreams', 'targets', 'certificates', 'snis', 'ca_certificates', 'keyauth_credentials', 'basicauth_credentials', 'jwt_secrets', 'hmacauth_credentials', 'acls', 'vaults'] as const

export type Row = Record<string, unknown> & { id: string }

export class ConfigCache {
  readonly tables = new Map<string, Map<string, Row>>()
  /** Bumped on every change; snapshot.ts compares it with the version it last built. */
  generation = 0

  constructor () {
    for (const t of SNAPSHOT_TABLES) this.tables.set(t, new Map())
  }

  has (table: string): boolean { return this.tables.has(table) }

  async loadEverything (pool: Pool): Promise<void> {
    const next = new Map<string, Map<string, Row>>()
    for (const t of SNAPSHOT_TABLES) {
      const rows = await loadAllForSnapshot(pool, t) as Row[]
      const m = new Map<string, Row>()
      for (const r of rows) m.set(r.id, r)
      next.set(t, m)
    }
    for (const [t, m] of next) this.tables.set(t, m)
    this.generation++
  }

  /** Re-reads one row (created, updated or deleted: the database says which). */
  async refresh (pool: Pool, table: string, id: string): Promise<void> {
    const m = this.tables.get(table)
    if (m === undefined) return
    const row = await loadOneForSnapshot(pool, table, id) as Row | null
    if (row === null) { if (m.delete(id)) this.generation++ } else { m.set(id, row); this.generation++ }
  }

  /** Replaces the whole content (DB-less config, last good snapshot). */
  replace (tables: Record<string, Row[]>): void {
    for (const t of SNAPSHOT_TABLES) {
      const m = new Map<string, Row>()
      for (const r of tables[t] ?? []) m.set(r.id, r)
      this.tables.set(t, m)
    }
    this.generation++
  }

  rows (table: string): Row[] {
    return [...(this.tables.get(table)?.values() ?? [])]
  }
}
