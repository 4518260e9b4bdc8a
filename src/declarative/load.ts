/**
 * One declarative load, start to finish, as a pure function of its input: text (or a decoded
 * table) -> parse -> flatten (validation, ids, references) -> the rows the proxy and the Admin API
 * read -> the encoded snapshot, plus the 201 body of `POST /config`. It runs in the piscina pool
 * (worker.ts) so that a 100,000-entity file never blocks the primary thread; the CLI and tests may
 * call it directly.
 */
import { encodeSnapshot } from '../common/codec.ts'
import type { GenericRow, RouteRow, ServiceRow, Snapshot } from '../common/snapshot.ts'
import { processAutoFields } from '../db/schema/process.ts'
import { getSchema } from '../db/schema/registry.ts'
import { SNAPSHOT_TABLES } from '../primary/config-cache.ts'
import { declarativeConfigError, flattenedConfigError, parseError, type DeclarativeErrT } from './errors.ts'
import { flatten, type Flattened, type Row } from './flatten.ts'
import { configHash, EMPTY_CONFIG_HASH, toTable, unserialize, type Table } from './parse.ts'
import { buildExport, exportedTables, exportRow, toYaml, type ExportRow } from './export.ts'
import { MemoryStore } from './store.ts'
import { resolveTables } from '../vault/tables.ts'
import type { NodeVaultConfigs } from '../vault/installed.ts'

export interface LoadInput {
  /** The configuration text (a file, a body, a `config` field). */
  text?: string | Uint8Array
  /** An already decoded configuration (a JSON body with `_format_version`). */
  table?: Table
  /** Picks the parsers as Kong does (`.json`, `.yml`/`.yaml`); none: JSON, then YAML. */
  filename?: string
  /** The text is a JSON body: a syntax error is the Admin API's `Cannot parse JSON body`. */
  jsonBody?: boolean
  /** Plugin names this node enables; absent: all known. */
  enabledPlugins?: readonly string[]
  /** Snapshot version to encode. */
  version: number
  flattenErrors?: boolean
  /** Build the `POST /config` 201 body (entities by table and id). */
  respond?: boolean
  /** `?check_hash=1`: the hash now served; the same configuration answers 304. */
  checkHash?: string
  /** The node's vault settings (vault/installed.ts `nodeVaultConfigs`); none: those of the environment alone. */
  vaultConfigs?: NodeVaultConfigs
}

export interface LoadSuccess {
  ok: true
  version: number
  /** md5 of the text (Kong's configuration hash), zeros for an empty configuration. */
  hash: string
  /** The encoded snapshot (SharedArrayBuffer-backed) and its content hash. */
  bytes: Uint8Array
  snapshotHash: string
  counts: Record<string, number>
  total: number
  formatVersion: string
  parseMs: number
  buildMs: number
  body?: string
  /** Rows of ADMIN_ONLY_TABLES in the Admin API's shape: the DB-less store holds them beside the snapshot. */
  adminTables: Record<string, GenericRow[]>
}

export interface LoadFailure { ok: false; status: number; body: DeclarativeErrT | { message: string } }

export type LoadOutput = LoadSuccess | LoadFailure

/** Plain objects (msgpack and JSON see ordinary data), keys as given. */
function plain (v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v
  if (Array.isArray(v)) return v.map(plain)
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v)) out[k] = plain((v as Record<string, unknown>)[k])
  return out
}

/** A flattened row in the Admin API's shape: schema order, shorthands shown, plain objects. */
function adminRow (table: string, row: Row): GenericRow {
  const schema = getSchema(table)!
  let src: Record<string, unknown> = row
  if (table === 'plugins') {
    const r = processAutoFields(schema, row, 'select')
    if ('entity' in r) src = r.entity
  }
  const out: GenericRow = { id: row.id }
  for (const k of Object.keys(schema.fields)) if (Object.hasOwn(src, k)) out[k] = plain(src[k])
  for (const k of Object.keys(src)) if (!Object.hasOwn(out, k) && Object.hasOwn(schema.fields, k)) out[k] = plain(src[k])
  return out
}

