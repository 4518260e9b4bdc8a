/**
 * The Lua expressions of request-transformer's `$(...)` templates. Kong renders each `$(expr)`
 * as `tostring((expr) or '')` in a sandboxed environment (untrusted_lua = sandbox: the safe
 * globals, plus `headers`, `query_params`, `uri_captures` and `shared`). Sluice parses the
 * expression once per snapshot into closures and evaluates them per request.
 *
 * Supported: Lua 5.1 expressions (nil/true/false, numbers, strings with escapes and long
 * brackets, names, `.`/`[]` indexing, calls and `:` method calls, table constructors, the unary
 * `not - #` and the binary `or and < > <= >= ~= == .. + - * / % ^` with Lua's precedence) and
 * a sandbox of `type tostring tonumber select string.* math.* table.concat`. An anonymous
 * `function` is refused when parsed. A syntax error throws LuaSyntaxError; a runtime error (a
 * call of nil, arithmetic on a non-number string...) throws LuaRuntimeError, which the plugin
 * runtime turns into Kong's 500.
 */
import { luaPattern } from '../../db/schema/lua-pattern.ts'

export class LuaSyntaxError extends Error {}
export class LuaRuntimeError extends Error {}
/** Valid Lua Sluice does not evaluate (function literals): the Admin API accepts it, the instance answers 500. */
export class LuaUnsupportedError extends Error {}

export interface LuaTable {
  readonly luaTable: true
  get (k: LuaValue): LuaValue
  /** The border `#t`. */
  len (): number
}
export type LuaFunction = (args: LuaValue[]) => LuaValue[]
export type LuaValue = undefined | boolean | number | string | LuaTable | LuaFunction

/** A plain table (table constructors, wrapped JS arrays and objects). */
export class MapTable implements LuaTable {
  readonly luaTable = true as const
  readonly map = new Map<unknown, LuaValue>()
  get (k: LuaValue): LuaValue { return this.map.get(k) }
  set (k: LuaValue, v: LuaValue): void { if (v === undefined) this.map.delete(k); else this.map.set(k, v) }
  len (): number { let n = 0; while (this.map.get(n + 1) !== undefined) n++; return n }
}

/** A table whose string keys are looked up by a function (headers, query arguments...). */
export class LookupTable implements LuaTable {
  readonly luaTable = true as const
  private readonly lookup: (k: LuaValue) => LuaValue
  constructor (lookup: (k: LuaValue) => LuaValue) { this.lookup = lookup }
  get (k: LuaValue): LuaValue { return this.lookup(k) }
  len (): number { let n = 0; while (this.lookup(n + 1) !== undefined) n++; return n }
}

export function isTable (v: LuaValue): v is LuaTable {
  return typeof v === 'object' && v !== null && (v as LuaTable).luaTable === true
}

/** A JS value (from kong.ctx.shared, parsed bodies...) as a Lua value. */
export function fromJs (v: unknown): LuaValue {
  if (v === null || v === undefined) return undefined
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v
  if (typeof v === 'function') return undefined
  const t = new MapTable()
  if (Array.isArray(v)) v.forEach((x, i) => t.set(i + 1, fromJs(x)))
  else if (v instanceof Map) for (const [k, x] of v) t.set(k as LuaValue, fromJs(x))
  else for (const [k, x] of Object.entries(v as Record<string, unknown>)) t.set(k, fromJs(x))
  return t
}

// ---- values ----

export function luaType (v: LuaValue): string {
  if (v === undefined) return 'nil'
  if (typeof v === 'function') return 'function'
  if (typeof v === 'object') return 'table'
  return typeof v
}

const truthy = (v: LuaValue): boolean => v !== undefined && v !== false

function numberToString (n: number): string {
  if (Number.isNaN(n)) return n > 0 ? 'nan' : '-nan'
  if (n === Infinity) return 'inf'
  if (n === -Infinity) return '-inf'
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n)
  // %.14g
  const s = n.toPrecision(14)
  if (s.includes('e')) {
    const [m, e] = s.split('e') as [string, string]
    const mant = m.includes('.') ? m.replace(/\.?0+$/, '') : m
    const exp = Number(e)
    return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  }
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s
}

