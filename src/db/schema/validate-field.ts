/**
 * One field against its definition: type, then Kong's validators in Kong's order
 * (kong/db/schema/init.lua `Schema:validate_field` and `validators_order`). Returns the error
 * (a message, or a nested table for aggregates) or undefined when the value is valid.
 *
 * Lua tables are both arrays and maps, so `{}` passes as an empty array and `[]` as an empty
 * record or map, exactly as cjson-decoded input does in Kong.
 */
import { luaMatches } from './lua-pattern.ts'
import {
  MSG, fmtBetween, fmtContains, fmtEq, fmtGt, fmtLenEq, fmtLenMax, fmtLenMin, fmtMatch, fmtMutuallyExclusiveSets,
  fmtNe, fmtNotOneOf, fmtOneOf, fmtStartsWith, luaToString, quotedList,
} from './messages.ts'
import { InvalidUtf8, type ErrorTree, type FieldDef, type SchemaLike } from './types.ts'
import { loneSurrogateAt, utf8Error } from './utf8.ts'
import { getSchema } from './registry.ts'
import { validateEntity } from './validate.ts'
import { processAutoFields } from './process.ts'
import { translatePcre } from './pcre.ts'
import { isReference } from '../../vault/reference.ts'

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const INT64_MSG = 'value should be between -9223372036854775808 and 9223372036854775807'

export function isUuid (v: unknown): v is string {
  return typeof v === 'string' && v.length === 36 && UUID_RE.test(v)
}

/** A Lua table: a JS object or array (null is ngx.null, not a table). */
export function isTable (v: unknown): v is object {
  return typeof v === 'object' && v !== null && !(v instanceof InvalidUtf8)
}

export function isPlainObject (v: unknown): v is Record<string, unknown> {
  return isTable(v) && !Array.isArray(v)
}

/** kong's is_sequence: a gap-free array, or an empty table. */
export function isSequence (v: unknown): v is unknown[] | Record<string, never> {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!(i in v) || v[i] === undefined) return false
    return true
  }
  return isPlainObject(v) && Object.keys(v).length === 0
}

export function asArray (v: unknown[] | Record<string, never>): unknown[] {
  return Array.isArray(v) ? v : []
}

/** A table's entries with Lua keys: arrays give 1-based numbers. */
export function tableEntries (t: object): Array<[string | number, unknown]> {
  if (Array.isArray(t)) return t.map((v, i) => [i + 1, v] as [number, unknown])
  return Object.keys(t).map((k) => [k, (t as Record<string, unknown>)[k]])
}

/** Lua's `#` for validators: bytes of a string, items of an array, keys of a map. */
function luaLength (v: unknown, field: FieldDef): number {
  if (typeof v === 'string') return Buffer.byteLength(v)
  if (Array.isArray(v)) return v.length
  if (isTable(v)) return field.type === 'map' ? Object.keys(v).length : 0
  return 0
}

const required = new WeakMap<FieldDef, FieldDef>()
/** Kong sets `required = true` on element, key and value definitions before validating. */
function asRequired (f: FieldDef): FieldDef {
  let r = required.get(f)
  if (r === undefined) { r = { ...f, required: true }; required.set(f, r) }
  return r
}

const recordSchemas = new WeakMap<FieldDef, SchemaLike>()
export function recordSchema (f: FieldDef): SchemaLike {
  let s = recordSchemas.get(f)
  if (s === undefined) {
    s = {
      name: 'record',
      fields: f.fields ?? {},
      ...(f.entity_checks !== undefined ? { entity_checks: f.entity_checks } : {}),
      ...(f.shorthand_fields !== undefined ? { shorthand_fields: f.shorthand_fields } : {}),
    }
    recordSchemas.set(f, s)
  }
  return s
}

function validateElements (field: FieldDef, list: unknown[]): ErrorTree | undefined {
  const el = asRequired(field.elements ?? { type: 'string' })
  const errs: ErrorTree[] = []
  let ok = true
  for (let i = 0; i < list.length; i++) {
    const e = validateField(el, list[i])
    if (e !== undefined) { errs[i] = e; ok = false }
  }
  return ok ? undefined : errs
}