/**
 * Entities the Admin API serves (and `GET /config` exports) in DB-less mode that no worker reads:
 * they stay out of the snapshot and live in the DB-less store only. No bundled plugin uses keys.
 */
export const ADMIN_ONLY_TABLES: readonly string[] = ['key_sets', 'keys']

/** The snapshot tables of a flattened configuration (what loadAllForSnapshot gives in DB mode). */
export function snapshotTables (flat: Flattened, nowS = Date.now() / 1000): Record<string, GenericRow[]> {
  const out: Record<string, GenericRow[]> = {}
  for (const t of SNAPSHOT_TABLES) {
    const rows = flat.entities.get(t) ?? []
    const schema = getSchema(t)!
    out[t] = rows.map((r) => {
      const a = adminRow(t, r)
      if (schema.ttl === true) {
        const exp = typeof r.ttl === 'number' ? r.ttl : null
        a.ttl = exp === null ? null : Math.max(0, Math.floor(exp - nowS))
        a.expires_at = exp
      }
      return a
    })
  }
  // certificates show their SNI names (dao/hooks/certificates.ts expand)
  const names = new Map<string, string[]>()
  for (const s of out.snis ?? []) {
    const cid = (s.certificate as { id?: string } | null)?.id
    if (typeof cid !== 'string') continue
    const l = names.get(cid)
    if (l === undefined) names.set(cid, [s.name as string])
    else l.push(s.name as string)
  }
  for (const c of out.certificates ?? []) c.snis = (names.get(c.id) ?? []).sort()
  return out
}

const byId = (a: GenericRow, b: GenericRow): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** Encodes the tables as the workers' snapshot (primary/snapshot.ts's layout, rows sorted by id). */
export function encodeTables (tables: Record<string, GenericRow[]>, version: number, hash: string): Uint8Array {
  const sorted: Record<string, GenericRow[]> = {}
  for (const t of SNAPSHOT_TABLES) sorted[t] = [...(tables[t] ?? [])].sort(byId)
  const { services = [], routes = [], ...entities } = sorted
  const snapshot: Snapshot = {
    version,
    hash,
    services: services as unknown as ServiceRow[],
    routes: routes as unknown as RouteRow[],
    entities,
  }
  return encodeSnapshot(snapshot)
}

/** The 201 body of POST /config: `{ <table>: { <id>: <entity> } }` (sanitize_output), expiry absolute. */
function responseBody (flat: Flattened, tables: Record<string, GenericRow[]>): string {
  const out: Record<string, Record<string, unknown>> = {}
  for (const t of flat.entities.keys()) {
    const ttl = getSchema(t)?.ttl === true
    const m: Record<string, unknown> = {}
    // entities served by no table (vaults) are answered as flattened
    for (const r of tables[t] ?? (flat.entities.get(t) as GenericRow[] | undefined) ?? []) {
      if (ttl) {
        const { expires_at: exp, ...rest } = r
        m[r.id] = { ...rest, ttl: exp ?? null }
      } else m[r.id] = r
    }
    out[t] = m
  }
  return JSON.stringify(out)
}

function isEmpty (flat: Flattened): boolean {
  return flat.count === 0
}

/**
 * A decoded body is Kong's request parameters: the `/config` options it may carry
 * (`flatten_errors`, `check_hash`, read from the query string here) are taken out of it, not
 * refused as unknown fields.
 */
function withoutOptions (t: Table): Table {
  delete t.flatten_errors
  delete t.check_hash
  return t
}

/**
 * The configuration a request or file carries: a table, or a failure to answer with. `fromText`:
 * the hash is that of a configuration text, the only kind `?check_hash=1` compares (Kong hashes
 * an already decoded body only after flattening, so such a body never answers 304).
 */
