/**
 * Route regexes: Kong compiles them with Rust's `regex` crate (ATC engine); Sluice with JS RegExp
 * in unicode mode, after `translateToJs(pattern, 'rust')` (common/pcre.ts, shared with the schema's
 * PCRE validation). What the translator cannot express faithfully (inline flags elsewhere, `x`/`U`
 * flags, class set operations, ...) is an error here; the caller skips that path or header value
 * and reports it. Compilation happens at build time only.
 *
 * `literalPrefix` is the text every match must start with (the regex is anchored with `^`), used
 * to index regex paths next to prefix paths. It is conservative: empty when unsure.
 */
import { translateToJs } from '../common/pcre.ts'

export interface CompiledPathRegex {
  re: RegExp
  literalPrefix: string
}

interface Translated {
  source: string
  flags: string
}

function isAlnum (c: string | undefined): boolean {
  return c !== undefined && /^[0-9A-Za-z]$/.test(c)
}

/** Rust regex syntax -> JS source and flags (`u` among them), or an error message. */
export function translateRegex (pattern: string): Translated | string {
  const unsupported = rustUnsupported(pattern)
  if (unsupported !== null) return unsupported
  const t = translateToJs(pattern, 'rust')
  return t.ok ? { source: rustUnicodeClasses(t.source, t.flags), flags: t.flags } : t.error
}

/**
 * What Rust's regex crate refuses but the shared translator accepts: look-around and
 * back-references (`regex` has neither). Kong's ATC engine cannot compile such a route.
 */
function rustUnsupported (pattern: string): string | null {
  let inClass = false
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '\\') {
      const e = pattern[i + 1]
      if (!inClass && e !== undefined && e >= '1' && e <= '9') return 'backreferences are not supported'
      if (!inClass && (e === 'k' || e === 'g')) return 'backreferences are not supported'
      i++
      continue
    }
    if (inClass) { if (c === ']') inClass = false; continue }
    if (c === '[') {
      inClass = true
      if (pattern[i + 1] === '^') i++
      if (pattern[i + 1] === ']') i++
      continue
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const r = pattern.slice(i + 2, i + 4)
      if (r[0] === '=' || r[0] === '!' || r === '<=' || r === '<!') return 'look-around is not supported'
      if (pattern.startsWith('P=', i + 2)) return 'backreferences are not supported'
    }
  }
  return null
}

// Rust's regex crate (Unicode mode, its default) gives these their Unicode meaning; JS keeps them
// ASCII even with the `u` flag (regex-syntax: perl_word, perl_digit, perl_space).
const WORD = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}'
const DIGIT = '\\p{Nd}'
const SPACE = '\\p{White_Space}'

/**
 * The JS source `translateToJs` made from a Rust pattern, with `\d \w \s \b` (and their negations)
 * made Unicode-aware as Rust's are, and `.` made to match `\r`, `\u2028` and `\u2029` (Rust's `.`
 * stops at `\n` only). `\W` inside a class stays ASCII (a class cannot hold a complement of a
 * union in `u` mode); the translator writes POSIX classes as ASCII ranges, so they stay ASCII,
 * as in Rust. Build time only.
 */
export function rustUnicodeClasses (source: string, flags: string): string {
  const dotAll = flags.includes('s')
  let out = ''
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '\\') {
      const e = source[i + 1]
      i++
      if (e === 'd') out += DIGIT
      else if (e === 'D') out += '\\P{Nd}'
      else if (e === 's') out += SPACE
      else if (e === 'S') out += '\\P{White_Space}'
      else if (e === 'w') out += inClass ? WORD : `[${WORD}]`
      else if (e === 'W' && !inClass) out += `[^${WORD}]`
      else if (e === 'b' && !inClass) out += `(?:(?<=[${WORD}])(?![${WORD}])|(?<![${WORD}])(?=[${WORD}]))`
      else if (e === 'B' && !inClass) out += `(?:(?<=[${WORD}])(?=[${WORD}])|(?<![${WORD}])(?![${WORD}]))`
      else out += '\\' + (e ?? '')
      continue
    }
    if (inClass) {
      if (c === ']') inClass = false
      out += c
    } else if (c === '[') {
      inClass = true
      out += c
      // a `]` or `^]` right after `[` is a literal in JS only when escaped; the translator escapes it
    } else if (c === '.' && !dotAll) {
      out += '[^\\n]'
    } else {
      out += c
    }
  }
  return out
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
  return { re: new RegExp('^' + t.source, t.flags), literalPrefix: literalPrefix(t.source, t.flags) }
}

/** A `~*` header value: Kong lower-cases the pattern itself (ASCII) and matches unanchored. */
export function compileHeaderRegex (pattern: string): RegExp | string {
  const t = translateRegex(asciiLower(pattern))
  if (typeof t === 'string') return t
  return new RegExp(t.source, t.flags)
}

/** Lua's `string.lower`: ASCII letters only. */
export function asciiLower (s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase())
}