/** schema:validate_primary_key(pk, ignore_others) */
export function validatePrimaryKey (schema: SchemaLike, pk: unknown, ignoreOthers: boolean): Record<string, ErrorTree> | undefined {
  const errors: Record<string, ErrorTree> = {}
  const keys = schema.primary_key ?? ['id']
  const t = isPlainObject(pk) ? pk : {}
  for (const k of keys) {
    const f = schema.fields[k] ?? { type: 'string', uuid: true, auto: true }
    const v = Object.hasOwn(t, k) ? t[k] : undefined
    if (v === undefined || v === false) errors[k] = MSG.MISSING_PK
    else if ((f.required === true || f.auto === true) && v === null) errors[k] = MSG.REQUIRED
    else {
      const e = validateField(f, v)
      if (e !== undefined) errors[k] = e
    }
  }
  if (!ignoreOthers) for (const k of Object.keys(t)) if (!keys.includes(k)) errors[k] = MSG.NOT_PK
  return Object.keys(errors).length > 0 ? errors : undefined
}

const DEFAULT_FOREIGN: SchemaLike = { name: 'unknown', primary_key: ['id'], fields: { id: { type: 'string', uuid: true, auto: true } } }

function validateForeign (field: FieldDef, value: unknown): ErrorTree | undefined {
  const ref = field.reference !== undefined ? getSchema(field.reference) : undefined
  const pkErrors = validatePrimaryKey(ref ?? DEFAULT_FOREIGN, value, true)
  if (pkErrors === undefined) return undefined
  if (ref !== undefined && isTable(value)) {
    const foreign = validateEntity(ref, tableAsRecord(value), false)
    if (foreign !== undefined) return foreign
  }
  return pkErrors
}

/** A table as a record: arrays become `{"1": ..., "2": ...}` (Lua's integer keys). */
export function tableAsRecord (v: object): Record<string, unknown> {
  if (!Array.isArray(v)) return v as Record<string, unknown>
  const out: Record<string, unknown> = Object.create(null)
  v.forEach((x, i) => { out[String(i + 1)] = x })
  return out
}

function typeCheck (field: FieldDef, value: unknown): ErrorTree | undefined | 'ok' {
  switch (field.type) {
    case 'array':
    case 'set':
      if (!isSequence(value)) return field.type === 'array' ? MSG.ARRAY : MSG.SET
      return validateElements(field, asArray(value)) ?? 'ok'
    case 'map': {
      if (!isTable(value)) return MSG.MAP
      const keys = asRequired(field.keys ?? { type: 'string' })
      const vals = asRequired(field.values ?? { type: 'string' })
      for (const [k, v] of tableEntries(value)) {
        const ke = validateField(keys, k)
        if (ke !== undefined) return ke
        const ve = validateField(vals, v)
        if (ve !== undefined) return ve
      }
      return 'ok'
    }
    case 'record': {
      if (!isTable(value)) return MSG.RECORD
      const rs = recordSchema(field)
      const processed = processAutoFields(rs, tableAsRecord(value), 'insert')
      if ('errors' in processed) return processed.errors
      return validateEntity(rs, processed.entity, true) ?? 'ok'
    }
    case 'foreign':
      return validateForeign(field, value) ?? 'ok'
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return MSG.INTEGER
      // Unbounded integers live in bigint columns: refuse what PostgreSQL would (Sluice's addition).
      if (field.between === undefined && Math.abs(value) >= 2 ** 63) return INT64_MSG
      return undefined
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : MSG.NUMBER
    case 'boolean':
      return typeof value === 'boolean' ? undefined : MSG.BOOLEAN
    case 'string': {
      if (value instanceof InvalidUtf8) return utf8Error(value.position)
      if (typeof value !== 'string') return MSG.STRING
      const bad = loneSurrogateAt(value)
      if (bad > 0) return utf8Error(bad)
      return undefined
    }
  }
}

type Validator = (value: unknown, field: FieldDef) => string | undefined

const str = (v: unknown): string => luaToString(v)

