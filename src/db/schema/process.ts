/**
 * Kong's "auto fields" pass (kong/db/schema/init.lua `process_auto_fields`) and the PATCH
 * merge (`merge_values`). Before a write it expands shorthands (the service `url`), fills ids,
 * timestamps and defaults, de-duplicates sets and recurses into records; on the way out
 * (`select`) it turns empty strings into null and drops columns the schema does not know.
 *
 * Inputs are never mutated: a write context works on a copy made of null-prototype objects, so
 * keys such as `__proto__` stay plain data all the way to the database and back.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto'
import type { ErrorTree, FieldDef, SchemaLike } from './types.ts'
import { InvalidUtf8 } from './types.ts'
import { eachField } from './validate.ts'
import { isPlainObject, isSequence, isTable, recordSchema, tableAsRecord, validateField } from './validate-field.ts'

/**
 * kong.tools.rand random_string, the value of an `auto` string field (generated keys and secrets):
 * 24 random bytes in base64, 32 characters, with `/` replaced by a random A-Z and `+` by a random
 * a-z, so only letters and digits.
 */
export function randomString (): string {
  const b64 = randomBytes(24).toString('base64')
  let out = ''
  for (let i = 0; i < b64.length; i++) {
    const c = b64[i]!
    out += c === '/' ? String.fromCharCode(randomInt(65, 91)) : c === '+' ? String.fromCharCode(randomInt(97, 123)) : c
  }
  return out
}

export type Context = 'insert' | 'update' | 'upsert' | 'select'
export type Processed = { entity: Record<string, unknown> } | { errors: Record<string, ErrorTree> }

/** Deep copy into null-prototype objects. */
export function deepCopy<T> (v: T): T {
  if (Array.isArray(v)) return v.map((x) => deepCopy(x)) as T
  if (v !== null && typeof v === 'object' && !(v instanceof InvalidUtf8)) {
    const out: Record<string, unknown> = Object.create(null)
    for (const k of Object.keys(v)) out[k] = deepCopy((v as Record<string, unknown>)[k])
    return out as T
  }
  return v
}

function handleMissingField (field: FieldDef, value: unknown): unknown {
  if (field.default !== undefined) return deepCopy(field.default)
  if (field.required !== true) return null
  if (field.abstract === true) return undefined
  if (field.type === 'record') {
    const r = processAutoFields(recordSchema(field), Object.create(null), 'insert')
    return 'entity' in r ? r.entity : value
  }
  return undefined
}

/** make_set: drop duplicate elements, keep the first occurrence. */
function makeSet (list: unknown[]): unknown[] {
  const out: unknown[] = []
  const seen = new Set<unknown>()
  for (const v of list) if (!seen.has(v)) { seen.add(v); out.push(v) }
  return out
}

function adjust (field: FieldDef, value: unknown, ctx: Context, hide: boolean): unknown {
  if (ctx === 'select' && value === null && field.required === true) return handleMissingField(field, value)
  if (field.abstract === true) return value
  if (field.type === 'record') {
    const recurse = ctx === 'update'
      ? value !== null && value !== undefined
      : value !== null && (value !== undefined || field.required === true)
    if (recurse) {
      const v = value ?? handleMissingField(field, value)
      if (isTable(v)) {
        const r = processAutoFields(recordSchema(field), tableAsRecord(v), ctx, hide)
        return 'entity' in r ? r.entity : v
      }
      return v
    }
  } else if (isTable(value)) {
    let v: unknown = value
    let sub: FieldDef | undefined
    if (field.type === 'array' || field.type === 'set') {
      if (isSequence(v)) v = Array.isArray(v) ? (field.type === 'set' ? makeSet(v) : v) : []
      sub = field.elements
    } else if (field.type === 'map') {
      if (Array.isArray(v) && v.length === 0) v = Object.create(null)
      sub = field.values
    }
    if (sub !== undefined) {
      if (Array.isArray(v)) v = v.map((x) => adjust(sub!, x, ctx, hide))
      else if (isPlainObject(v)) for (const k of Object.keys(v)) v[k] = adjust(sub, v[k], ctx, hide)
    }
    return v
  }
  if (value === undefined && ctx !== 'update') return handleMissingField(field, value)
  return value
}

/** kong/tools/table.lua null_aware_table_merge: `top` keys win unless null. */
function nullAwareMerge (base: Record<string, unknown>, top: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null)
  for (const k of Object.keys(base)) out[k] = base[k]
  if (isPlainObject(top)) for (const k of Object.keys(top)) if (out[k] === undefined || top[k] !== null) out[k] = top[k]
  return out
}

/** kong/tools/table.lua table_path */
function tablePath (t: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = t
  for (const p of path) {
    if (!isTable(cur)) return undefined
    const o = cur as Record<string, unknown>
    if (!Object.hasOwn(o, p) || o[p] === undefined) return undefined
    cur = o[p]
  }
  return cur
}

