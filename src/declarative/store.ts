/**
 * The DB-less node's read-only entity store (Kong's `off` strategy over LMDB): the rows of the
 * snapshot the workers serve, and of the tables no worker needs (key sets and keys), for the Admin
 * API's reads. It is built from the encoded snapshot on the first read after a swap (the primary
 * never decodes a configuration nobody reads), indexes are built per table on first use, and a
 * swap replaces the whole store at once.
 *
 * Rows are in the Admin API's shape; expiring credentials show `ttl` as seconds left and vanish
 * once expired, as with the PostgreSQL strategy.
 */
import { decodeSnapshot } from '../common/codec.ts'
import { decodeOffset, encodeOffset, MAX_PAGE_SIZE, PAGE_SIZE, type PageOptions } from '../db/dao/index.ts'
import { invalidSize } from '../db/schema/db-errors.ts'
import { getSchema } from '../db/schema/registry.ts'
import { restoreRow } from '../vault/refs.ts'

export type StoreRow = Record<string, unknown> & { id: string }

const byId = (a: StoreRow, b: StoreRow): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

interface TableIndex {
  rows: StoreRow[]
  byId: Map<string, StoreRow>
  unique: Map<string, Map<unknown, StoreRow>>
  foreign: Map<string, Map<string, StoreRow[]>>
}

export class MemoryStore {
  readonly #bytes: Uint8Array | null
  #tables: Record<string, StoreRow[]> | null
  readonly #adminOnly: Record<string, StoreRow[]>
  readonly #index = new Map<string, TableIndex>()

  /**
   * From encoded snapshot bytes (decoded on first read), or from rows. `adminOnly`: tables the
   * snapshot leaves out (load.ts ADMIN_ONLY_TABLES), rows as configured.
   */
  constructor (source: Uint8Array | Record<string, StoreRow[]> | null, adminOnly: Record<string, StoreRow[]> = {}) {
    this.#adminOnly = adminOnly
    if (source === null) { this.#bytes = null; this.#tables = { ...adminOnly } } else if (source instanceof Uint8Array) { this.#bytes = source; this.#tables = null } else { this.#bytes = null; this.#tables = { ...source, ...adminOnly } }
  }

  #all (): Record<string, StoreRow[]> {
    if (this.#tables === null) {
      const s = decodeSnapshot(this.#bytes!)
      const entities: Record<string, StoreRow[]> = {}
      // rows as configured: the workers' copy holds dereferenced secrets
      for (const [t, rows] of Object.entries(s.entities as Record<string, StoreRow[]>)) entities[t] = rows.map(restoreRow)
      this.#tables = { services: s.services as unknown as StoreRow[], routes: s.routes as unknown as StoreRow[], ...entities, ...this.#adminOnly }
    }
    return this.#tables
  }

  #idx (table: string): TableIndex {
    let t = this.#index.get(table)
    if (t === undefined) {
      const rows = [...(this.#all()[table] ?? [])].sort(byId)
      t = { rows, byId: new Map(rows.map((r) => [r.id, r])), unique: new Map(), foreign: new Map() }
      this.#index.set(table, t)
    }
    return t
  }

  /** A stored row as the Admin API shows it now (null: expired). */
  #shown (table: string, row: StoreRow | undefined, nowS: number): StoreRow | null {
    if (row === undefined) return null
    if (getSchema(table)?.ttl !== true) return row
    const exp = row.expires_at
    const out: StoreRow = { ...row }
    delete out.expires_at
    if (typeof exp === 'number') {
      const left = Math.floor(exp - nowS)
      if (left <= 0) return null
      out.ttl = left
    } else out.ttl = null
    return out
  }

  #visible (table: string, rows: readonly StoreRow[]): StoreRow[] {
    const now = Date.now() / 1000
    const out: StoreRow[] = []
    for (const r of rows) { const s = this.#shown(table, r, now); if (s !== null) out.push(s) }
    return out
  }

  /** Raw stored rows (snapshot shape, with `expires_at`), ordered by id. */
  raw (table: string): readonly StoreRow[] { return this.#idx(table).rows }

  count (table: string): number { return this.#idx(table).rows.length }

  all (table: string): StoreRow[] { return this.#visible(table, this.#idx(table).rows) }

  selectById (table: string, id: string): StoreRow | null {
    return this.#shown(table, this.#idx(table).byId.get(id), Date.now() / 1000)
  }

  /** select_by_<field> of a unique field (or the endpoint key). */
  selectByField (table: string, field: string, value: unknown): StoreRow | null {
    const t = this.#idx(table)
    let m = t.unique.get(field)
    if (m === undefined) {
      m = new Map()
      for (const r of t.rows) { const v = r[field]; if (v !== null && v !== undefined && !m.has(v)) m.set(v, r) }
      t.unique.set(field, m)
    }
    return this.#shown(table, m.get(value), Date.now() / 1000)
  }

  /** Rows whose foreign key `field` is `id`, ordered by id. */
  rowsWhere (table: string, field: string, id: string): StoreRow[] {
    const t = this.#idx(table)
    let m = t.foreign.get(field)
    if (m === undefined) {
      m = new Map()
      for (const r of t.rows) {
        const fk = (r[field] as { id?: unknown } | null | undefined)?.id
        if (typeof fk !== 'string') continue
        const list = m.get(fk)
        if (list === undefined) m.set(fk, [r])
        else list.push(r)
      }
      t.foreign.set(field, m)
    }
    return this.#visible(table, m.get(id) ?? [])
  }

  /** The first row (by id) matching every `field = value` (foreign keys by `{id}`). */
  findOne (table: string, filter: Record<string, unknown>): StoreRow | null {
    const match = (r: StoreRow): boolean => Object.entries(filter).every(([k, v]) => {
      const x = r[k]
      if (v !== null && typeof v === 'object') return (x as { id?: unknown } | null)?.id === (v as { id?: unknown }).id
      return x === v
    })
    return this.all(table).find(match) ?? null
  }

  /** Kong's page: ordered by id, `size` (1..1000), an opaque offset, the tags filter. */
  page (table: string, opts: PageOptions = {}): { data: StoreRow[]; offset?: string } {
    const size = opts.size ?? PAGE_SIZE
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw invalidSize(`size must be an integer between 1 and ${MAX_PAGE_SIZE}`)
    let rows: readonly StoreRow[] = opts.foreign !== undefined
      ? this.rowsWhere(table, opts.foreign.field, opts.foreign.id)
      : this.all(table)
    if (opts.foreign === undefined && opts.tags !== undefined && opts.tags.length > 0) {
      const want = opts.tags
      const any = opts.tagsCond === 'or'
      rows = rows.filter((r) => {
        const tags = Array.isArray(r.tags) ? r.tags as string[] : []
        return any ? want.some((t) => tags.includes(t)) : want.every((t) => tags.includes(t))
      })
    }
    let start = 0
    if (opts.offset !== undefined) {
      const after = String(decodeOffset(opts.offset)[0])
      let lo = 0
      let hi = rows.length
      while (lo < hi) { const mid = (lo + hi) >> 1; if (rows[mid]!.id <= after) lo = mid + 1; else hi = mid }
      start = lo
    }
    const data = rows.slice(start, start + size)
    if (start + size >= rows.length) return { data }
    return { data, offset: encodeOffset([data[data.length - 1]!.id]) }
  }
}