const ids = new WeakMap<object, string>()
let nextId = 0x100000
function address (o: object): string {
  let id = ids.get(o)
  if (id === undefined) { id = `0x${(nextId += 0x40).toString(16).padStart(8, '0')}`; ids.set(o, id) }
  return id
}

export function luaToString (v: LuaValue): string {
  if (v === undefined) return 'nil'
  if (typeof v === 'string') return v
  if (typeof v === 'number') return numberToString(v)
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (typeof v === 'function') return `function: builtin: ${address(v)}`
  return `table: ${address(v)}`
}

/** Lua's string -> number coercion (tonumber with base 10 or 0x hex). */
function toNumber (v: LuaValue): number | undefined {
  if (typeof v === 'number') return v
  if (typeof v !== 'string') return undefined
  const s = v.trim()
  if (s === '') return undefined
  if (/^[-+]?0[xX][0-9a-fA-F]+$/.test(s)) return s.startsWith('-') ? -parseInt(s.slice(3), 16) : parseInt(s.replace(/^\+/, '').slice(2), 16)
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) && !/^[-+]?(inf|nan)$/i.test(s)) return undefined
  const n = Number(s)
  return Number.isNaN(n) && !/nan/i.test(s) ? undefined : n
}

function arith (op: string, a: LuaValue, b: LuaValue): number {
  const x = toNumber(a)
  const y = toNumber(b)
  if (x === undefined || y === undefined) {
    const bad = x === undefined ? a : b
    throw new LuaRuntimeError(`attempt to perform arithmetic on a ${luaType(bad)} value`)
  }
  switch (op) {
    case '+': return x + y
    case '-': return x - y
    case '*': return x * y
    case '/': return x / y
    case '%': return x - Math.floor(x / y) * y
    default: return Math.pow(x, y)
  }
}

function concat (a: LuaValue, b: LuaValue): string {
  for (const v of [a, b]) {
    if (typeof v !== 'string' && typeof v !== 'number') throw new LuaRuntimeError(`attempt to concatenate a ${luaType(v)} value`)
  }
  return luaToString(a) + luaToString(b)
}

function compare (op: string, a: LuaValue, b: LuaValue): boolean {
  if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) {
    throw new LuaRuntimeError(`attempt to compare ${luaType(a)} with ${luaType(b)}`)
  }
  switch (op) {
    case '<': return a < b
    case '<=': return a <= b
    case '>': return a > b
    default: return a >= b
  }
}

function index (obj: LuaValue, key: LuaValue, what: string): LuaValue {
  if (isTable(obj)) return obj.get(key)
  if (typeof obj === 'string') return STRING.get(key)
  throw new LuaRuntimeError(`attempt to index ${what} (a ${luaType(obj)} value)`)
}

function call (fn: LuaValue, args: LuaValue[], what: string): LuaValue[] {
  if (typeof fn !== 'function') throw new LuaRuntimeError(`attempt to call ${what} (a ${luaType(fn)} value)`)
  return fn(args)
}

// ---- the sandbox ----

const fn = (f: (args: LuaValue[]) => LuaValue | LuaValue[]): LuaFunction => (args) => {
  const r = f(args)
  return Array.isArray(r) ? r : [r]
}

function argString (args: LuaValue[], i: number, name: string): string {
  const v = args[i]
  if (typeof v === 'string') return v
  if (typeof v === 'number') return luaToString(v)
  throw new LuaRuntimeError(`bad argument #${i + 1} to '${name}' (string expected, got ${v === undefined ? 'no value' : luaType(v)})`)
}
function argNumber (args: LuaValue[], i: number, name: string, dflt?: number): number {
  const v = args[i]
  if (v === undefined && dflt !== undefined) return dflt
  const n = toNumber(v)
  if (n === undefined) throw new LuaRuntimeError(`bad argument #${i + 1} to '${name}' (number expected, got ${v === undefined ? 'no value' : luaType(v)})`)
  return n
}

