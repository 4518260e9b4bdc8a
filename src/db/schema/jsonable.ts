/**
 * Schemas as JSON for `GET /schemas/{entity}` (kong/api/api_helpers.lua schema_to_jsonable):
 * `fields` is a list of one-key objects in schema order, functions are dropped, and foreign
 * fields carry no nested schema.
 */
import type { EntityCheck, FieldDef, Fields, SchemaLike } from './types.ts'

const HIDDEN = new Set(['custom_validator', 'int64'])

function plain (v: unknown): unknown {
  if (typeof v === 'function') return undefined
  if (Array.isArray(v)) return v.map(plain).filter((x) => x !== undefined)
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      const p = plain(x)
      if (p !== undefined) out[k] = p
    }
    return out
  }
  return v
}

export function fieldToJson (f: FieldDef): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(f)) {
    if (HIDDEN.has(k) || typeof v === 'function' || v === undefined) continue
    if (k === 'fields' && f.type === 'record') out[k] = fieldsToJson(v as Fields)
    else if (k === 'elements' || k === 'keys' || k === 'values') out[k] = fieldToJson(v as FieldDef)
    else out[k] = plain(v)
  }
  return out
}

export function fieldsToJson (fields: Fields): Array<Record<string, unknown>> {
  return Object.entries(fields).map(([name, f]) => ({ [name]: fieldToJson(f) }))
}

export function schemaToJson (schema: SchemaLike): { fields: unknown[]; entity_checks: unknown[] } {
  return {
    fields: fieldsToJson(schema.fields),
    entity_checks: (schema.entity_checks ?? []).map((c: EntityCheck) => plain(c)),
  }
}