/** A Lua table merge: keys of `top` over keys of `base`. */
function tableMerge (base: unknown, top: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null)
  if (isPlainObject(base)) for (const k of Object.keys(base)) out[k] = base[k]
  for (const k of Object.keys(top)) out[k] = top[k]
  return out
}

/**
 * `hideShorthands`: a select for read-before-write leaves out the deprecated shorthands a
 * select otherwise shows (kong/db/dao/init.lua check_update `hide_shorthands`).
 */
export function processAutoFields (schema: SchemaLike, input: Record<string, unknown>, ctx: Context, hideShorthands = false): Processed {
  const isSelect = ctx === 'select'
  const data: Record<string, unknown> = isSelect ? input : deepCopy(input)
  const shown: string[] = []
  if (schema.shorthand_fields !== undefined) {
    const errs: Record<string, ErrorTree> = Object.create(null)
    for (const [name, sh] of Object.entries(schema.shorthand_fields)) {
      const value = Object.hasOwn(data, name) ? data[name] : undefined
      if (value !== undefined) {
        const err = validateField(sh.len_min !== undefined ? { type: sh.type, len_min: sh.len_min } : { type: sh.type }, value)
        if (err !== undefined) { errs[name] = err; continue }
        delete data[name]
        const expanded = sh.func(value)
        // A deprecated shorthand yields to the real field when both are set (null_aware_table_merge).
        const deprecated = sh.deprecation !== undefined
        if (expanded !== undefined) {
          for (const [k, v] of Object.entries(expanded)) {
            if (isPlainObject(v)) data[k] = deprecated ? nullAwareMerge(v, data[k]) : tableMerge(data[k] ?? null, v)
            else if (!deprecated || data[k] === undefined || data[k] === null) data[k] = v
          }
        }
      }
      if (isSelect && !hideShorthands && sh.deprecation !== undefined) {
        const v = tablePath(data, sh.deprecation.replaced_with)
        if (v !== undefined) { data[name] = v; shown.push(name) }
      }
    }
    if (Object.keys(errs).length > 0) return { errors: errs }
  }
  const nowMs = Date.now()
  for (const [key, field] of eachField(schema, data)) {
    let value = Object.hasOwn(data, key) ? data[key] : undefined
    if (!isSelect && field.auto === true) {
      const insertish = ctx === 'insert' || ctx === 'upsert'
      if (field.uuid === true) {
        if (insertish && value === undefined) value = randomUUID()
      } else if (field.type === 'string') {
        if (insertish && value === undefined) value = randomString()
      } else if ((key === 'created_at' && insertish && (value === null || value === undefined)) ||
        (key === 'updated_at' && (insertish || ctx === 'update'))) {
        value = field.type === 'number' ? Math.floor(nowMs) / 1000 : Math.floor(nowMs / 1000)
      }
    }
    value = adjust(field, value, ctx, hideShorthands)
    if (isSelect && field.type === 'integer' && typeof value === 'number') value = Math.floor(value)
    if (value === undefined) delete data[key]
    else data[key] = value
  }
  if (isSelect) {
    for (const key of Object.keys(data)) {
      const field = Object.hasOwn(schema.fields, key) ? schema.fields[key]! : undefined
      if (field === undefined) { if (!shown.includes(key)) delete data[key] }
      else if (field.type === 'string' && (field.len_min ?? 1) > 0 && data[key] === '') data[key] = null
    }
    return { entity: inSchemaOrder(schema, data) }
  }
  return { entity: data }
}

/** Keys in schema order (jsonb stores records with its own key order), then any others. */
function inSchemaOrder (schema: SchemaLike, data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null)
  for (const k of Object.keys(schema.fields)) if (Object.hasOwn(data, k)) out[k] = data[k]
  for (const k of Object.keys(data)) if (!Object.hasOwn(out, k)) out[k] = data[k]
  return out
}

/** merge_values(top, bottom): the PATCH body over the stored entity; records merge deeply. */
export function mergeValues (schema: SchemaLike, top: Record<string, unknown>, bottom: unknown): Record<string, unknown> {
  const base = isPlainObject(bottom) ? bottom : {}
  const out: Record<string, unknown> = Object.create(null)
  for (const k of Object.keys(base)) out[k] = base[k]
  for (const k of Object.keys(top)) out[k] = top[k]
  for (const [key, field] of eachField(schema, base)) {
    const t = Object.hasOwn(top, key) ? top[key] : undefined
    if (t === undefined) { if (Object.hasOwn(base, key)) out[key] = base[key] } else if (field.type === 'record' && isTable(t)) out[key] = mergeValues(recordSchema(field), tableAsRecord(t), base[key])
    else out[key] = t
  }
  return out
}