/** string.sub's index rules (1-based, negative from the end). */
function strIndex (i: number, len: number): number { return i < 0 ? Math.max(len + i + 1, 1) : i }

function format (args: LuaValue[]): string {
  const f = argString(args, 0, 'format')
  let n = 1
  return f.replace(/%([-+ #0]*)(\d*)(?:\.(\d+))?([diouxXeEfgGqsc%])/g, (_m, flags: string, width: string, prec: string | undefined, conv: string) => {
    if (conv === '%') return '%'
    const i = n++
    let s: string
    switch (conv) {
      case 'd': case 'i': case 'o': case 'u': case 'x': case 'X': case 'c': {
        const v = Math.trunc(argNumber(args, i, 'format'))
        s = conv === 'x' ? v.toString(16) : conv === 'X' ? v.toString(16).toUpperCase() : conv === 'o' ? v.toString(8) : conv === 'c' ? String.fromCharCode(v) : String(v)
        if (flags.includes('+') && v >= 0 && (conv === 'd' || conv === 'i')) s = `+${s}`
        break
      }
      case 'e': case 'E': case 'f': case 'g': case 'G': {
        const v = argNumber(args, i, 'format')
        const p = prec === undefined ? 6 : Number(prec)
        s = conv === 'f' ? v.toFixed(p) : conv === 'e' || conv === 'E' ? v.toExponential(p).replace(/e([-+])(\d)$/, 'e$10$2') : numberToString(Number(v.toPrecision(Math.max(p, 1))))
        if (conv === 'E' || conv === 'G') s = s.toUpperCase()
        break
      }
      case 'q': s = JSON.stringify(argString(args, i, 'format')); break
      default: {
        const v = args[i]
        if (v === undefined && i >= args.length) throw new LuaRuntimeError(`bad argument #${i + 1} to 'format' (no value)`)
        s = luaToString(v)
        if (prec !== undefined) s = s.slice(0, Number(prec))
      }
    }
    const w = width === '' ? 0 : Number(width)
    if (s.length < w) s = flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') && conv !== 's' ? '0' : ' ')
    return s
  })
}

function findOrMatch (args: LuaValue[], name: 'find' | 'match'): LuaValue[] {
  const s = argString(args, 0, name)
  const p = argString(args, 1, name)
  let init = strIndex(argNumber(args, 2, name, 1), s.length) - 1
  if (init > s.length) return [undefined]
  init = Math.max(init, 0)
  if (name === 'find' && (truthy(args[3]) || !/[\^$*+?.()[\]%-]/.test(p))) {
    const at = s.indexOf(p, init)
    return at < 0 ? [undefined] : [at + 1, at + p.length]
  }
  let re: RegExp
  try { re = luaPattern(p) } catch { throw new LuaRuntimeError(`malformed pattern '${p}'`) }
  const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`)
  g.lastIndex = init
  const m = g.exec(s)
  if (m === null || (p.startsWith('^') && m.index !== init)) return [undefined]
  const caps = m.slice(1).map((c) => c as LuaValue)
  if (name === 'find') return [m.index + 1, m.index + m[0].length, ...caps]
  return caps.length > 0 ? caps : [m[0]]
}

const STRING = new MapTable()
for (const [k, f] of Object.entries({
  sub: fn((a) => {
    const s = argString(a, 0, 'sub')
    const i = strIndex(argNumber(a, 1, 'sub', 1), s.length)
    let j = argNumber(a, 2, 'sub', -1)
    j = j < 0 ? s.length + j + 1 : Math.min(j, s.length)
    return i > j ? '' : s.slice(i - 1, j)
  }),
  upper: fn((a) => argString(a, 0, 'upper').toUpperCase()),
  lower: fn((a) => argString(a, 0, 'lower').toLowerCase()),
  len: fn((a) => Buffer.byteLength(argString(a, 0, 'len'), 'latin1')),
  rep: fn((a) => {
    const s = argString(a, 0, 'rep')
    const n = argNumber(a, 1, 'rep')
    const sep = a[2] === undefined ? '' : argString(a, 2, 'rep')
    return n <= 0 ? '' : Array(Math.floor(n)).fill(s).join(sep)
  }),
  reverse: fn((a) => [...argString(a, 0, 'reverse')].reverse().join('')),
  byte: fn((a) => {
    const s = argString(a, 0, 'byte')
    const i = strIndex(argNumber(a, 1, 'byte', 1), s.length)
    const j = a[2] === undefined ? i : strIndex(argNumber(a, 2, 'byte'), s.length)
    const out: LuaValue[] = []
    for (let k = i; k <= Math.min(j, s.length); k++) out.push(s.charCodeAt(k - 1))
    return out
  }),
  char: fn((a) => String.fromCharCode(...a.map((_, i) => argNumber(a, i, 'char')))),
  format: fn(format),
  find: (a: LuaValue[]) => findOrMatch(a, 'find'),
  match: (a: LuaValue[]) => findOrMatch(a, 'match'),
})) STRING.set(k, f)

const MATH = new MapTable()
for (const [k, f] of Object.entries({
  floor: fn((a) => Math.floor(argNumber(a, 0, 'floor'))),
  ceil: fn((a) => Math.ceil(argNumber(a, 0, 'ceil'))),
  abs: fn((a) => Math.abs(argNumber(a, 0, 'abs'))),
  sqrt: fn((a) => Math.sqrt(argNumber(a, 0, 'sqrt'))),
  fmod: fn((a) => argNumber(a, 0, 'fmod') % argNumber(a, 1, 'fmod')),
  max: fn((a) => Math.max(...a.map((_, i) => argNumber(a, i, 'max')))),
  min: fn((a) => Math.min(...a.map((_, i) => argNumber(a, i, 'min')))),
})) MATH.set(k, f)
MATH.set('huge', Infinity)
MATH.set('pi', Math.PI)

const TABLE = new MapTable()
TABLE.set('concat', fn((a) => {
  const t = a[0]
  if (!isTable(t)) throw new LuaRuntimeError(`bad argument #1 to 'concat' (table expected, got ${luaType(t)})`)
  const sep = a[1] === undefined ? '' : argString(a, 1, 'concat')
  const out: string[] = []
  for (let i = 1, v = t.get(1); v !== undefined; v = t.get(++i)) {
    if (typeof v !== 'string' && typeof v !== 'number') throw new LuaRuntimeError(`invalid value (at index ${i}) in table for 'concat'`)
    out.push(luaToString(v))
  }
  return out.join(sep)
}))