function decode (input: LoadInput): { table: Table; hash: string; fromText: boolean } | LoadFailure {
  if (input.table !== undefined) return { table: withoutOptions(toTable(input.table) as Table), hash: configHash(JSON.stringify(input.table)), fromText: false }
  const text = typeof input.text === 'string' ? input.text : Buffer.from(input.text ?? new Uint8Array()).toString('utf8')
  if (input.jsonBody === true) {
    // POST /config with a JSON body: the configuration itself, or `{"config": "<yaml or json>"}`
    let v: unknown
    try { v = JSON.parse(text) } catch { return { ok: false, status: 400, body: { message: 'Cannot parse JSON body' } } }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return { ok: false, status: 400, body: { message: 'Cannot parse JSON body' } }
    const o = v as Record<string, unknown>
    if (o._format_version === undefined && typeof o.config === 'string') return decode({ ...input, text: o.config, jsonBody: false })
    // a body without `_format_version` is a configuration text of its own (Kong reads the raw body)
    try {
      const table = toTable(o) as Table
      return { table: o._format_version === undefined ? table : withoutOptions(table), hash: configHash(text), fromText: o._format_version === undefined }
    } catch { return { ok: false, status: 400, body: { message: 'Cannot parse JSON body' } } }
  }
  const u = unserialize(text, input.filename)
  if (!u.ok) return { ok: false, status: 400, body: parseError(u.error) }
  return { table: u.table, hash: u.hash, fromText: true }
}

export function runLoad (input: LoadInput): LoadOutput {
  const t0 = performance.now()
  const d = decode(input)
  if ('ok' in d) return d
  const table = d.table
  let hash = d.hash
  if (input.checkHash !== undefined && d.fromText && input.checkHash === hash) return { ok: false, status: 304, body: { message: 'configuration is identical' } }
  const enabled = input.enabledPlugins !== undefined ? new Set(input.enabledPlugins) : undefined
  // flattening mutates nothing it is given; keep the original for flattened errors
  const r = flatten(table, enabled !== undefined ? { enabledPlugins: enabled } : {})
  if (!r.ok) {
    const body = input.flattenErrors === true ? flattenedConfigError(r.errors, table) : declarativeConfigError(r.errors)
    return { ok: false, status: 400, body }
  }
  const flat = r.value
  const parseMs = performance.now() - t0
  const t1 = performance.now()
  if (isEmpty(flat)) hash = EMPTY_CONFIG_HASH
  const tables = snapshotTables(flat)
  // the workers get secrets, not references (the store puts the references back for the Admin API)
  const bytes = encodeTables(resolveTables(tables, input.vaultConfigs), input.version, hash)
  const counts: Record<string, number> = {}
  for (const [t, rows] of flat.entities) counts[t] = rows.length
  const out: LoadSuccess = {
    ok: true,
    version: input.version,
    hash,
    bytes,
    snapshotHash: hash,
    counts,
    total: flat.count,
    formatVersion: flat.meta._format_version,
    parseMs,
    buildMs: performance.now() - t1,
    adminTables: Object.fromEntries(ADMIN_ONLY_TABLES.map((t) => [t, (flat.entities.get(t) ?? []).map((r) => adminRow(t, r))])),
  }
  if (input.respond === true) out.body = responseBody(flat, tables)
  return out
}

/** GET /config: the served snapshot (with the admin-only tables) as Kong's export, in YAML. */
export function exportSnapshot (bytes: Uint8Array, adminTables: Record<string, GenericRow[]> = {}): string {
  const store = new MemoryStore(bytes, adminTables)
  const tables = new Map<string, ExportRow[]>()
  for (const t of exportedTables()) tables.set(t, store.raw(t).map((r) => exportRow(t, r, r.expires_at as number | null | undefined)))
  return toYaml(buildExport(tables))
}
