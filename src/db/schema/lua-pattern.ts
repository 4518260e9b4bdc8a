/**
 * Lua patterns -> JavaScript RegExp, so schema files can carry Kong's `match`, `match_all`,
 * `match_none` and `match_any` patterns verbatim (kong/db/schema/init.lua uses string.match).
 *
 * Supported: anchors, `.`, `%a %c %d %g %l %p %s %u %w %x` and their complements, `%z`,
 * escaped punctuation, sets with ranges and classes, the quantifiers `* + - ?`, and captures
 * (as plain groups). Character classes are ASCII, as in the C locale. Unsupported constructs
 * (`%b`, `%f`, back-references, complemented classes inside sets) throw at schema load.
 */

const CLASS: Record<string, string> = {
  a: 'A-Za-z',
  c: '\\x00-\\x1f\\x7f',
  d: '0-9',
  g: '\\x21-\\x7e',
  l: 'a-z',
  p: '!-\\/:-@\\[-`{-~',
  s: '\\t-\\r ',
  u: 'A-Z',
  w: 'A-Za-z0-9',
  x: '0-9A-Fa-f',
  z: '\\x00',
}

function escapeOutside (ch: string): string {
  return /[\^$\\.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch
}

function escapeInside (ch: string): string {
  return /[\\\]\[^\-]/.test(ch) ? `\\${ch}` : ch
}

function classItem (letter: string, inSet: boolean): string {
  const lower = letter.toLowerCase()
  const body = CLASS[lower]
  if (body === undefined) return inSet ? escapeInside(letter) : escapeOutside(letter)
  const negated = letter !== lower
  if (inSet) {
    if (negated) throw new Error(`lua pattern: complemented class %${letter} inside a set is not supported`)
    return body
  }
  return negated ? `[^${body}]` : `[${body}]`
}

/** Translates one Lua pattern to an equivalent RegExp source (unicode mode). */
export function luaPatternSource (pattern: string): string {
  const chars = Array.from(pattern)
  let out = ''
  let i = 0
  if (chars[0] === '^') { out += '^'; i = 1 }
  while (i < chars.length) {
    const c = chars[i]!
    let item: string
    if (c === '$' && i === chars.length - 1) { out += '$'; break }
    if (c === '%') {
      const n = chars[i + 1]
      if (n === undefined) throw new Error('lua pattern: malformed pattern (ends with %)')
      if (n === 'b' || n === 'f' || /[0-9]/.test(n)) throw new Error(`lua pattern: %${n} is not supported`)
      item = classItem(n, false)
      i += 2
    } else if (c === '[') {
      let j = i + 1
      let set = '['
      if (chars[j] === '^') { set += '^'; j++ }
      let first = true
      for (;;) {
        const d = chars[j]
        if (d === undefined) throw new Error('lua pattern: malformed pattern (missing ])')
        if (d === ']' && !first) break
        first = false
        if (d === '%') {
          const n = chars[j + 1]
          if (n === undefined) throw new Error('lua pattern: malformed pattern (ends with %)')
          set += classItem(n, true)
          j += 2
        } else if (chars[j + 1] === '-' && chars[j + 2] !== undefined && chars[j + 2] !== ']') {
          set += `${escapeInside(d)}-${escapeInside(chars[j + 2]!)}`
          j += 3
        } else {
          set += escapeInside(d)
          j++
        }
      }
      item = set + ']'
      i = j + 1
    } else if (c === '(') {
      out += '(?:'
      i++
      continue
    } else if (c === ')') {
      out += ')'
      i++
      continue
    } else if (c === '.') {
      item = '[\\s\\S]'
      i++
    } else {
      item = escapeOutside(c)
      i++
    }
    const q = chars[i]
    if (q === '*' || q === '+' || q === '?') { item += q; i++ } else if (q === '-') { item += '*?'; i++ }
    out += item
  }
  return out
}

const cache = new Map<string, RegExp>()

/** The compiled RegExp for a Lua pattern (cached; patterns come from schema files). */
export function luaPattern (pattern: string): RegExp {
  let re = cache.get(pattern)
  if (re === undefined) {
    re = new RegExp(luaPatternSource(pattern), 'u')
    cache.set(pattern, re)
  }
  return re
}

/** `string.match(value, pattern) ~= nil` */
export function luaMatches (value: string, pattern: string): boolean {
  return luaPattern(pattern).test(value)
}
