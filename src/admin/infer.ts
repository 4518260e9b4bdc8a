/**
 * Type inference for form, multipart and query arguments (kong/api/arguments.lua
 * `infer_value`): `""` is null, numbers and booleans are parsed, a single value becomes a
 * list where the schema wants one, and foreign keys, maps and records recurse. JSON bodies are
 * never inferred: `{"paths":"/a"}` is an error, as in Kong.
 */
import { getSchema } from '../db/schema/registry.ts'
import type { FieldDef, SchemaLike } from '../db/schema/types.ts'
import { eachField } from '../db/schema/validate.ts'
import { luaToNumber } from '../db/schema/url.ts'
import { isPlainObject, isTable } from '../db/schema/validate-field.ts'

const truthy = (v: unknown): boolean => v !== undefined && v !== null && v !== false

export function inferValue (value: unknown, field: FieldDef): unknown {
  if (!truthy(value)) return value
  if (value === '') return null
  switch (field.type) {
    case 'integer':
    case 'number':
      return typeof value === 'string' ? luaToNumber(value) ?? value : value
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value
    case 'array':
    case 'set': {
      const list = Array.isArray(value) ? value : isTable(value) ? value : [value]
      if (!Array.isArray(list)) return list
      const el = field.elements
      return el === undefined ? list : list.map((x) => inferValue(x, el))
    }
    case 'foreign': {
      const ref = field.reference !== undefined ? getSchema(field.reference) : undefined
      return ref !== undefined && isPlainObject(value) ? inferArgs(value, ref) : value
    }
    case 'map':
      if (isPlainObject(value) && field.values !== undefined) {
        for (const k of Object.keys(value)) value[k] = inferValue(value[k], field.values)
      }
      return value
    case 'record':
      if (isPlainObject(value) && field.fields !== undefined) {
        const shorthands = field.shorthand_fields ?? {}
        for (const k of Object.keys(value)) {
          const f = Object.hasOwn(field.fields, k) ? field.fields[k] : Object.hasOwn(shorthands, k) ? { type: shorthands[k]!.type } : undefined
          if (f !== undefined) value[k] = inferValue(value[k], f)
        }
      }
      return value
    default:
      return value
  }
}

/** arguments.lua infer(args, schema): in place, subschema-aware, shorthands included. */
export function inferArgs (args: Record<string, unknown>, schema: SchemaLike): Record<string, unknown> {
  for (const [name, field] of eachField(schema, args)) {
    if (Object.hasOwn(args, name) && truthy(args[name])) args[name] = inferValue(args[name], field)
  }
  for (const [name, sh] of Object.entries(schema.shorthand_fields ?? {})) {
    if (Object.hasOwn(args, name) && truthy(args[name])) args[name] = inferValue(args[name], { type: sh.type })
  }
  return args
}
