/**
 * Config deltas on the worker: a SnapshotDelta (common/snapshot.ts) applied to the configuration a
 * worker serves, at a cost that follows the change rather than the configuration's size.
 *
 * The worker keeps its configuration as rows by table and id (`CompileState`), next to what the
 * last compile produced. A delta whose changes touch only `services` and `routes` is compiled
 * incrementally: changed services are recompiled (compile.ts compileService), the routes they
 * serve and the changed routes get new router entries (compile.ts routeEntry), and the router is
 * patched (router/traditional.ts patchRouter: the last full build minus those routes plus an
 * overlay of their new entries). Plugin chains are unchanged (no plugin row changed; chainsFor
 * resolves by route and service id). Anything else (plugins, consumers, credentials, upstreams,
 * targets, certificates, SNIs, routes with `snis`, or an overlay past OVERLAY_MAX routes)
 * recompiles in full from the patched rows: the same compileFull a full snapshot goes through,
 * only without the primary encoding and posting one.
 *
 * Failure: `applyDelta` either returns the next CompiledSnapshot or throws; the compiled snapshot
 * being served is never touched (router patches only mark entries for newer routers). After a
 * throw the state is unusable (`broken`): the worker asks the primary for a full snapshot and
 * ignores deltas until it arrives.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { EntityChange, GenericRow, RouteRow, ServiceRow, Snapshot, SnapshotDelta } from '../common/snapshot.ts'
import type { AnyPluginHandler } from '../plugins/types.ts'
import type { RouterEntry } from '../router/types.ts'
import { patchRouter } from '../router/traditional.ts'
import { CompactTable } from './compact-table.ts'
import { setCompactTables } from './plugin-env.ts'
import {
  compileFull, compileService, logRouterErrors, routeEntry, usedTargets,
  type CompiledRoute, type CompiledService, type CompiledSnapshot, type FullCompile, type ServiceContext, type UpstreamTarget,
} from './compile.ts'

/** Tables a delta may touch and still be compiled incrementally. */
export const INCREMENTAL_TABLES: ReadonlySet<string> = new Set(['services', 'routes'])
/** Routes served by the overlay past which a delta rebuilds the router in full. */
export const OVERLAY_MAX = 512

const byId = (a: GenericRow, b: GenericRow): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

function hasSnis (r: GenericRow | undefined | null): boolean {
  const s = r?.snis
  return Array.isArray(s) && s.length > 0
}

/**
 * Tables kept as columns (compact-table.ts) rather than row objects: the ones that grow to 100,000s
 * of rows (consumers and their credentials). Plugins read them through `PrepareEnv.table`.
 */
export const COMPACT_TABLES: ReadonlySet<string> = new Set([
  'consumers', 'keyauth_credentials', 'basicauth_credentials', 'hmacauth_credentials', 'jwt_secrets', 'acls',
])

/**
 * The rows of one table, sorted by id: binary search instead of a Map (a Map of 100,000 rows costs
 * about 3.7 MiB per worker; the sorted array is the one the snapshot arrived in, adopted as is).
 * A compact table (COMPACT_TABLES) holds an immutable CompactTable plus the changes of the delta
 * being applied; `compact()` gives the next CompactTable (the one the compiled snapshot served
 * now holds is never changed).
 */
export class RowTable {
  #rows: GenericRow[]
  /** False while #rows is the decoded snapshot's array (compile may have handed it to plugins): copied before the first change. */
  #owned: boolean
  #compact: CompactTable | null = null
  #pending: Map<string, GenericRow | null> | null = null

  constructor (rows: readonly GenericRow[] = [], compact = false) {
    let sorted = true
    for (let i = 1; i < rows.length && sorted; i++) sorted = rows[i - 1]!.id < rows[i]!.id
    this.#rows = sorted ? rows as GenericRow[] : rows.slice().sort(byId)
    this.#owned = !sorted
    if (compact) {
      this.#compact = new CompactTable(this.#rows)
      this.#rows = []
    }
  }

  #own (): GenericRow[] {
    if (!this.#owned) { this.#rows = this.#rows.slice(); this.#owned = true }
    return this.#rows
  }

  /** The rows as columns (compact tables only; null otherwise), with the pending changes applied. */
  compact (): CompactTable | null {
    if (this.#compact !== null && this.#pending !== null) {
      this.#compact = this.#compact.with(this.#pending)
      this.#pending = null
    }
    return this.#compact
  }

