/**
 * Validation messages, verbatim from kong/db/schema/init.lua `validation_errors`. Kong's specs
 * assert these strings, so they are data, not prose: never reword them.
 */

export const MSG = {
  ARRAY: 'expected an array',
  SET: 'expected a set',
  MAP: 'expected a map',
  RECORD: 'expected a record',
  STRING: 'expected a string',
  NUMBER: 'expected a number',
  BOOLEAN: 'expected a boolean',
  INTEGER: 'expected an integer',
  REQUIRED: 'required field missing',
  UNKNOWN: 'unknown field',
  IMMUTABLE: 'immutable field cannot be updated',
  REQUIRED_FOR_ENTITY_CHECK: 'field required for entity check',
  CHECK: 'entity check failed',
  NOT_PK: 'not a primary key',
  MISSING_PK: 'missing primary key',
  TIMESTAMP: 'expected a valid timestamp',
  UUID: 'expected a valid UUID',
  SUBSCHEMA_ABSTRACT_FIELD: 'error in schema definition: abstract field was not specialized',
} as const

export const fmtEq = (v: string): string => `value must be ${v}`
export const fmtNe = (v: string): string => `value must not be ${v}`
export const fmtGt = (v: string): string => `value must be greater than ${v}`
export const fmtBetween = (a: number, b: number): string => `value should be between ${luaInt(a)} and ${luaInt(b)}`
export const fmtLenEq = (n: number): string => `length must be ${n}`
export const fmtLenMin = (n: number): string => `length must be at least ${n}`
export const fmtLenMax = (n: number): string => `length must be at most ${n}`
export const fmtMatch = (v: string): string => `invalid value: ${v}`
export const fmtStartsWith = (v: string): string => `should start with: ${v}`
export const fmtContains = (v: string): string => `expected to contain: ${v}`
export const fmtOneOf = (v: string): string => `expected one of: ${v}`
export const fmtNotOneOf = (v: string): string => `must not be one of: ${v}`
export const fmtValidation = (v: string): string => `failed validating: ${v}`
export const fmtUnknownType = (v: string): string => `unknown type: ${v}`
export const fmtConditional = (f: string): string => `failed conditional validation given value of field '${f}'`
export const fmtAtLeastOneOf = (l: string): string => `at least one of these fields must be non-empty: ${l}`
export const fmtOnlyOneOf = (l: string): string => `exactly one of these fields must be non-empty: ${l}`
export const fmtDistinct = (l: string): string => `values of these fields must be distinct: ${l}`
export const fmtMutuallyRequired = (l: string): string => `all or none of these fields must be set: ${l}`
export const fmtMutuallyExclusive = (l: string): string => `only one or none of these fields must be set: ${l}`
export const fmtMutuallyExclusiveSets = (l: string): string => `these sets are mutually exclusive: ${l}`

/** Lua's `%d` of a number: integer text, truncated toward zero. */
export function luaInt (n: number): string {
  if (!Number.isFinite(n)) return String(n)
  return BigInt(Math.trunc(n)).toString()
}

/** Lua's tostring() of a scalar as it appears in messages (`%s`). */
export function luaToString (v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v)
    if (Number.isNaN(v)) return 'nan'
    if (v === Infinity) return 'inf'
    if (v === -Infinity) return '-inf'
    return formatG14(v)
  }
  return String(v)
}

/** C's `%.14g`, which is how LuaJIT prints non-integral numbers. */
function formatG14 (v: number): string {
  const exp = Math.floor(Math.log10(Math.abs(v)))
  if (exp < -4 || exp >= 14) {
    const [m, e] = v.toExponential(13).split('e') as [string, string]
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m
    const en = Number(e)
    return `${mant}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`
  }
  const s = v.toPrecision(14)
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s
}

/** `'a', 'b', 'c'`, or `('a', 'b'), ('c')` for nested lists (init.lua quoted_list). */
export function quotedList (words: readonly (string | readonly string[])[]): string {
  return words.map((w) => typeof w === 'string' ? `'${w}'` : `(${quotedList(w)})`).join(', ')
}
