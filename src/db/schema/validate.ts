/**
 * Whole-entity validation (kong/db/schema/init.lua `Schema:validate`): pick the subschema,
 * validate every given field (unknown fields are errors), demand required fields, then run
 * the entity checks. Returns Kong's error table, or undefined when the entity is valid.
 */
import { runEntityChecks } from './entity-checks.ts'
import { MSG, fmtUnknownType } from './messages.ts'
import type { ErrorTree, FieldDef, SchemaLike, Subschema } from './types.ts'
import { validateField } from './validate-field.ts'

/** get_subschema: the subschema named by the key, or by the first known entry of a set key. */
export function getSubschema (schema: SchemaLike, input: Record<string, unknown>): Subschema | undefined {
  const key = schema.subschema_key
  const subs = schema.subschemas
  if (key === undefined || subs === undefined) return undefined
  const v = Object.hasOwn(input, key) ? input[key] : undefined
  if (typeof v === 'string') return Object.hasOwn(subs, v) ? subs[v] : undefined
  if (Array.isArray(v)) {
    for (const k of v) if (typeof k === 'string' && Object.hasOwn(subs, k)) return subs[k]
  }
  return undefined
}

/** The definition of `name` for this entity: the subschema's when it has one. */
export function resolveField (schema: SchemaLike, name: string, subschema?: Subschema): FieldDef | undefined {
  if (!Object.hasOwn(schema.fields, name)) return undefined
  if (subschema !== undefined && Object.hasOwn(subschema.fields, name)) return subschema.fields[name]
  return schema.fields[name]
}

/** each_field(values): schema order, subschema definitions where they apply. */
export function eachField (schema: SchemaLike, values?: Record<string, unknown>): Array<[string, FieldDef]> {
  const sub = values !== undefined ? getSubschema(schema, values) : undefined
  return Object.keys(schema.fields).map((k) => [k, resolveField(schema, k, sub)!])
}

export function validateEntity (
  schema: SchemaLike, input: Record<string, unknown>, fullCheck = true, updating = false,
): Record<string, ErrorTree> | undefined {
  const key = schema.subschema_key
  if (key !== undefined) {
    const v = Object.hasOwn(input, key) ? input[key] : undefined
    if (v === null || v === undefined) return { [key]: MSG.REQUIRED }
    if (getSubschema(schema, input) === undefined) {
      const first = typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined
      if (first !== undefined) return { [key]: (schema.subschema_error ?? 'unknown type: %s').replace('%s', first) }
      // Kong raises a Lua error on these shapes; a field error is the helpful answer.
      const f = schema.fields[key]
      const e = f !== undefined ? validateField(f, v) : undefined
      return { [key]: e ?? fmtUnknownType(String(v)) }
    }
  }
  const subschema = getSubschema(schema, input)
  const errors: Record<string, ErrorTree> = Object.create(null)
  for (const k of Object.keys(input)) {
    const v = input[k]
    if (v === undefined) continue
    const f = resolveField(schema, k, subschema)
    if (f === undefined) { errors[k] = MSG.UNKNOWN; continue }
    const e = validateField(f, v)
    if (e !== undefined) errors[k] = e
  }
  for (const [name, f] of Object.entries(schema.fields)) {
    const v = Object.hasOwn(input, name) ? input[name] : undefined
    if (f.required === true && (v === null || (fullCheck && v === undefined))) errors[name] = MSG.REQUIRED
  }
  runEntityChecks(input, fullCheck, { schema, subschema, updating }, errors)
  return Object.keys(errors).length > 0 ? errors : undefined
}
