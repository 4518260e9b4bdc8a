/**
 * The one PCRE/Rust -> JavaScript regex translator. Kong users write regexes in two dialects:
 * route `~` paths are validated by the schema with PCRE2 (ngx.re, options "aj"), and routes are
 * matched with Rust's `regex` crate (the ATC router). Sluice compiles both with V8 in unicode
 * mode; this module turns either syntax into equivalent JS source with the flags to use (always
 * including `u`), or into an error message (callers word it: the schema as PCRE2 does, the router
 * as a skipped value). Pure and import-free: the primary (schema) and the workers (router) use it.
 * The result is not anchored.
 *
 * Both dialects: `\A \z \Z \G`, `\h \H \v \V \R \N`, `\e \a \cX`, octal and `\x{...}` escapes,
 * `\Q...\E`, POSIX classes, one-letter properties `\pL`, `(?P<n>...)`, a leading `]` in a class,
 * a leading option setting `(?ims)`. Approximated: possessive quantifiers and atomic groups become
 * ordinary ones (same matches, different backtracking). Rejected: recursion, conditionals, branch
 * reset, `\K`, `\X`, `\C`, inline options elsewhere.
 * PCRE only: `(?'n'...)`, `(?P=n)`, `\g{n}`, `\k{n}`, comments, `(?x)`, verbs `(*UTF)`, `(*UCP)`.
 * Rust only: `(?u)`, `\u{...}` / `\uXXXX`; what Rust reads differently from PCRE is refused
 * rather than mistranslated (nested classes, class set operations `&&` `--` `~~`, `(?x)`, groups
 * other than `(?:` `(?=` `(?!` `(?<=` `(?<!` and named ones, possessive quantifiers).
 *
 * Known difference kept: PCRE's and Rust's `\d`, `\w`, `\s`, `\b` may be Unicode-aware, JS's are ASCII.
 */

export type RegexDialect = 'pcre' | 'rust'

export type RegexTranslation = { ok: true; source: string; flags: string } | { ok: false; error: string }
class PcreError extends Error {}

const POSIX: Record<string, string> = {
  alnum: 'A-Za-z0-9',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7f',
  blank: ' \\t',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '\\x21-\\x7e',
  lower: 'a-z',
  print: '\\x20-\\x7e',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t-\\r ',
  upper: 'A-Z',
  word: 'A-Za-z0-9_',
  xdigit: '0-9A-Fa-f',
}

/** Start and end of the input whatever the `m` flag says (`^`/`$` follow it). */
const START = '(?<![\\s\\S])'
const END = '(?![\\s\\S])'
const VSPACE = '\\n\\x0b\\f\\r\\x85\\u2028\\u2029'
const HSPACE = '\\t \\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000'

function hex (cp: number): string {
  return `\\u{${cp.toString(16)}}`
}

function literal (cp: number, inClass: boolean): string {
  const ch = String.fromCodePoint(cp)
  if (cp < 0x20 || cp === 0x7f) return hex(cp)
  if (inClass) return /[\\\]\[^\-]/.test(ch) ? '\\' + ch : ch
  return /[\^$\\.*+?()[\]{}|/]/.test(ch) ? '\\' + ch : ch
}

function propertyEscape (neg: boolean, name: string): string {
  let n = name
  let negated = neg
  if (n.startsWith('^')) { negated = !negated; n = n.slice(1) }
  if (n === 'Any') return negated ? '[^\\s\\S]' : '[\\s\\S]'
  if (n === 'L&') return negated ? '[^\\p{Lu}\\p{Ll}\\p{Lt}]' : '[\\p{Lu}\\p{Ll}\\p{Lt}]'
  const body = /^[A-Z][a-z]?$/.test(n) ? n : `Script=${n}`
  return `\\${negated ? 'P' : 'p'}{${body}}`
}

class Translator {
  readonly cps: number[]
  i = 0
  out = ''
  depth = 0
  extended = false
  readonly groupCount: number
  readonly names: string[] = []

  readonly rust: boolean

  constructor (pattern: string, dialect: RegexDialect) {
    this.rust = dialect === 'rust'
    this.cps = Array.from(pattern, (c) => c.codePointAt(0)!)
    this.groupCount = countGroups(pattern)
  }

  /** Groups opened so far (relative back-references count from here). */
  opened = 0

