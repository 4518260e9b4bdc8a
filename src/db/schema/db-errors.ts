/**
 * Kong's DAO error objects (kong/db/errors.lua): numeric code, name, the pretty-printed
 * message and the `fields` (or `options`) table. The Admin API sends them as they are; the
 * message formats are asserted verbatim by Kong's specs.
 */
import { plPretty } from './pretty.ts'
import type { ErrorTree, FieldErrors } from './types.ts'

export const DB_ERR = {
  INVALID_PRIMARY_KEY: 1,
  SCHEMA_VIOLATION: 2,
  PRIMARY_KEY_VIOLATION: 3,
  FOREIGN_KEY_VIOLATION: 4,
  UNIQUE_VIOLATION: 5,
  NOT_FOUND: 6,
  INVALID_OFFSET: 7,
  DATABASE_ERROR: 8,
  INVALID_SIZE: 9,
  INVALID_UNIQUE: 10,
  INVALID_OPTIONS: 11,
  OPERATION_UNSUPPORTED: 12,
  FOREIGN_KEYS_UNRESOLVED: 13,
  DECLARATIVE_CONFIG: 14,
  REFERENCED_BY_OTHERS: 19,
} as const

export type DbErrorCode = typeof DB_ERR[keyof typeof DB_ERR]

const NAMES: Record<DbErrorCode, string> = {
  1: 'invalid primary key',
  2: 'schema violation',
  3: 'primary key violation',
  4: 'foreign key violation',
  5: 'unique constraint violation',
  6: 'not found',
  7: 'invalid offset',
  8: 'database error',
  9: 'invalid size',
  10: 'invalid unique %s',
  11: 'invalid options',
  12: 'operation unsupported',
  13: 'foreign keys unresolved',
  14: 'invalid declarative configuration',
  19: 'referenced by others',
}

/** The JSON body of a Kong DAO error (`err_t` without `strategy`). */
export interface ErrT {
  code: DbErrorCode
  name: string
  message: string
  fields?: unknown
  options?: unknown
}

export class DbError extends Error {
  readonly errT: ErrT
  constructor (errT: ErrT) {
    super(errT.message)
    this.name = 'DbError'
    this.errT = errT
  }
}

function make (code: DbErrorCode, message: string, fields?: unknown, name?: string): DbError {
  const errT: ErrT = { code, name: name ?? NAMES[code], message }
  if (fields !== undefined) {
    if (code === DB_ERR.INVALID_OPTIONS) errT.options = fields
    else errT.fields = fields
  }
  return new DbError(errT)
}

/** Keys of an error table in Lua's sorted order; arrays use 1-based indices. */
function sortedKeys (t: ErrorTree[] | Record<string, ErrorTree>): Array<[string, ErrorTree]> {
  if (Array.isArray(t)) {
    const out: Array<[string, ErrorTree]> = []
    t.forEach((v, i) => { if (v !== undefined) out.push([String(i + 1), v]) })
    return out
  }
  return Object.keys(t).sort().map((k) => [k, t[k]!])
}

function flatten (errors: FieldErrors): string[] {
  const buf: string[] = []
  const entity = errors['@entity']
  if (Array.isArray(entity)) for (const e of entity) if (typeof e === 'string') buf.push(e)
  for (const [field, fe] of sortedKeys(errors)) {
    if (field === '@entity') continue
    if (typeof fe === 'string') { buf.push(`${field}: ${fe}`); continue }
    for (const [sub, v] of sortedKeys(fe)) buf.push(`${field}.${sub}: ${typeof v === 'string' ? v : plPretty(v)}`)
  }
  return buf
}

export function schemaViolation (errors: FieldErrors): DbError {
  const buf = flatten(errors)
  const message = buf.length === 1 ? `schema violation (${buf[0]})` : `${buf.length} schema violations (${buf.join('; ')})`
  return make(DB_ERR.SCHEMA_VIOLATION, message, errors)
}

export function invalidPrimaryKey (errors: Record<string, unknown>): DbError {
  return make(DB_ERR.INVALID_PRIMARY_KEY, `invalid primary key: '${plPretty(errors, '')}'`, errors)
}

export function primaryKeyViolation (pk: Record<string, unknown>): DbError {
  return make(DB_ERR.PRIMARY_KEY_VIOLATION, `primary key violation on key '${plPretty(pk, '')}'`, pk)
}

export function foreignKeyViolationInvalidReference (fk: Record<string, unknown>, fieldName: string, parent: string): DbError {
  return make(DB_ERR.FOREIGN_KEY_VIOLATION,
    `the foreign key '${plPretty(fk, '')}' does not reference an existing '${parent}' entity.`, { [fieldName]: fk })
}

export function foreignKeyViolationRestricted (parent: string, child: string): DbError {
  return make(DB_ERR.FOREIGN_KEY_VIOLATION, `an existing '${child}' entity references this '${parent}' entity`,
    { '@referenced_by': child })
}

/** `errors[field][uniqueField] = { name, value, parent }` as resolve_foreign collects them. */
export function foreignKeysUnresolved (errors: Record<string, Record<string, { name: string; value: unknown; parent: string }>>): DbError {
  const fields: Record<string, Record<string, string>> = {}
  const buf: string[] = []
  for (const field of Object.keys(errors).sort()) {
    const fe = errors[field]!
    fields[field] = {}
    for (const sub of Object.keys(fe).sort()) {
      const v = fe[sub]!
      const msg = `the foreign key cannot be resolved with '${plPretty({ [v.name]: v.value }, '')}' for an existing '${v.parent}' entity`
      fields[field][sub] = msg
      buf.push(`${field}.${sub}: ${msg}`)
    }
  }
  const message = buf.length === 1 ? `foreign key unresolved (${buf[0]})` : `${buf.length} foreign keys unresolved (${buf.join('; ')})`
  return make(DB_ERR.FOREIGN_KEYS_UNRESOLVED, message, fields)
}

export function uniqueViolation (key: Record<string, unknown>): DbError {
  return make(DB_ERR.UNIQUE_VIOLATION, `UNIQUE violation detected on '${plPretty(key, '')}'`, key)
}

export function notFound (pk: Record<string, unknown>): DbError {
  return make(DB_ERR.NOT_FOUND, `could not find the entity with primary key '${plPretty(pk, '')}'`, pk)
}

export function notFoundByField (filter: Record<string, unknown>): DbError {
  return make(DB_ERR.NOT_FOUND, `could not find the entity with '${plPretty(filter, '')}'`, filter)
}

export function invalidOffset (offset: string, err: string): DbError {
  return make(DB_ERR.INVALID_OFFSET, `'${offset}' is not a valid offset: ${err}`)
}

export function invalidSize (err: string): DbError {
  return make(DB_ERR.INVALID_SIZE, err)
}

export function invalidUnique (name: string, err: string): DbError {
  return make(DB_ERR.INVALID_UNIQUE, err, undefined, `invalid unique ${name}`)
}

export function invalidOptions (errors: Record<string, string>): DbError {
  const buf = Object.keys(errors).sort().map((k) => `${k}: ${errors[k]!}`)
  const message = buf.length === 1 ? `invalid option (${buf[0]})` : `${buf.length} option violations (${buf.join('; ')})`
  return make(DB_ERR.INVALID_OPTIONS, message, errors)
}

export function referencedByOthers (message: string): DbError {
  return make(DB_ERR.REFERENCED_BY_OTHERS, message)
}

export function databaseError (message = 'database error'): DbError {
  return make(DB_ERR.DATABASE_ERROR, message)
}
