/**
 * References inside entity rows. The fields a schema marks `referenceable` (strings, or the
 * string elements / map values of a list or map, at any depth of records) may hold a
 * `{vault://...}` reference; `resolveRow` gives the row with each reference replaced by its
 * secret (an unresolvable one by "", as kong/db/schema/init.lua `resolve_reference` does) and
 * the references kept under `$refs`, so that `restoreRow` gives back the row as stored, which is
 * what the Admin API and exports show. Rows are plain JSON data; neither function mutates its
 * input.
 */
import { eachField } from '../db/schema/validate.ts'
import type { FieldDef, SchemaLike } from '../db/schema/types.ts'
import { isReference } from './reference.ts'
import type { Deref } from './resolve.ts'

export const REFS_KEY = '$refs'

type Path = Array<string | number>
/** One dereferenced value: where it is in the row, and the reference that was there. */
export type RefEntry = [Path, string]

type Row = Record<string, unknown>

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

const reach = new WeakMap<object, boolean>()

/** Whether a value of this field can hold a reference anywhere inside. */
function canHold (f: FieldDef | undefined): boolean {
  if (f === undefined) return false
  const known = reach.get(f)
  if (known !== undefined) return known
  reach.set(f, false) // recursive definitions
  let r = false
  switch (f.type) {
    case 'string': r = f.referenceable === true; break
    case 'array': case 'set': r = canHold(f.elements); break
    case 'map': r = canHold(f.values); break
    case 'record': r = Object.values(f.fields ?? {}).some(canHold); break
    default: r = false
  }
  reach.set(f, r)
  return r
}

/** Whether rows of this schema (any subschema) can hold references. */
export function schemaHoldsReferences (schema: SchemaLike): boolean {
  const known = reach.get(schema)
  if (known !== undefined) return known
  const r = Object.values(schema.fields).some(canHold) ||
    Object.values(schema.subschemas ?? {}).some((s) => Object.values(s.fields).some(canHold))
  reach.set(schema, r)
  return r
}

function collect (f: FieldDef, v: unknown, path: Path, out: RefEntry[]): void {
  if (v === null || v === undefined || !canHold(f)) return
  switch (f.type) {
    case 'string':
      if (isReference(v)) out.push([path, v])
      return
    case 'array': case 'set':
      if (Array.isArray(v)) v.forEach((x, i) => collect(f.elements!, x, [...path, i], out))
      return
    case 'map':
      if (isObject(v)) for (const k of Object.keys(v)) collect(f.values!, v[k], [...path, k], out)
      return
    case 'record':
      if (isObject(v)) for (const [k, sf] of Object.entries(f.fields ?? {})) collect(sf, v[k], [...path, k], out)
  }
}

/** The references a row holds in referenceable fields (none: an empty list). */
export function referencesOf (schema: SchemaLike, row: Row): RefEntry[] {
  const out: RefEntry[] = []
  if (!schemaHoldsReferences(schema)) return out
  for (const [k, f] of eachField(schema, row)) collect(f, row[k], [k], out)
  return out
}

function setAt (root: Row, path: Path, value: unknown): void {
  let node = root as Record<string | number, unknown>
  for (let i = 0; i < path.length - 1; i++) node = node[path[i]!] as Record<string | number, unknown>
  node[path[path.length - 1]!] = value
}

const copy = <T> (v: T): T => JSON.parse(JSON.stringify(v)) as T

/**
 * The row with its references dereferenced and `$refs` listing them, or the row itself when it
 * holds none. `onError` hears of each reference that could not be resolved.
 */
export function resolveRow (schema: SchemaLike, row: Row, deref: (reference: string) => Deref,
  onError?: (reference: string, error: string) => void): Row {
  const refs = referencesOf(schema, row)
  if (refs.length === 0) return row
  const out = copy(row)
  for (const [path, ref] of refs) {
    const d = deref(ref)
    if (!d.ok) onError?.(ref, d.error)
    setAt(out, path, d.ok ? d.value : '')
  }
  out[REFS_KEY] = refs
  return out
}

/** The row as stored: references put back, `$refs` gone. A row without `$refs` is returned as is. */
export function restoreRow<T extends Row> (row: T): T {
  const refs = row[REFS_KEY]
  if (refs === undefined) return row
  const out = copy(row) as Row
  delete out[REFS_KEY]
  if (Array.isArray(refs)) {
    for (const e of refs as unknown[]) {
      if (!Array.isArray(e) || !Array.isArray(e[0]) || typeof e[1] !== 'string') continue
      try { setAt(out, e[0] as Path, e[1]) } catch { /* a path the row no longer has */ }
    }
  }
  return out as T
}
