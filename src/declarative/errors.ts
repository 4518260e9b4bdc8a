/**
 * Declarative config errors as Kong returns them (kong/db/errors.lua): the nested error tree
 * under code 14 (`declarative config is invalid: {...}`), the flattened list of `?flatten_errors=1`
 * (`declarative_config_flattened`: one entry per failing entity, nested entities hoisted to the
 * top with their parent's key, field paths joined with dots), and the indented text the CLI
 * prints (`pretty_print_error`).
 */
import { DB_ERR } from '../db/schema/db-errors.ts'
import { plPretty } from '../db/schema/pretty.ts'
import type { ErrorTree } from '../db/schema/types.ts'
import { isUuid } from '../db/schema/validate-field.ts'
import { entityMeta } from './entities.ts'
import type { ErrorTable } from './flatten.ts'
import type { Table } from './parse.ts'

export interface DeclarativeErrT {
  code: 14
  name: 'invalid declarative configuration'
  message: string
  fields: ErrorTable
  flattened_errors?: FlattenedError[]
}

export interface FlattenedError {
  entity_type: string
  entity_id?: string
  entity_name?: string
  entity_tags?: string[]
  entity: Table
  errors: Array<{ type: 'entity'; message: string } | { type: 'field'; field: string; message: string }>
}

export function declarativeConfigError (fields: ErrorTable): DeclarativeErrT {
  return {
    code: DB_ERR.DECLARATIVE_CONFIG,
    name: 'invalid declarative configuration',
    message: `declarative config is invalid: ${plPretty(fields, '')}`,
    fields,
  }
}

/** The error body of input that is no configuration at all (`{error = ...}`). */
export function parseError (error: string): DeclarativeErrT {
  return declarativeConfigError({ error })
}

// ---- flattened errors

const singular = (noun: string): string => noun.endsWith('s') ? noun.slice(0, -1) : noun
const join = (ns: string, field: string): string => ns !== '' ? `${ns}.${field}` : field

/** Keys of an error table with Lua's integer keys for arrays (1-based), sorted. */
function luaKeys (t: object): Array<string | number> {
  if (Array.isArray(t)) {
    const out: number[] = []
    t.forEach((v, i) => { if (v !== undefined && v !== null) out.push(i + 1) })
    return out
  }
  return Object.keys(t).sort()
}

function luaGet (t: object, k: string | number): unknown {
  if (Array.isArray(t)) return typeof k === 'number' ? t[k - 1] : undefined
  return (t as Record<string, unknown>)[String(k)]
}

function luaDelete (t: object, k: string | number): void {
  if (Array.isArray(t)) { if (typeof k === 'number') delete t[k - 1] } else delete (t as Record<string, unknown>)[String(k)]
}

/** Entity arrays of the input, indexed as Lua does: `entities[1]`, or `entities["name"]` (nil). */
function inputAt (list: unknown, k: string | number): unknown {
  if (Array.isArray(list)) return typeof k === 'number' ? list[k - 1] : undefined
  return undefined
}

type Flat = FlattenedError['errors']

function addEntityError (err: unknown, out: Flat): void {
  if (Array.isArray(err)) { for (const m of err) addEntityError(m, out) } else if (typeof err === 'string') out.push({ type: 'entity', message: err })
}

function addFieldError (field: string, err: unknown, out: Flat): void {
  if (Array.isArray(err)) { for (const m of err) addFieldError(field, m, out) } else if (typeof err === 'string') out.push({ type: 'field', field, message: err })
}

/** Kong drains an entity's error table from its greatest key down: 'path' before '@entity'. */
const drainOrder = (t: object): Array<string | number> => luaKeys(t).reverse()

function categorize (errs: object, ns: string, out: Flat): Flat {
  for (const k of drainOrder(errs)) {
    const err = luaGet(errs, k)
    const field = String(k)
    if (field === '@entity') addEntityError(err, out)
    else if (typeof err === 'string') addFieldError(join(ns, field), err, out)
    else if (err !== null && typeof err === 'object') categorize(err, join(ns, field), out)
  }
  return out
}

function validTags (tags: unknown): string[] | undefined {
  if (!Array.isArray(tags)) return undefined
  return tags.every((t) => typeof t === 'string') ? tags as string[] : undefined
}

function makePk (entity: Table): { id: string } | undefined {
  return isUuid(entity.id) ? { id: entity.id } : undefined
}

