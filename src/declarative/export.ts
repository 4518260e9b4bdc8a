/**
 * Entity rows -> Kong's export (kong/db/declarative/export.lua): `_format_version: "3.0"`,
 * `_transform: false` (secrets are already transformed), then each table in dependency order with
 * its rows ordered by id, every field present (explicit nulls), foreign keys as plain ids, and
 * expiring credentials with their absolute `ttl` (epoch seconds). Tables without rows are left
 * out, and so are the tables Kong's schemas mark `db_export = false` (NOT_EXPORTED). `toYaml`
 * writes it as YAML that reads back the same under YAML 1.1 and 1.2 alike.
 */
import { getSchema } from '../db/schema/registry.ts'
import { storedOrder } from './entities.ts'

export type ExportRow = Record<string, unknown>
export type Export = Record<string, unknown>

/**
 * Entities Kong leaves out of every export (`db_export = false` in their daos: export.lua skips
 * them): short-lived rows that mean nothing in another database. Of the entities Sluice has,
 * only oauth2's authorization codes (5-minute rows); oauth2_tokens are exported, as in Kong.
 * A file that lists them is still accepted on import, as Kong's declarative schema accepts it.
 */
export const NOT_EXPORTED: ReadonlySet<string> = new Set(['oauth2_authorization_codes'])

/** The tables an export holds, in dependency order. */
export function exportedTables (): string[] {
  return storedOrder().filter((t) => !NOT_EXPORTED.has(t))
}

const byId = (a: ExportRow, b: ExportRow): number => {
  const x = String(a.id)
  const y = String(b.id)
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * One row as exported: schema fields in schema order, foreign keys as ids, no transient or
 * read-only extras (certificates' `snis` names: snis are exported as entities of their own).
 * `expiresAt` is the absolute expiry of a row that has one (key-auth `ttl`).
 */
export function exportRow (table: string, row: ExportRow, expiresAt?: number | null): ExportRow {
  const schema = getSchema(table)
  if (schema === undefined) return row
  const out: ExportRow = {}
  for (const [k, f] of Object.entries(schema.fields)) {
    if (f.transient === true) continue
    const v = Object.hasOwn(row, k) ? row[k] : null
    if (f.type === 'foreign') {
      const id = v !== null && typeof v === 'object' ? (v as { id?: unknown }).id : v
      out[k] = id ?? null
    } else out[k] = v === undefined ? null : v
  }
  if (schema.ttl === true) out.ttl = expiresAt ?? null
  return out
}

/** Builds the export from rows already in export shape, by table. */
export function buildExport (tables: ReadonlyMap<string, ExportRow[]> | Record<string, ExportRow[]>): Export {
  const get = (t: string): ExportRow[] | undefined => tables instanceof Map ? tables.get(t) : (tables as Record<string, ExportRow[]>)[t]
  const out: Export = { _format_version: '3.0', _transform: false }
  for (const t of exportedTables()) {
    const rows = get(t)
    if (rows === undefined || rows.length === 0) continue
    out[t] = [...rows].sort(byId)
  }
  return out
}

// ---- YAML

/** YAML 1.1 words a plain scalar must not be: they would read back as booleans or null. */
const RESERVED = /^(?:y|yes|n|no|true|false|on|off|null|~)$/i
const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./@-]*$/

function scalar (v: unknown): string {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v > 0 ? '.inf' : v < 0 ? '-.inf' : '.nan'
  const s = String(v)
  return PLAIN.test(s) && !RESERVED.test(s) ? s : JSON.stringify(s)
}

const key = (k: string): string => PLAIN.test(k) && !RESERVED.test(k) ? k : JSON.stringify(k)

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

function emit (v: unknown, indent: string, out: string[]): void {
  // called for a value that follows `key:` or `- ` on the current line
  if (Array.isArray(v)) {
    if (v.length === 0) { out.push(' []\n'); return }
    out.push('\n')
    for (const x of v) {
      out.push(`${indent}-`)
      if (isObj(x) && Object.keys(x).length > 0) emitMapInline(x, indent + '  ', out)
      else emit(x, indent + '  ', out)
    }
    return
  }
  if (isObj(v)) {
    const keys = Object.keys(v)
    if (keys.length === 0) { out.push(' {}\n'); return }
    out.push('\n')
    for (const k of keys) {
      out.push(`${indent}${key(k)}:`)
      emit(v[k], indent + '  ', out)
    }
    return
  }
  out.push(` ${scalar(v)}\n`)
}

/** A mapping that starts on the line of its `-`. */
function emitMapInline (v: Record<string, unknown>, indent: string, out: string[]): void {
  let first = true
  for (const k of Object.keys(v)) {
    out.push(first ? ` ${key(k)}:` : `${indent}${key(k)}:`)
    first = false
    emit(v[k], indent + '  ', out)
  }
}

/** A document as block YAML; strings quoted whenever a plain scalar could read differently. */
export function toYaml (doc: Record<string, unknown>): string {
  const out: string[] = []
  for (const k of Object.keys(doc)) {
    out.push(`${key(k)}:`)
    emit(doc[k], '  ', out)
  }
  return out.join('')
}
