/**
 * Form and query argument decoding with Kong's semantics (kong/api/arguments_decoder.lua and
 * arguments.lua `combine`): `a.b=1` nests, `a[]=x` appends, `a[2]=x` inserts at a position,
 * `a[k]=x` makes a map (only for POST/PUT/PATCH), repeated keys become lists. Values stay
 * strings here; arguments-infer.ts converts them to the schema's types afterwards.
 *
 * Decoding works on Lua-like tables (integer and string keys in one table) and converts to JSON
 * shapes at the end: a table whose keys are exactly 1..n is an array, anything else an object.
 */
import { luaToNumber } from '../db/schema/url.ts'

export const MAX_ARGS = 1000
/** Nesting deeper than this in one argument name is refused (Kong's Lua would overflow). */
export const MAX_DEPTH = 1000

export class ArgsError extends Error {}

type Key = string | number

/** A Lua table: ordered keys, integer keys for array slots. */
export class LuaTable {
  readonly map = new Map<Key, unknown>()

  get (k: Key): unknown { return this.map.get(k) }
  set (k: Key, v: unknown): void { this.map.set(k, v) }
  has (k: Key): boolean { return this.map.has(k) }

  /** Lua's `#`: the border reached counting up from 1. */
  len (): number {
    let n = 0
    while (this.map.has(n + 1)) n++
    return n
  }

  /** table.insert(t, pos, v) as LuaJIT does it: shift up from pos, then set. */
  insert (pos: number, v: unknown): void {
    if (!Number.isInteger(pos) || pos < 1) { this.map.set(pos, v); return }
    for (let i = this.len() + 1; i > pos; i--) this.map.set(i, this.map.get(i - 1))
    this.map.set(pos, v)
  }

  append (v: unknown): void { this.map.set(this.len() + 1, v) }

  static list (values: unknown[]): LuaTable {
    const t = new LuaTable()
    values.forEach((v, i) => t.set(i + 1, v))
    return t
  }
}

/** One decoded argument: `name=value`, repeated names already grouped into a list. */
export interface RawArg { name: string; value: unknown }

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH'])

/** extract_param_keys: `.x` and `[x]` segments after the parameter name. */
function paramKeys (keysString: string): { keys: string[]; isMap: boolean } {
  const keys: string[] = []
  let isMap = false
  for (const m of keysString.matchAll(/\.([^[.]+)|\[([^\]]*)\]/g)) {
    if (m[1] !== undefined) keys.push(m[1])
    else {
      const k = m[2]!
      if (k !== '' && luaToNumber(k) === null) isMap = true
      keys.push(k)
    }
  }
  return { keys, isMap }
}

function isLuaTable (v: unknown): v is LuaTable { return v instanceof LuaTable }

/** nest_path, including its habit of not descending into a slot that already exists. */
function nestPath (container: LuaTable, path: string[], value: unknown): unknown {
  let c = container
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!
    const last = i === path.length - 1
    const idx = luaToNumber(seg)
    if (seg === '' || idx !== null) {
      if (last) {
        if (idx !== null) { c.insert(idx, value); return c.get(idx) }
        if (isLuaTable(value)) {
          for (let j = 1; value.has(j); j++) c.insert(j, value.get(j))
          return c
        }
        c.append(value)
        return c
      }
      const pos = idx ?? 1
      if (!c.has(pos)) { const t = new LuaTable(); c.set(pos, t); c = t }
    } else {
      if (last) { c.set(seg, value); return value }
      if (!c.has(seg)) { const t = new LuaTable(); c.set(seg, t); c = t }
    }
  }
  return c
}

/** decode_complex_arg: structured when the name has `.x`/`[x]` parts, plain otherwise. */
function decodeComplex (name: string, value: unknown, container: LuaTable, method: string): unknown {
  const first = name.slice(1).search(/[[.]/)
  if (first >= 0) {
    const param = name.slice(0, first + 1)
    const { keys, isMap } = paramKeys(name.slice(first + 1))
    if (keys.length > MAX_DEPTH) throw new ArgsError('argument nesting too deep')
    if (keys.length > 0 && !(isMap && !WRITE_METHODS.has(method))) return nestPath(container, [param, ...keys], value)
  }
  container.set(name, value)
  return value
}

/** Longer argument names are refused: no real schema has them, and they cost regex time. */
export const MAX_NAME = 4096

/** decode_arg */
function decodeArg (raw: string, value: unknown, method: string): LuaTable {
  if (raw.length > MAX_NAME) throw new ArgsError('argument name too long')
  // kong: `return { name = value }`, a literal key "name", for names like ".x" or "x."
  if (/^\.+|\.$/.test(raw)) { const t = new LuaTable(); t.set('name', value); return t }
  const name = raw.replace(/%5B(.*?)%5D/gi, '[$1]')
  const names = Array.from(name.matchAll(/(?:[^.](?:\[[^\]]*\])*)+/g), (m) => m[0])
  if (names.length > MAX_DEPTH) throw new ArgsError('argument nesting too deep')
  const container = new LuaTable()
  let bucket = container
  for (let i = 0; i < names.length; i++) {
    if (i === names.length - 1) { decodeComplex(names[i]!, value, bucket, method); break }
    const next = decodeComplex(names[i]!, new LuaTable(), bucket, method)
    if (!isLuaTable(next)) break
    bucket = next
  }
  return container
}

/** arguments.lua combine_arg */
function combineArg (to: LuaTable, arg: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new ArgsError('argument nesting too deep')
  if (!isLuaTable(arg)) { to.append(arg); return }
  for (const [k, v] of arg.map) {
    const t = to.get(k)
    if (t === undefined) to.set(k, v)
    else if (isLuaTable(t)) combineArg(t, v, depth + 1)
    else { const nt = LuaTable.list([t]); to.set(k, nt); combineArg(nt, v, depth + 1) }
  }
}

/** A Lua table as JSON: 1..n keys make an array; any other keys an object (null prototype). */
export function toJson (v: unknown, depth = 0): unknown {
  if (!isLuaTable(v)) return v
  if (depth > MAX_DEPTH) throw new ArgsError('argument nesting too deep')
  const n = v.len()
  if (n > 0 && n === v.map.size) {
    const out: unknown[] = []
    for (let i = 1; i <= n; i++) out.push(toJson(v.get(i), depth + 1))
    return out
  }
  const out: Record<string, unknown> = Object.create(null)
  for (const [k, x] of v.map) out[String(k)] = toJson(x, depth + 1)
  return out
}

/** Decoded and combined arguments, as a JSON object. */
export function decodeArgs (args: RawArg[], method: string): Record<string, unknown> {
  const to = new LuaTable()
  for (const a of args) {
    if (a.name === '') continue
    const value = Array.isArray(a.value) ? LuaTable.list(a.value) : a.value
    combineArg(to, decodeArg(a.name, value, method), 0)
  }
  const out = toJson(to)
  return out !== null && typeof out === 'object' && !Array.isArray(out) ? out as Record<string, unknown> : Object.create(null)
}