  peek (k = 0): string { const c = this.cps[this.i + k]; return c === undefined ? '' : String.fromCodePoint(c) }
  /** A short window of what follows: every construct read through it is short, and a window
   *  keeps a long pattern linear (no copy of the whole remainder per token). */
  rest (max = 96): string { return String.fromCodePoint(...this.cps.slice(this.i, this.i + max)) }

  /** Reads a `\`-escape; returns the JS text, and whether it stands for one repeatable item. */
  escape (inClass: boolean): { text: string; repeatable: boolean; literalCp?: number } {
    this.i++ // the backslash
    const c = this.peek()
    if (c === '') throw new PcreError('\\ at end of pattern')
    this.i++
    switch (c) {
      case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
        return { text: '\\' + c, repeatable: true }
      case 'b': return inClass ? { text: '\\x08', repeatable: true, literalCp: 8 } : { text: '\\b', repeatable: false }
      case 'B': if (inClass) break; return { text: '\\B', repeatable: false }
      case 'A': if (inClass) break; return { text: START, repeatable: false }
      case 'G': if (inClass) break; return { text: '^', repeatable: false }
      case 'z': if (inClass) break; return { text: END, repeatable: false }
      case 'Z': if (inClass) break; return { text: `(?=\\n?${END})`, repeatable: false }
      case 'h': return { text: inClass ? HSPACE : `[${HSPACE}]`, repeatable: true }
      case 'H': if (inClass) break; return { text: `[^${HSPACE}]`, repeatable: true }
      case 'v': return { text: inClass ? VSPACE : `[${VSPACE}]`, repeatable: true }
      case 'V': if (inClass) break; return { text: `[^${VSPACE}]`, repeatable: true }
      case 'R': if (inClass) break; return { text: `(?:\\r\\n|[${VSPACE}])`, repeatable: true }
      case 'N': if (inClass) break; return { text: '[^\\n]', repeatable: true }
      case 'n': return { text: '\\n', repeatable: true, literalCp: 10 }
      case 'r': return { text: '\\r', repeatable: true, literalCp: 13 }
      case 't': return { text: '\\t', repeatable: true, literalCp: 9 }
      case 'f': return { text: '\\f', repeatable: true, literalCp: 12 }
      case 'e': return { text: '\\x1b', repeatable: true, literalCp: 0x1b }
      case 'a': return { text: '\\x07', repeatable: true, literalCp: 7 }
      case 'c': {
        const x = this.peek()
        if (x === '') throw new PcreError('\\c at end of pattern')
        this.i++
        const cp = x.toUpperCase().codePointAt(0)! ^ 0x40
        return { text: hex(cp), repeatable: true, literalCp: cp }
      }
      case 'x': {
        let cp: number
        if (this.peek() === '{') {
          const m = /^\{([0-9A-Fa-f]+)\}/.exec(this.rest())
          if (m === null) throw new PcreError('\\x{ is not followed by hexadecimal digits and }')
          this.i += m[0].length
          cp = parseInt(m[1]!, 16)
          if (cp > 0x10ffff) throw new PcreError('character code point value in \\x{} or \\o{} is too large')
        } else {
          const m = /^[0-9A-Fa-f]{0,2}/.exec(this.rest())!
          this.i += m[0].length
          cp = m[0] === '' ? 0 : parseInt(m[0], 16)
        }
        return { text: hex(cp), repeatable: true, literalCp: cp }
      }
      case 'p': case 'P': {
        let name: string
        if (this.peek() === '{') {
          const m = /^\{([^}]*)\}/.exec(this.rest())
          if (m === null) throw new PcreError('malformed \\P or \\p sequence')
          this.i += m[0].length
          name = m[1]!
        } else {
          name = this.peek()
          if (name === '') throw new PcreError('malformed \\P or \\p sequence')
          this.i++
        }
        const t = propertyEscape(c === 'P', name)
        if (inClass && t.startsWith('[')) throw new PcreError('unsupported property escape inside a character class')
        return { text: t, repeatable: true }
      }
      case 'g': case 'k': {
        if (inClass) break
        const m = /^(?:\{(-?\d+|[A-Za-z_]\w*)\}|<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|(-?\d+))/.exec(this.rest())
        if (m === null) throw new PcreError(`\\${c} is not followed by a braced, angle-bracketed, or quoted name/number`)
        this.i += m[0].length
        const ref = m[1] ?? m[2] ?? m[3] ?? m[4]!
        if (/^-?\d+$/.test(ref)) {
          let n = Number(ref)
          if (n < 0) n = this.opened + 1 + n
          if (n <= 0 || n > this.groupCount) throw new PcreError('reference to non-existent subpattern')
          return { text: `(?:\\${n})`, repeatable: true }
        }
        return { text: `\\k<${ref}>`, repeatable: true }
      }
      case 'u': {
        if (!this.rust) break
        const m = /^(?:\{([0-9A-Fa-f]{1,8})\}|([0-9A-Fa-f]{4}))/.exec(this.rest())
        if (m === null) throw new PcreError('\\u is not followed by four hexadecimal digits or {...}')
        this.i += m[0].length
        const cp = parseInt(m[1] ?? m[2]!, 16)
        if (cp > 0x10ffff) throw new PcreError('character code point value in \\u{} is too large')
        return { text: hex(cp), repeatable: true, literalCp: cp }
      }
      case 'K': case 'X': case 'C':
        throw new PcreError(`\\${c} is not supported`)
      default:
        break
    }
    if (/[0-9]/.test(c)) {
      // back-reference, or octal escape (PCRE's rules)
      this.i--
      const m = /^[0-9]+/.exec(this.rest())!
      const digits = m[0]
      if (!inClass && digits[0] !== '0' && (Number(digits) <= 9 || Number(digits) <= this.groupCount)) {
        this.i += digits.length
        if (Number(digits) > this.groupCount) throw new PcreError('reference to non-existent subpattern')
        return { text: `(?:\\${digits})`, repeatable: true }
      }
      const oct = /^[0-7]{1,3}/.exec(digits)
      if (oct === null) throw new PcreError('reference to non-existent subpattern')
      this.i += oct[0].length
      const cp = parseInt(oct[0], 8)
      return { text: hex(cp), repeatable: true, literalCp: cp }
    }
    if (/[A-Za-z]/.test(c)) throw new PcreError('unrecognized character follows \\')
    const cp = c.codePointAt(0)!
    return { text: literal(cp, inClass), repeatable: true, literalCp: cp }
  }

  /** `\Q...\E` literal text, one escaped character per entry. */
  quoted (inClass: boolean): string[] {
    this.i += 2
    const out: string[] = []
    while (this.i < this.cps.length) {
      if (this.peek() === '\\' && this.peek(1) === 'E') { this.i += 2; return out }
      out.push(literal(this.cps[this.i]!, inClass))
      this.i++
    }
    return out
  }

  charClass (): string {
    this.i++ // [
    let out = '['
    if (this.peek() === '^') { out += '^'; this.i++ }
    type Atom = { text: string; cp?: number }
    const atoms: Atom[] = []
    let first = true
    for (;;) {
      const c = this.peek()
      if (c === '') throw new PcreError('missing terminating ] for character class')
      if (c === ']' && !first) { this.i++; break }
      first = false
      if (c === '[' && this.peek(1) === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(this.rest())
        if (m !== null) {
          const body = POSIX[m[2]!]
          if (body === undefined) throw new PcreError('unknown POSIX class name')
          if (m[1] === '^') throw new PcreError('negated POSIX classes are not supported')
          this.i += m[0].length
          atoms.push({ text: body })
          continue
        }
      }
      // Rust nests classes and has set operations where PCRE reads plain characters.
      if (this.rust && c === '[') throw new PcreError('nested character classes are not supported')
      if (this.rust && (c === '&' || c === '-' || c === '~') && this.peek(1) === c) throw new PcreError('class set operations are not supported')
      if (c === '\\') {
        if (this.peek(1) === 'Q') { atoms.push({ text: this.quoted(true).join('') }); continue }
        if (this.peek(1) === 'E') { this.i += 2; continue }
        const e = this.escape(true)
        atoms.push(e.literalCp === undefined ? { text: e.text } : { text: e.text, cp: e.literalCp })
        continue
      }
      const cp = this.cps[this.i]!
      this.i++
      atoms.push({ text: c === '-' ? '-' : literal(cp, true), cp })
    }
    // Ranges: "a-z" between two single characters; any other '-' is literal (PCRE's rule).
    let rangeEnd = false // the previous atom closed a range, so a '-' after it is literal
    for (let k = 0; k < atoms.length; k++) {
      const a = atoms[k]!
      if (a.text === '-' && a.cp === 0x2d) {
        const prev = atoms[k - 1]
        const next = atoms[k + 1]
        if (k > 0 && !rangeEnd && prev?.cp !== undefined && next?.cp !== undefined && next.text !== '-') {
          if (next.cp < prev.cp) throw new PcreError('range out of order in character class')
          out += '-' + next.text
          k++
          rangeEnd = true
          continue
        }
        out += '\\-'
        rangeEnd = false
        continue
      }
      out += a.text
      rangeEnd = false
    }
    return out + ']'
  }

  /** Quantifier at the cursor, or null. `{` that is no quantifier is a literal in PCRE. */
  quantifier (): string | null {
    const c = this.peek()
    let q: string
    if (c === '*' || c === '+' || c === '?') { q = c; this.i++ } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.rest())
      if (m === null) return null
      const lo = Number(m[1])
      const hi = m[3] === undefined || m[3] === '' ? null : Number(m[3])
      if (lo > 65535 || (hi !== null && hi > 65535)) throw new PcreError('number too big in {} quantifier')
      if (hi !== null && hi < lo) throw new PcreError('numbers out of order in {} quantifier')
      q = m[0]
      this.i += m[0].length
    } else return null
    if (this.peek() === '?') { q += '?'; this.i++ } else if (this.peek() === '+') {
      if (this.rust) throw new PcreError('possessive quantifiers are not supported')
      this.i++ // possessive: approximated
    }
    return q
  }

  group (): { text: string; repeatable: boolean } {
    const r = this.rest()
    let m: RegExpExecArray | null
    if (this.rust && r.startsWith('(?') && !/^\(\?(?::|=|!|<=|<!|P?<[A-Za-z_])/.test(r)) {
      throw new PcreError('inline flags are only supported at the start')
    }
    if (r.startsWith('(?#')) {
      let j = this.i + 3
      while (j < this.cps.length && this.cps[j] !== 0x29) j++
      if (j >= this.cps.length) throw new PcreError('missing ) after (?# comment')
      this.i = j + 1
      return { text: '', repeatable: false }
    }
    if ((m = /^\(\?P=([A-Za-z_]\w*)\)/.exec(r)) !== null) {
      this.i += m[0].length
      return { text: `\\k<${m[1]!}>`, repeatable: true }
    }
    let open: string
    if (r.startsWith('(?:') || r.startsWith('(?=') || r.startsWith('(?!')) { open = r.slice(0, 3); this.i += 3 } else if (r.startsWith('(?<=') || r.startsWith('(?<!')) { open = r.slice(0, 4); this.i += 4 } else if (r.startsWith('(?>')) { open = '(?:'; this.i += 3 } else if ((m = /^\(\?(?:P<|<|')([A-Za-z_]\w*)[>']/.exec(r)) !== null) {
      if (this.names.includes(m[1]!)) throw new PcreError('two named subpatterns have the same name (PCRE2_DUPNAMES not set)')
      this.names.push(m[1]!)
      open = `(?<${m[1]!}>`
      this.i += m[0].length
      this.opened++
    } else if (r.startsWith('(?')) {
      throw new PcreError(/^\(\?[imsxnUJ-]+[):]/.test(r)
        ? 'inline option settings are only supported at the start of the pattern'
        : 'unsupported group construct (recursion, conditional or branch reset)')
    } else if (r.startsWith('(*')) {
      throw new PcreError('(*VERB) not recognized or malformed')
    } else { open = '('; this.i += 1; this.opened++ }
    this.depth++
    const inner = this.sequence()
    if (this.peek() !== ')') throw new PcreError('missing closing parenthesis')
    this.i++
    this.depth--
    // JS (unicode mode) rejects quantified lookarounds; PCRE allows them but they are pointless.
    const assertion = /^\(\?(=|!|<=|<!)/.test(open)
    return { text: `${open}${inner})`, repeatable: !assertion }
  }

  /** Alternatives until `)` or the end. */
  sequence (): string {
    let out = ''
    while (this.i < this.cps.length) {
      const c = this.peek()
      if (c === ')') {
        if (this.depth === 0) throw new PcreError('unmatched closing parenthesis')
        return out
      }
      if (this.extended && /\s/.test(c)) { this.i++; continue }
      if (this.extended && c === '#') {
        while (this.i < this.cps.length && this.peek() !== '\n') this.i++
        continue
      }
      let item: { text: string; repeatable: boolean }
      if (c === '|') { out += '|'; this.i++; continue }
      if (c === '^' || c === '$') { item = { text: c, repeatable: false }; this.i++ } else if (c === '.') { item = { text: '.', repeatable: true }; this.i++ } else if (c === '[') item = { text: this.charClass(), repeatable: true }
      else if (c === '(') item = this.group()
      else if (c === '\\' && this.peek(1) === 'Q') {
        // a quantifier after \Q...\E binds to the last character only
        const chars = this.quoted(false)
        if (chars.length === 0) continue
        out += chars.slice(0, -1).join('')
        item = { text: chars[chars.length - 1]!, repeatable: true }
      }
      else if (c === '\\' && this.peek(1) === 'E') { this.i += 2; continue } else if (c === '\\') item = this.escape(false)
      else if (c === '*' || c === '+' || c === '?') throw new PcreError('quantifier does not follow a repeatable item')
      else if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.rest())) throw new PcreError('quantifier does not follow a repeatable item')
      else { item = { text: literal(this.cps[this.i]!, false), repeatable: true }; this.i++ }
      const q = item.repeatable ? this.quantifier() : null
      if (!item.repeatable && /^[*+?]/.test(this.peek()) && item.text !== '') throw new PcreError('quantifier does not follow a repeatable item')
      // A quantified multi-character escape needs a group so the quantifier binds to all of it.
      out += q === null ? item.text : (item.text.length > 1 && !/^(\[|\(|\\[dDwWsS]$|\\u\{[0-9a-f]+\}$|\\.$|\\[pP]\{)/.test(item.text) ? `(?:${item.text})${q}` : item.text + q)
    }
    if (this.depth > 0) throw new PcreError('missing closing parenthesis')
    return out
  }

  /** PCRE: leading `(*UTF)` verbs and one `(?imsx)` option setting. Rust: one `(?imsu)` setting. */
  prologue (): string {
    let flags = ''
    if (this.rust) {
      const o = /^\(\?([A-Za-z-]+)\)/.exec(this.rest())
      if (o === null) return flags
      for (const f of o[1]!) {
        if (f === 'i' || f === 'm' || f === 's') { if (!flags.includes(f)) flags += f } else if (f !== 'u') {
          throw new PcreError(`unsupported inline flag '${f}'`)
        }
      }
      this.i += o[0].length
      return flags
    }
    for (;;) {
      const m = /^\(\*(UTF8?|UTF16|UTF32|UCP|NO_AUTO_POSSESS|NO_START_OPT|NO_JIT|NOTEMPTY|NOTEMPTY_ATSTART)\)/.exec(this.rest())
      if (m === null) break
      this.i += m[0].length
    }
    const o = /^\(\?([imsx]+)\)/.exec(this.rest())
    if (o !== null) {
      this.i += o[0].length
      for (const f of o[1]!) {
        if (f === 'x') this.extended = true
        else if (!flags.includes(f)) flags += f
      }
    }
    return flags
  }
}

/** Capturing groups in a pattern (for back-reference checks), skipping escapes and classes. */
function countGroups (p: string): number {
  let n = 0
  let inClass = false
  for (let i = 0; i < p.length; i++) {
    const c = p[i]
    if (c === '\\') {
      if (p[i + 1] === 'Q') { const e = p.indexOf('\\E', i + 2); i = e < 0 ? p.length : e + 1; continue }
      i++
      continue
    }
    if (inClass) { if (c === ']') inClass = false; continue }
    if (c === '[') { inClass = true; if (p[i + 1] === ']') i++; else if (p[i + 1] === '^' && p[i + 2] === ']') i += 2; continue }
    if (c === '(') {
      if (p[i + 1] !== '?' && p[i + 1] !== '*') n++
      else if (/^\(\?(P?<[A-Za-z_]|')/.test(p.slice(i, i + 5))) n++
    }
  }
  return n
}

/**
 * `pattern` in `dialect` -> JS source and flags (`u` always among them), or what is wrong with it.
 * The source is checked to compile with those flags; it is not anchored.
 */
export function translateToJs (pattern: string, dialect: RegexDialect): RegexTranslation {
  try {
    const t = new Translator(pattern, dialect)
    const flags = t.prologue() + 'u'
    const source = t.sequence()
    try {
      // eslint-disable-next-line no-new
      new RegExp(source, flags)
    } catch (err) {
      return { ok: false, error: (err as Error).message }
    }
    return { ok: true, source, flags }
  } catch (err) {
    if (err instanceof RangeError) return { ok: false, error: 'regular expression is too large' }
    return { ok: false, error: (err as Error).message }
  }
}