  get size (): number { return this.compact()?.size ?? this.#rows.length }

  /** Index of `id`, or -(insertion point) - 1. */
  #find (id: string): number {
    const rows = this.#rows
    let lo = 0
    let hi = rows.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const x = rows[mid]!.id
      if (x < id) lo = mid + 1
      else if (x > id) hi = mid - 1
      else return mid
    }
    return -lo - 1
  }

  get (id: string): GenericRow | undefined {
    if (this.#compact !== null) {
      const p = this.#pending?.get(id)
      return p !== undefined ? (p ?? undefined) : this.#compact.get(id)
    }
    const i = this.#find(id)
    return i >= 0 ? this.#rows[i] : undefined
  }

  set (id: string, row: GenericRow): void {
    if (this.#compact !== null) { (this.#pending ??= new Map()).set(id, row); return }
    const i = this.#find(id)
    if (i >= 0) this.#own()[i] = row
    else this.#own().splice(-i - 1, 0, row)
  }

  delete (id: string): void {
    if (this.#compact !== null) { (this.#pending ??= new Map()).set(id, null); return }
    const i = this.#find(id)
    if (i >= 0) this.#own().splice(i, 1)
  }

  /** A copy of the rows, sorted by id. */
  rows (): GenericRow[] { return this.compact()?.rows() ?? this.#rows.slice() }
}

/** Foreign-key fields whose `{ id }` names a row of a table kept here. */
const FOREIGN: ReadonlyArray<readonly [string, string]> = [
  ['consumer', 'consumers'], ['service', 'services'], ['route', 'routes'], ['upstream', 'upstreams'], ['certificate', 'certificates'],
]

/**
 * Points foreign-key ids (`credential.consumer.id`, `route.service.id`, ...) at the id string of
 * the row they name: the decoder gives every occurrence its own copy (56 bytes a UUID; 5.6 MiB for
 * 100,000 credentials). Same characters, one string: nothing observable changes.
 */
function internForeignIds (tables: ReadonlyMap<string, RowTable>, rows: readonly GenericRow[]): void {
  for (const row of rows) {
    for (const [field, table] of FOREIGN) {
      const fk = row[field] as { id?: unknown } | null | undefined
      if (fk === null || typeof fk !== 'object' || typeof fk.id !== 'string') continue
      const t = tables.get(table)
      if (t === undefined || t.compact() !== null) continue // a compact table keeps no id strings
      const target = t.get(fk.id)
      if (target !== undefined) fk.id = target.id
    }
  }
}

/** Compact-table rows from which a compile is followed by a full GC (collect()). */
export const COLLECT_ROWS = 20_000

let gcFn: (() => void) | null | undefined

/**
 * A full GC, once a big snapshot is compiled. V8 collects the old generation only when it grows
 * past its limit, and a serving worker promotes little: the decoded snapshot (about 60 MiB of rows
 * at 100,000 consumers, dead once the compact tables are built) would otherwise stay in the heap,
 * and in the worker's resident memory, until then. The gc function comes from a context created
 * with --expose-gc set for that moment only (nothing else sees the flag).
 */
function collect (): void {
  if (gcFn === undefined) {
    const own = (globalThis as { gc?: () => void }).gc
    try {
      if (own !== undefined) gcFn = own
      else {
        setFlagsFromString('--expose-gc')
        gcFn = runInNewContext('gc') as () => void
        setFlagsFromString('--no-expose-gc')
      }
    } catch {
      gcFn = null
    }
  }
  gcFn?.()
}

function compactRows (tables: ReadonlyMap<string, RowTable>): number {
  let n = 0
  for (const t of COMPACT_TABLES) n += tables.get(t)?.size ?? 0
  return n
}

/** `entities[t]`: the rows of `c`, built on each read and not kept (readers index them once per compile). */
function lazyRows (entities: Record<string, GenericRow[]>, t: string, c: CompactTable): void {
  Object.defineProperty(entities, t, { enumerable: true, configurable: true, get: () => c.rows() })
}

/**
 * The tables of a decoded snapshot. The arrays of compact tables are replaced in `snap` by their
 * lazy view (so the decoded row objects can be collected even if something keeps `snap`), and the
 * CompactTables are registered for the compile of `snap`.
 */
function loadTables (snap: Snapshot): Map<string, RowTable> {
  const tables = new Map<string, RowTable>()
  const compact = new Map<string, CompactTable>()
  // The decoded arrays are adopted, not copied (RowTable copies one before its first change).
  const put = (t: string, rows: GenericRow[]): void => { tables.set(t, new RowTable(rows, COMPACT_TABLES.has(t))) }
  put('services', snap.services as unknown as GenericRow[])
  put('routes', snap.routes as unknown as GenericRow[])
  const entities = snap.entities ?? {}
  for (const [t, rows] of Object.entries(entities)) put(t, rows)
  for (const [t, m] of tables) {
    const c = m.compact()
    if (c !== null) { compact.set(t, c); lazyRows(entities, t, c) }
  }
  for (const t of Object.keys(entities)) if (!compact.has(t)) internForeignIds(tables, entities[t]!) // (a compact table's getter would build its rows)
  internForeignIds(tables, snap.routes as unknown as GenericRow[])
  setCompactTables(snap, compact)
  return tables
}

export class CompileState {
  /** Rows by table, sorted by id: the configuration of `compiled`. */
  readonly tables = new Map<string, RowTable>()
  compiled: CompiledSnapshot
  /** Set once an apply failed half way: only a full snapshot may follow. */
  broken = false
  /** How the last apply went, for logs and tests. */
  lastPath: 'full' | 'incremental' | 'recompiled' = 'full'
  readonly #handlers: readonly AnyPluginHandler[] | undefined
  readonly #nodeId: string
  #services: Map<string, CompiledService | null>
  #entries: Map<string, RouterEntry<CompiledRoute>>
  /** service id -> ids of routes that name it. */
  #routesOf = new Map<string, Set<string>>()
  /** Routes served by the overlay since the last full router build. */
  #replaced = new Set<string>()

  /**
   * From a full snapshot (decoded), its full compile and the snapshot's tables (loadTables, built
   * before the compile so that it reads the compact ones; built here when absent).
   */
  constructor (snap: Snapshot, full: FullCompile, handlers: readonly AnyPluginHandler[] | undefined, nodeId: string, tables?: ReadonlyMap<string, RowTable>) {
    this.#handlers = handlers
    this.#nodeId = nodeId
    this.compiled = full.compiled
    this.#services = full.services
    this.#entries = full.entries
    this.#load(snap, tables)
  }

  static compile (snap: Snapshot, handlers?: readonly AnyPluginHandler[], nodeId = ''): CompileState {
    const tables = loadTables(snap)
    const state = new CompileState(snap, compileFull(snap, handlers, nodeId), handlers, nodeId, tables)
    if (compactRows(tables) >= COLLECT_ROWS) collect()
    return state
  }

  #load (snap: Snapshot, tables: ReadonlyMap<string, RowTable> = loadTables(snap)): void {
    this.tables.clear()
    this.#routesOf.clear()
    for (const [t, m] of tables) this.tables.set(t, m)
    for (const r of snap.routes) this.#link(r)
  }

  #link (r: RouteRow): void {
    const sid = r.service?.id
    if (sid === undefined) return
    let set = this.#routesOf.get(sid)
    if (set === undefined) this.#routesOf.set(sid, set = new Set())
    set.add(r.id)
  }

  #unlink (r: RouteRow): void {
    const sid = r.service?.id
    if (sid !== undefined) this.#routesOf.get(sid)?.delete(r.id)
  }

  /**
   * The configuration as a Snapshot (rows sorted by id, as the primary sends them). The rows of
   * compact tables are built only if read; the compile reads their columns (setCompactTables).
   */
  snapshot (version: number, hash: string): Snapshot {
    const rows = (t: string): GenericRow[] => this.tables.get(t)?.rows() ?? []
    const entities: Record<string, GenericRow[]> = {}
    const compact = new Map<string, CompactTable>()
    for (const [t, m] of this.tables) {
      if (t === 'services' || t === 'routes') continue
      const c = m.compact()
      if (c === null) entities[t] = rows(t)
      else { compact.set(t, c); lazyRows(entities, t, c) }
    }
    const snap: Snapshot = {
      version,
      hash,
      services: rows('services') as unknown as ServiceRow[],
      routes: rows('routes') as unknown as RouteRow[],
      entities,
    }
    setCompactTables(snap, compact)
    return snap
  }

  /**
   * Applies `delta` (which must sit on the version compiled now) and returns what to serve next.
   * `tls` is set when the TLS plan must be rebuilt from the returned snapshot rows.
   */
  apply (delta: SnapshotDelta): { compiled: CompiledSnapshot; tls: Snapshot | null } {
    if (this.broken) throw new Error('compile state is broken; a full snapshot is needed')
    if (delta.base !== this.compiled.version) throw new Error(`delta on ${delta.base}, serving ${this.compiled.version}`)
    this.broken = true // until this apply has finished
    let incremental = true
    let tls = false
    for (const c of delta.changes) {
      if (!INCREMENTAL_TABLES.has(c.table)) incremental = false
      if (c.table === 'certificates' || c.table === 'snis') tls = true
      if (c.table === 'routes' && (hasSnis(c.row) || hasSnis(this.tables.get('routes')?.get(c.id)))) { incremental = false; tls = true }
    }
    const services: EntityChange[] = []
    const routes: EntityChange[] = []
    for (const c of delta.changes) {
      let m = this.tables.get(c.table)
      if (m === undefined) this.tables.set(c.table, m = new RowTable([], COMPACT_TABLES.has(c.table)))
      const before = m.get(c.id)
      if (c.table === 'routes' && before !== undefined) this.#unlink(before as unknown as RouteRow)
      if (c.row === null) m.delete(c.id)
      else m.set(c.id, c.row)
      if (c.table === 'routes' && c.row !== null) this.#link(c.row as unknown as RouteRow)
      if (c.table === 'services') services.push(c)
      else if (c.table === 'routes') routes.push(c)
    }
    let compiled: CompiledSnapshot | null = null
    if (incremental) compiled = this.#patch(delta, services, routes)
    if (compiled === null) {
      const snap = this.snapshot(delta.version, delta.hash)
      const full = compileFull(snap, this.#handlers, this.#nodeId)
      this.#services = full.services
      this.#entries = full.entries
      this.#replaced = new Set()
      this.compiled = full.compiled
      this.lastPath = 'recompiled'
      this.broken = false
      if (compactRows(this.tables) >= COLLECT_ROWS) collect()
      return { compiled: full.compiled, tls: tls ? snap : null }
    }
    this.compiled = compiled
    this.lastPath = 'incremental'
    this.broken = false
    return { compiled, tls: null }
  }

  /** Services and routes only; null when the overlay would grow past OVERLAY_MAX. */
  #patch (delta: SnapshotDelta, services: EntityChange[], routes: EntityChange[]): CompiledSnapshot | null {
    const affected = new Set<string>()
    for (const c of routes) affected.add(c.id)
    for (const c of services) for (const id of this.#routesOf.get(c.id) ?? []) affected.add(id)
    let overlay = this.#replaced.size
    for (const id of affected) if (!this.#replaced.has(id)) overlay++
    if (overlay > OVERLAY_MAX) return null
    const prev = this.compiled
    let targets: readonly UpstreamTarget[] = prev.targets
    if (services.length > 0) {
      const known = new Map<string, UpstreamTarget>()
      for (const t of prev.targets) known.set(t.key, t) // same key, same target object: its pool stays
      const ctx: ServiceContext = { targets: known, snap: this.snapshotView(delta) }
      const next = new Map(this.#services)
      for (const c of services) {
        if (c.row === null) next.delete(c.id)
        else next.set(c.id, compileService(c.row as unknown as ServiceRow, ctx))
      }
      this.#services = next
      targets = usedTargets(next)
    }
    const routeRows = this.tables.get('routes')!
    const entries = this.#entries
    for (const id of affected) {
      const row = routeRows.get(id) as unknown as RouteRow | undefined
      const e = row === undefined ? null : routeEntry(row, this.#services, prev.plugins)
      if (e === null) entries.delete(id)
      else entries.set(id, e)
      this.#replaced.add(id)
    }
    const top: Array<RouterEntry<CompiledRoute>> = []
    for (const id of this.#replaced) {
      const e = entries.get(id)
      if (e !== undefined) top.push(e)
    }
    const router = patchRouter(prev.router, this.#replaced, top)
    logRouterErrors(router)
    return { version: delta.version, hash: delta.hash, router, targets, routeCount: entries.size, plugins: prev.plugins }
  }

  /** A Snapshot whose arrays are built only if read (compileService's context). */
  snapshotView (delta: SnapshotDelta): Snapshot {
    let snap: Snapshot | null = null
    const get = (): Snapshot => (snap ??= this.snapshot(delta.version, delta.hash))
    return {
      version: delta.version,
      hash: delta.hash,
      get services () { return get().services },
      get routes () { return get().routes },
      get entities () { return get().entities },
    }
  }
}