/** The sandbox's globals (a subset of kong/tools/sandbox's environment). */
export const SANDBOX: ReadonlyMap<string, LuaValue> = new Map<string, LuaValue>([
  ['type', fn((a) => { if (a.length === 0) throw new LuaRuntimeError("bad argument #1 to 'type' (value expected)"); return luaType(a[0]) })],
  ['tostring', fn((a) => luaToString(a[0]))],
  ['tonumber', fn((a) => {
    if (a[1] === undefined) return toNumber(a[0])
    const n = parseInt(luaToString(a[0]).trim(), argNumber(a, 1, 'tonumber'))
    return Number.isNaN(n) ? undefined : n
  })],
  ['select', (a) => {
    if (a[0] === '#') return [a.length - 1]
    const n = argNumber(a, 0, 'select')
    return n < 0 ? a.slice(a.length + n) : a.slice(n)
  }],
  ['unpack', (a) => {
    const t = a[0]
    if (!isTable(t)) throw new LuaRuntimeError(`bad argument #1 to 'unpack' (table expected, got ${luaType(t)})`)
    const out: LuaValue[] = []
    for (let i = 1; i <= t.len(); i++) out.push(t.get(i))
    return out
  }],
  ['string', STRING],
  ['math', MATH],
  ['table', TABLE],
])

// ---- parser ----

type Node = (env: Env) => LuaValue
/** A node that may yield several values (calls); `multi` keeps them all. */
interface Expr { readonly one: Node; readonly multi?: (env: Env) => LuaValue[]; readonly what: string }

