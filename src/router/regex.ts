/**
 * Route regexes: Kong compiles them with Rust's `regex` crate (ATC engine); Sluice with JS RegExp.
 *
 * `translateRegex` rewrites the Rust/PCRE-isms a Kong config may hold into JS syntax:
 * `(?P<name>` -> `(?<name>`, a leading inline flag group `(?ims)` -> RegExp flags, `\A` / `\z`,
 * one-letter Unicode classes `\pL`, POSIX classes `[[:alpha:]]`, a leading `]` in a class.
 * What JS cannot express (inline flags elsewhere, `x`/`U` flags, class set operations) is
 * reported as an error; callers skip that path or value. Compilation happens at build time only.
 *
 * Known difference kept: Rust's `\d`, `\w`, `\s`, `\b` are Unicode-aware, JS's are ASCII.
 *
 * `literalPrefix` is the text every match must start with (the regex is anchored with `^`), used
 * to index regex paths next to prefix paths. It is conservative: empty when unsure.
 */

export interface CompiledPathRegex {
  re: RegExp
  literalPrefix: string
}

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
}

interface Translated {
  source: string
  flags: string
}

function isAlnum (c: string | undefined): boolean {
  return c !== undefined && /^[0-9A-Za-z]$/.test(c)
}

/** Rust regex syntax -> JS source and flags, or an error message. */
export function translateRegex (pattern: string): Translated | string {
  let src = pattern
  let flags = ''
  const lead = /^\(\?([A-Za-z-]+)\)/.exec(src)
  if (lead !== null) {
    for (const f of lead[1]!) {
      if (f === 'i' || f === 'm' || f === 's') { if (!flags.includes(f)) flags += f } else if (f !== 'u') {
        return `unsupported inline flag '${f}'`
      }
    }
    src = src.slice(lead[0].length)
  }
  let out = ''
  let inClass = false
  let classStart = false
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!
    if (c === '\\') {
      const next = src[i + 1]
      if (next === undefined) return 'trailing backslash'
      if (!inClass && next === 'A') { out += '(?<![\\s\\S])'; i++; continue }
      if (!inClass && next === 'z') { out += '(?![\\s\\S])'; i++; continue }
      if ((next === 'p' || next === 'P') && src[i + 2] !== '{' && isAlnum(src[i + 2])) {
        out += `\\${next}{${src[i + 2]!}}`
        i += 2
        classStart = false
        continue
      }
      out += c + next
      i++
      classStart = false
      continue
    }
    if (inClass) {
      if (c === ']' && !classStart) { inClass = false; out += c; continue }
      if (c === ']' && classStart) { out += '\\]'; classStart = false; continue }
      classStart = false
      if (c === '[') {
        const posix = /^\[:(\^?)([a-z]+):\]/.exec(src.slice(i))
        if (posix === null) return 'nested character classes are not supported'
        const set = POSIX[posix[2]!]
        if (posix[1] === '^' || set === undefined) return `unsupported POSIX class '${posix[0]}'`
        out += set
        i += posix[0].length - 1
        continue
      }
      if ((c === '&' || c === '-' || c === '~') && src[i + 1] === c) return 'class set operations are not supported'
      out += c
      continue
    }
    if (c === '[') {
      inClass = true
      classStart = true
      out += c
      if (src[i + 1] === '^') { out += '^'; i++ }
      continue
    }
    if (c === '(' && src[i + 1] === '?') {
      const rest = src.slice(i + 2, i + 4)
      if (rest === 'P<') { out += '(?<'; i += 3; continue }
      const n = src[i + 2]
      if (n !== ':' && n !== '<' && n !== '=' && n !== '!') return 'inline flags are only supported at the start'
    }
    out += c
  }
  if (inClass) return 'unterminated character class'
  return { source: out, flags }
}

/** Compile translated source, preferring Unicode mode (Rust matches by code point). */
function compile (t: Translated): RegExp | string {
  try {
    return new RegExp(t.source, t.flags + 'u')
  } catch {
    try {
      return new RegExp(t.source, t.flags)
    } catch (err) {
      return (err as Error).message
    }
  }
}

const META = '.^$|()[]{}*+?'

/** Literal text every match of `^source` must start with. */
export function literalPrefix (source: string, flags: string): string {
  if (flags.includes('i') || flags.includes('m') || source.includes('|')) return ''
  let prefix = ''
  let i = 0
  while (i < source.length) {
    const c = source[i]!
    let lit: string
    let next: number
    if (c === '\\') {
      const e = source[i + 1]
      if (e === undefined || isAlnum(e) || e.charCodeAt(0) >= 128) break
      lit = e
      next = i + 2
    } else if (META.includes(c)) {
      break
    } else {
      const cp = source.codePointAt(i)!
      lit = String.fromCodePoint(cp)
      next = i + lit.length
    }
    const q = source[next]
    if (q === '*' || q === '?' || q === '{') break
    prefix += lit
    if (q === '+') break
    i = next
  }
  return prefix
}

/**
 * A regex path (`~/...`, the `~` already removed): anchored at the start as in `transform.lua`
 * (`"^" .. path`, so an alternation leaves its later branches unanchored, as in Kong).
 */
export function compilePathRegex (body: string): CompiledPathRegex | string {
  const t = translateRegex(body)
  if (typeof t === 'string') return t
  const re = compile({ source: '^' + t.source, flags: t.flags })
  if (typeof re === 'string') return re
  return { re, literalPrefix: literalPrefix(t.source, t.flags) }
}

/** A `~*` header value: Kong lower-cases the pattern itself (ASCII) and matches unanchored. */
export function compileHeaderRegex (pattern: string): RegExp | string {
  const t = translateRegex(asciiLower(pattern))
  if (typeof t === 'string') return t
  return compile(t)
}

/** Lua's `string.lower`: ASCII letters only. */
export function asciiLower (s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase())
}
