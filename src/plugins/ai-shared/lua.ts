/**
 * Lua's view of a decoded JSON document, for the AI plugins whose Kong code walks request bodies
 * with plain Lua operators (kong/llm/**): a JSON object or array is a table, `null` is cjson's
 * null (a truthy userdata), an absent key is nil. These helpers answer what `x or y`, `#x`,
 * `x.key`, `ipairs(x)` and `next(x)` would, and raise a `LuaError` where Lua raises one (indexing
 * a number, the length of nil ...): Kong answers those with a plugin runtime error (500), and so
 * does Sluice when a phase throws.
 */

/** A Lua runtime error: thrown where Kong's code would raise one. */
export class LuaError extends Error {}

export type Table = Record<string, unknown> | unknown[]

export function isTable (v: unknown): v is Table {
  return typeof v === 'object' && v !== null
}

/** Lua truthiness: only nil and false are false (cjson's null is truthy). */
export function truthy (v: unknown): boolean {
  return v !== undefined && v !== false
}

/** Lua's `type(v)` for a decoded JSON value. */
export function luaType (v: unknown): string {
  if (v === undefined) return 'nil'
  if (v === null) return 'userdata'
  if (typeof v === 'object') return 'table'
  return typeof v
}

/** `v.key`: tables give their field, strings nil (the string library has none of these names), anything else raises. */
export function idx (v: unknown, key: string): unknown {
  if (isTable(v)) return Array.isArray(v) ? undefined : Object.hasOwn(v, key) ? v[key] : undefined
  if (typeof v === 'string') return undefined
  throw new LuaError(`attempt to index a ${luaType(v)} value`)
}

/** `v[1]`. */
export function first (v: unknown): unknown {
  if (Array.isArray(v)) return v[0]
  if (isTable(v) || typeof v === 'string') return undefined
  throw new LuaError(`attempt to index a ${luaType(v)} value`)
}

/** `#v`: arrays and strings (bytes) have a length, objects have none (0); anything else raises. */
export function len (v: unknown): number {
  if (Array.isArray(v)) return v.length
  if (typeof v === 'string') return Buffer.byteLength(v)
  if (isTable(v)) return 0
  throw new LuaError(`attempt to get length of a ${luaType(v)} value`)
}

/** `ipairs(v)`: the elements of an array, none for an object; anything else raises. */
export function ipairs (v: unknown): readonly unknown[] {
  if (Array.isArray(v)) return v
  if (isTable(v)) return []
  throw new LuaError(`bad argument #1 to 'ipairs' (table expected, got ${luaType(v)})`)
}

/** `next(v) ~= nil`: a non-empty table; anything else raises. */
export function hasNext (v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0
  if (isTable(v)) return Object.keys(v).length > 0
  throw new LuaError(`bad argument #1 to 'next' (table expected, got ${luaType(v)})`)
}

/** LuaJIT's `tostring` as `string.format('%s', v)` uses it. */
export function luaToString (v: unknown): string {
  if (typeof v === 'string') return v
  if (v === undefined) return 'nil'
  if (v === null) return 'userdata: NULL'
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v)
    if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf'
    return String(Number(v.toPrecision(14)))
  }
  if (typeof v === 'object') return 'table: 0x00000000'
  return String(v)
}

/**
 * cjson.encode: JSON with `/` written `\/` and DEL as `\u007f`, as lua-cjson escapes them (these
 * two only ever appear inside strings, so a textual replace is exact). `nil` encodes as `null`.
 */
export function cjsonEncode (v: unknown): string {
  if (v === undefined) return 'null'
  return JSON.stringify(v).replace(/\//g, '\\/').replace(/\x7f/g, '\\u007f')
}