// kong/db/schema/init.lua Schema.validators, in Schema.validators_order
const VALIDATORS: Array<[keyof FieldDef, Validator]> = [
  ['eq', (v, f) => v === f.eq ? undefined : fmtEq(f.eq === null ? 'null' : str(f.eq))],
  ['ne', (v, f) => v !== f.ne ? undefined : fmtNe(f.ne === null ? 'null' : str(v))],
  ['not_one_of', (v, f) => f.not_one_of!.includes(v) ? fmtNotOneOf(f.not_one_of!.map(str).join(', ')) : undefined],
  ['one_of', (v, f) => f.one_of!.includes(v) ? undefined : fmtOneOf(f.one_of!.map(str).join(', '))],
  ['gt', (v, f) => (v as number) > f.gt! ? undefined : fmtGt(str(f.gt))],
  ['timestamp', (v) => (v as number) > 0 ? undefined : MSG.TIMESTAMP],
  ['uuid', (v) => isUuid(v) ? undefined : MSG.UUID],
  ['is_regex', (v) => translatePcre(String(v)).ok ? undefined : `not a valid regex: ${String(v)}`],
  ['between', (v, f) => (v as number) < f.between![0] || (v as number) > f.between![1] ? fmtBetween(f.between![0], f.between![1]) : undefined],
  ['len_eq', (v, f) => luaLength(v, f) === f.len_eq ? undefined : fmtLenEq(f.len_eq!)],
  ['len_min', (v, f) => luaLength(v, f) >= f.len_min! ? undefined : fmtLenMin(f.len_min!)],
  ['len_max', (v, f) => luaLength(v, f) <= f.len_max! ? undefined : fmtLenMax(f.len_max!)],
  ['starts_with', (v, f) => String(v).startsWith(f.starts_with!) ? undefined : fmtStartsWith(f.starts_with!)],
  ['not_match', (v, f) => luaMatches(String(v), f.not_match!) ? fmtMatch(String(v)) : undefined],
  ['match_none', (v, f) => f.match_none!.find((r) => luaMatches(String(v), r.pattern))?.err],
  ['match', (v, f) => luaMatches(String(v), f.match!) ? undefined : fmtMatch(String(v))],
  ['match_all', (v, f) => f.match_all!.find((r) => !luaMatches(String(v), r.pattern))?.err],
  ['match_any', (v, f) => f.match_any!.patterns.some((p) => luaMatches(String(v), p)) ? undefined : f.match_any!.err],
  ['contains', (v, f) => Array.isArray(v) && v.includes(f.contains) ? undefined : fmtContains(str(f.contains))],
  ['custom_validator', (v, f) => f.custom_validator!(v)],
  ['mutually_exclusive_subsets', (v, f) => mutuallyExclusiveSubsets(v, f.mutually_exclusive_subsets!)],
]

function mutuallyExclusiveSubsets (value: unknown, subsets: readonly (readonly string[])[]): string | undefined {
  if (!Array.isArray(value)) return undefined
  const memberOf: (readonly string[])[] = []
  for (const v of value) {
    const s = subsets.find((set) => set.includes(v as string))
    if (s !== undefined && !memberOf.includes(s)) memberOf.push(s)
  }
  return memberOf.length <= 1 ? undefined : fmtMutuallyExclusiveSets(quotedList(memberOf))
}

/** Schema:validate_field(field, value) */
export function validateField (field: FieldDef, value: unknown): ErrorTree | undefined {
  if (value === null || value === undefined) {
    if (field.ne === null) return field.err ?? fmtNe('null')
    if (field.eq !== undefined && field.eq !== null) return fmtEq(str(field.eq))
    if (field.required === true) return MSG.REQUIRED
    return undefined
  }
  if (field.eq === null) return field.err ?? fmtEq('null')
  if (field.abstract === true) return MSG.SUBSCHEMA_ABSTRACT_FIELD
  const t = typeCheck(field, value)
  if (t !== undefined && t !== 'ok') return t
  // a vault reference in a referenceable field is checked when dereferenced, not here
  if (field.referenceable === true && isReference(value) && !value.includes('\0')) return undefined
  const effective = field.type === 'string' && field.len_min === undefined ? withLenMin(field) : field
  for (const [key, fn] of VALIDATORS) {
    if (effective[key] === undefined) continue
    const err = fn(value, effective)
    if (err !== undefined) return field.err ?? err
  }
  if (typeof value === 'string' && value.includes('\0')) return 'invalid value: NUL characters are not allowed'
  return undefined
}

const lenMin = new WeakMap<FieldDef, FieldDef>()
/** Kong sets `len_min = 1` on string fields that declare none: empty strings are refused. */
function withLenMin (f: FieldDef): FieldDef {
  let r = lenMin.get(f)
  if (r === undefined) { r = { ...f, len_min: 1 }; lenMin.set(f, r) }
  return r
}