export interface Env { global (name: string): LuaValue }

type Token = { t: 'name' | 'kw' | 'num' | 'str' | 'op' | 'eof'; v: string; n?: number }

const KEYWORDS = new Set(['and', 'or', 'not', 'nil', 'true', 'false', 'function', 'end', 'if', 'then', 'else', 'elseif', 'local', 'return', 'while', 'do', 'for', 'in', 'repeat', 'until', 'break'])
const OPS = ['...', '..', '==', '~=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '^', '#', '(', ')', '[', ']', '{', '}', ',', ';', '.', ':', '=']

function longBracket (src: string, i: number): { level: number; end: number; body: string } | null {
  const m = /^\[(=*)\[/.exec(src.slice(i))
  if (m === null) return null
  const close = `]${m[1]}]`
  const start = i + m[0].length
  const end = src.indexOf(close, start)
  if (end < 0) throw new LuaSyntaxError('unfinished long string')
  let body = src.slice(start, end)
  if (body.startsWith('\r\n')) body = body.slice(2); else if (body.startsWith('\n')) body = body.slice(1)
  return { level: m[1]!.length, end: end + close.length, body }
}

function tokenize (src: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    if (/\s/.test(c)) { i++; continue }
    if (src.startsWith('--', i)) {
      const lb = longBracket(src, i + 2)
      if (lb !== null) { i = lb.end; continue }
      const nl = src.indexOf('\n', i)
      i = nl < 0 ? src.length : nl + 1
      continue
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))
    if (name !== null) { out.push({ t: KEYWORDS.has(name[0]) ? 'kw' : 'name', v: name[0] }); i += name[0].length; continue }
    const num = /^(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)/.exec(src.slice(i))
    if (num !== null) {
      if (/^[A-Za-z_]/.test(src.slice(i + num[0].length))) throw new LuaSyntaxError(`malformed number near '${num[0]}${src[i + num[0].length]}'`)
      out.push({ t: 'num', v: num[0], n: Number(num[0]) })
      i += num[0].length
      continue
    }
    if (c === '"' || c === "'") {
      let s = ''
      let j = i + 1
      for (;;) {
        if (j >= src.length || src[j] === '\n') throw new LuaSyntaxError(`unfinished string near '${src.slice(i, j)}'`)
        const d = src[j]!
        if (d === c) break
        if (d === '\\') {
          const e = src[j + 1]
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'", '\n': '\n' }
          if (e !== undefined && simple[e] !== undefined) { s += simple[e]; j += 2; continue }
          const dec = /^\d{1,3}/.exec(src.slice(j + 1))
          if (dec !== null) { s += String.fromCharCode(Number(dec[0])); j += 1 + dec[0].length; continue }
          throw new LuaSyntaxError('invalid escape sequence')
        }
        s += d
        j++
      }
      out.push({ t: 'str', v: s })
      i = j + 1
      continue
    }
    if (c === '[') {
      const lb = longBracket(src, i)
      if (lb !== null) { out.push({ t: 'str', v: lb.body }); i = lb.end; continue }
    }
    const op = OPS.find((o) => src.startsWith(o, i))
    if (op === undefined) throw new LuaSyntaxError(`unexpected symbol near '${c}'`)
    out.push({ t: 'op', v: op })
    i += op.length
  }
  out.push({ t: 'eof', v: '<eof>' })
  return out
}

const BINARY: Record<string, [number, number]> = {
  or: [1, 1], and: [2, 2],
  '<': [3, 3], '>': [3, 3], '<=': [3, 3], '>=': [3, 3], '~=': [3, 3], '==': [3, 3],
  '..': [5, 4], '+': [6, 6], '-': [6, 6], '*': [7, 7], '/': [7, 7], '%': [7, 7], '^': [10, 9],
}
const UNARY_PRIORITY = 8

const first = (e: Expr, env: Env): LuaValue => e.one(env)
function multiOf (e: Expr, env: Env): LuaValue[] { return e.multi !== undefined ? e.multi(env) : [e.one(env)] }

class Parser {
  private p = 0
  private readonly toks: Token[]
  constructor (toks: Token[]) { this.toks = toks }
  private peek (): Token { return this.toks[this.p]! }
  private next (): Token { return this.toks[this.p++]! }
  private isOp (v: string): boolean { const t = this.peek(); return (t.t === 'op' || t.t === 'kw') && t.v === v }
  private expect (v: string): void {
    const t = this.next()
    if (!((t.t === 'op' || t.t === 'kw') && t.v === v)) throw new LuaSyntaxError(`'${v}' expected near '${t.v}'`)
  }

  parseAll (): Expr {
    const e = this.expr(0)
    const t = this.peek()
    if (t.t !== 'eof') throw new LuaSyntaxError(`')' expected near '${t.v}'`)
    return e
  }

  private expr (limit: number): Expr {
    let left: Expr
    const t = this.peek()
    if ((t.t === 'kw' && t.v === 'not') || (t.t === 'op' && (t.v === '-' || t.v === '#'))) {
      this.next()
      const operand = this.expr(UNARY_PRIORITY)
      const o = operand.one
      if (t.v === 'not') left = { one: (env) => !truthy(o(env)), what: 'expression' }
      else if (t.v === '-') left = { one: (env) => arith('-', 0, o(env)), what: 'expression' }
      else {
        left = {
          one: (env) => {
            const v = o(env)
            if (typeof v === 'string') return Buffer.byteLength(v)
            if (isTable(v)) return v.len()
            throw new LuaRuntimeError(`attempt to get length of a ${luaType(v)} value`)
          },
          what: 'expression',
        }
      }
    } else {
      left = this.simple()
    }
    for (;;) {
      const op = this.peek()
      const prio = (op.t === 'op' || op.t === 'kw') ? BINARY[op.v] : undefined
      if (prio === undefined || prio[0] <= limit) break
      this.next()
      const right = this.expr(prio[1])
      left = binary(op.v, left.one, right.one)
    }
    return left
  }

  private simple (): Expr {
    const t = this.peek()
    switch (t.t) {
      case 'num': { this.next(); const n = t.n!; return { one: () => n, what: 'number' } }
      case 'str': { this.next(); const s = t.v; return { one: () => s, what: 'string' } }
      case 'kw':
        if (t.v === 'nil') { this.next(); return { one: () => undefined, what: 'nil' } }
        if (t.v === 'true') { this.next(); return { one: () => true, what: 'boolean' } }
        if (t.v === 'false') { this.next(); return { one: () => false, what: 'boolean' } }
        if (t.v === 'function') throw new LuaUnsupportedError('function literals are not supported in templates')
        break
      case 'op':
        if (t.v === '{') return this.table()
        if (t.v === '...') throw new LuaSyntaxError("cannot use '...' outside a vararg function")
        break
      default:
    }
    return this.suffixed()
  }

  private primary (): Expr {
    const t = this.next()
    if (t.t === 'name') { const n = t.v; return { one: (env) => env.global(n), what: `global '${n}'` } }
    if (t.t === 'op' && t.v === '(') {
      const e = this.expr(0)
      this.expect(')')
      const o = e.one
      return { one: o, what: e.what }
    }
    throw new LuaSyntaxError(`unexpected symbol near '${t.v}'`)
  }

  private suffixed (): Expr {
    let e = this.primary()
    for (;;) {
      const t = this.peek()
      if (t.t === 'op' && t.v === '.') {
        this.next()
        const k = this.next()
        if (k.t !== 'name') throw new LuaSyntaxError(`<name> expected near '${k.v}'`)
        const o = e.one
        const what = e.what
        e = { one: (env) => index(o(env), k.v, what), what: `field '${k.v}'` }
      } else if (t.t === 'op' && t.v === '[') {
        this.next()
        const kx = this.expr(0).one
        this.expect(']')
        const o = e.one
        const what = e.what
        e = { one: (env) => index(o(env), normKey(kx(env)), what), what: 'field \'?\'' }
      } else if (t.t === 'op' && t.v === ':') {
        this.next()
        const k = this.next()
        if (k.t !== 'name') throw new LuaSyntaxError(`<name> expected near '${k.v}'`)
        const args = this.args()
        const o = e.one
        const what = e.what
        const multi = (env: Env): LuaValue[] => {
          const self = o(env)
          const f = index(self, k.v, what)
          return call(f, [self, ...args(env)], `method '${k.v}'`)
        }
        e = { one: (env) => multi(env)[0], multi, what: 'expression' }
      } else if ((t.t === 'op' && (t.v === '(' || t.v === '{')) || t.t === 'str') {
        const args = this.args()
        const o = e.one
        const what = e.what
        const multi = (env: Env): LuaValue[] => call(o(env), args(env), what)
        e = { one: (env) => multi(env)[0], multi, what: 'expression' }
      } else {
        return e
      }
    }
  }

  private args (): (env: Env) => LuaValue[] {
    const t = this.peek()
    if (t.t === 'str') { this.next(); const s = t.v; return () => [s] }
    if (t.t === 'op' && t.v === '{') { const tb = this.table().one; return (env) => [tb(env)] }
    this.expect('(')
    const list: Expr[] = []
    if (!this.isOp(')')) {
      list.push(this.expr(0))
      while (this.isOp(',')) { this.next(); list.push(this.expr(0)) }
    }
    this.expect(')')
    return (env) => {
      const out: LuaValue[] = []
      for (let i = 0; i < list.length; i++) {
        if (i === list.length - 1) out.push(...multiOf(list[i]!, env))
        else out.push(first(list[i]!, env))
      }
      return out
    }
  }

  private table (): Expr {
    this.expect('{')
    const items: Array<{ key?: Node; value: Expr }> = []
    while (!this.isOp('}')) {
      const t = this.peek()
      if (t.t === 'op' && t.v === '[') {
        this.next()
        const key = this.expr(0).one
        this.expect(']')
        this.expect('=')
        items.push({ key, value: this.expr(0) })
      } else if (t.t === 'name' && this.toks[this.p + 1]?.t === 'op' && this.toks[this.p + 1]?.v === '=') {
        this.next(); this.next()
        const k = t.v
        items.push({ key: () => k, value: this.expr(0) })
      } else {
        items.push({ value: this.expr(0) })
      }
      if (this.isOp(',') || this.isOp(';')) this.next()
      else break
    }
    this.expect('}')
    return {
      one: (env) => {
        const tb = new MapTable()
        let n = 1
        items.forEach((it, i) => {
          if (it.key !== undefined) {
            const k = normKey(it.key(env))
            if (k === undefined) throw new LuaRuntimeError('table index is nil')
            tb.set(k, first(it.value, env))
          } else if (i === items.length - 1) {
            for (const v of multiOf(it.value, env)) tb.set(n++, v)
          } else {
            tb.set(n++, first(it.value, env))
          }
        })
        return tb
      },
      what: 'table',
    }
  }
}

/** Float keys with an integer value are the same key as the integer. */
function normKey (k: LuaValue): LuaValue { return k }

function binary (op: string, l: Node, r: Node): Expr {
  let one: Node
  switch (op) {
    case 'or': one = (env) => { const a = l(env); return truthy(a) ? a : r(env) }; break
    case 'and': one = (env) => { const a = l(env); return truthy(a) ? r(env) : a }; break
    case '==': one = (env) => l(env) === r(env); break
    case '~=': one = (env) => l(env) !== r(env); break
    case '<': case '<=': case '>': case '>=': one = (env) => compare(op, l(env), r(env)); break
    case '..': one = (env) => concat(l(env), r(env)); break
    default: one = (env) => arith(op, l(env), r(env))
  }
  return { one, what: 'expression' }
}

/** Parses one `$(...)` expression; throws LuaSyntaxError. */
export function parseLuaExpression (src: string): Node {
  return new Parser(tokenize(src)).parseAll().one
}