function addEntityErrors (entityType: string, entity: unknown, errIn: unknown, out: FlattenedError[]): void {
  let errT: Record<string, unknown>
  if (typeof errIn === 'string') errT = { '@entity': errIn }
  else if (errIn !== null && typeof errIn === 'object' && !Array.isArray(errIn) && Object.keys(errIn).length > 0) errT = { ...(errIn as Record<string, unknown>) }
  else if (Array.isArray(errIn)) errT = { '@entity': errIn }
  else return
  if (entity === null || typeof entity !== 'object' || Array.isArray(entity)) return
  const e = entity as Table
  const pk = makePk(e)
  const meta = entityMeta(entityType)
  if (meta !== undefined) {
    // owned one-to-one: a foreign key given as an object is an entity of its own
    for (const fk of meta.foreign) {
      const v = e[fk.field]
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const sub = errT[fk.field]
        const pkOf = makePk(v as Table)
        if (pkOf !== undefined) e[fk.field] = pkOf
        else delete e[fk.field]
        delete errT[fk.field]
        addEntityErrors(fk.reference, v, sub, out)
      }
    }
    // one-to-many: nested children, each with the parent's key
    for (const [child, link] of meta.children) {
      const list = e[child]
      if (list === null || typeof list !== 'object') continue
      const sub = errT[child]
      delete e[child]
      delete errT[child]
      if (sub === undefined || !Array.isArray(list)) continue
      for (let i = 0; i < list.length; i++) {
        const item = list[i] as Table
        if (item !== null && typeof item === 'object' && item[link.field] === undefined && pk !== undefined) item[link.field] = pk
        addEntityErrors(child, item, luaGet(sub as object, i + 1), out)
      }
    }
  }
  if (Object.keys(errT).length === 0) return
  const errors = categorize(errT, '', [])
  if (errors.length === 0) return
  const fe: FlattenedError = { entity_type: singular(entityType), entity: e, errors }
  if (typeof e.name === 'string' && e.name.length > 0) fe.entity_name = e.name
  if (isUuid(e.id)) fe.entity_id = e.id
  const tags = validTags(e.tags)
  if (tags !== undefined) fe.entity_tags = tags
  out.push(fe)
}

/**
 * declarative_config_flattened(err_t, input): every error that belongs to an input entity moves
 * to `flattened_errors`; what remains (top-level fields) stays in `fields` and the message.
 */
export function flattenedConfigError (fields: ErrorTable, input: Table): DeclarativeErrT {
  const remaining: ErrorTable = Object.create(null)
  const flattened: FlattenedError[] = []
  for (const entityType of Object.keys(fields).sort()) {
    const section = fields[entityType]!
    const entities = input[entityType]
    if (section === null || typeof section !== 'object' || entities === null || typeof entities !== 'object') {
      remaining[entityType] = section
      continue
    }
    const left: Record<string, ErrorTree> = Object.create(null)
    // entries in input order (Kong's own order, greatest index first, is not one its specs rely on)
    for (const k of luaKeys(section)) {
      const entity = inputAt(entities, k)
      const err = luaGet(section, k) as ErrorTree
      if (entity !== null && typeof entity === 'object') addEntityErrors(entityType, entity, err, flattened)
      else left[String(k)] = err
    }
    for (const k of luaKeys(section)) luaDelete(section, k)
    if (Object.keys(left).length > 0) remaining[entityType] = left
  }
  return { ...declarativeConfigError(remaining), flattened_errors: flattened }
}

// ---- CLI text

/** pretty_print_error: `in 'services':` / `- in entry 1 of 'services':`, sorted, indented. */
export function prettyPrintErrors (t: ErrorTree, item = '', indent = ''): string {
  const out: string[] = []
  if (typeof t === 'string') return indent + t
  for (const k of luaKeys(t)) {
    const v = luaGet(t, k) as ErrorTree
    const key = typeof k === 'number' ? `- in entry ${k} of '${item}'` : `in '${k}'`
    if (v !== null && typeof v === 'object') {
      // a list of plain messages (reference errors) prints one per line
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
        out.push(`${indent}${key}:`)
        for (const m of v) out.push(`${indent}  ${m}`)
      } else {
        out.push(`${indent}${key}:`)
        out.push(prettyPrintErrors(v, String(k), `${indent}  `))
      }
    } else out.push(`${indent}${key}: ${String(v)}`)
  }
  return out.join('\n')
}

/** Number of leaf messages in an error tree (for "N errors"). */
export function countErrors (t: unknown): number {
  if (typeof t === 'string') return 1
  if (t === null || typeof t !== 'object') return 0
  let n = 0
  for (const v of Object.values(t)) n += countErrors(v)
  return n
}
