/**
 * Penlight's `pl.pretty.write`, which Kong uses to render keys inside error messages
 * (`UNIQUE violation detected on '{name="x"}'`, nested schema errors). Kong's specs compare
 * these strings, so the layout follows penlight: `{a=1,b="x"}` with an empty indent, one item
 * per line otherwise. Keys are sorted so the output is stable (Lua's hash order is not).
 * JS arrays are Lua sequences with 1-based indices; holes become `[n] = v` entries.
 */
import { luaToString } from './messages.ts'

const KEYWORDS = new Set(['and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for', 'function', 'goto', 'if',
  'in', 'local', 'nil', 'not', 'or', 'repeat', 'return', 'then', 'true', 'until', 'while'])

function isIdentifier (s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) && !KEYWORDS.has(s)
}

/** Lua's `%q` as LuaJIT writes it. */
function luaQ (s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!
    const c = s.charCodeAt(i)
    if (ch === '"' || ch === '\\' || ch === '\n') out += '\\' + ch
    else if (c < 0x20 || c === 0x7f) {
      const next = s.charCodeAt(i + 1)
      out += '\\' + (next >= 0x30 && next <= 0x39 ? String(c).padStart(3, '0') : String(c))
    } else out += ch
  }
  return out + '"'
}

/** Penlight's stringx.quote_string: long brackets for multi-line text, `%q` otherwise. */
export function quoteString (s: string): string {
  let equals = -1
  for (const m of (s + ']').matchAll(/([[\]])(=*)\1/g)) equals = Math.max(equals, m[2]!.length)
  if ((s.includes('\n') || equals >= 0) && !s.includes('\r')) {
    const eq = '='.repeat(equals + 1)
    return `[${eq}[${s.startsWith('\n') ? '\n' + s : s}]${eq}]`
  }
  return luaQ(s)
}

function scalar (v: unknown): string {
  if (typeof v === 'string') return quoteString(v)
  if (v === null || v === undefined) return 'null'
  const t = luaToString(v)
  return t.includes(' ') ? quoteString(t) : t
}

type Entry = [key: string, value: unknown]

function entries (t: object): { seq: unknown[]; rest: Entry[] } {
  if (Array.isArray(t)) {
    const seq: unknown[] = []
    let i = 0
    while (i < t.length && i in t && t[i] !== undefined) seq.push(t[i++])
    const rest: Entry[] = []
    for (let j = i; j < t.length; j++) if (j in t && t[j] !== undefined) rest.push([`[${j + 1}]`, t[j]])
    return { seq, rest }
  }
  const keys = Object.keys(t).sort()
  return {
    seq: [],
    rest: keys.map((k) => [isIdentifier(k) ? k : `[${quoteString(k)}]`, (t as Record<string, unknown>)[k]] as Entry),
  }
}

/** pl.pretty.write(value, space) */
export function plPretty (value: unknown, space = '  '): string {
  if (value === null || typeof value !== 'object') return scalar(value)
  const set = space === '' ? '=' : ' = '
  const lines: string[] = []
  let line = ''
  const put = (s: string): void => { line += s }
  const putln = (s: string): void => {
    if (line.length > 0) { lines.push(line + s); line = '' } else lines.push(s)
  }
  const eatLastComma = (): void => {
    const n = lines.length - 1
    if (n >= 0 && lines[n]!.endsWith(',')) lines[n] = lines[n]!.slice(0, -1)
  }
  const seen = new Set<object>()
  const writeit = (t: unknown, oldindent: string, indent: string): void => {
    if (t === null || typeof t !== 'object') { putln(scalar(t) + ','); return }
    if (seen.has(t)) { putln('<cycle>,'); return }
    seen.add(t)
    const newindent = indent + space
    putln('{')
    const { seq, rest } = entries(t)
    for (const v of seq) { put(indent); writeit(v, indent, newindent) }
    for (const [k, v] of rest) { put(indent + k + set); writeit(v, indent, newindent) }
    seen.delete(t)
    eatLastComma()
    putln(oldindent + '},')
  }
  writeit(value, '', space)
  eatLastComma()
  return lines.join(space.length > 0 ? '\n' : '')
}
