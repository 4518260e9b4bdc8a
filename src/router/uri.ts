/**
 * Request-path normalisation and upstream-path escaping, as `kong/tools/uri.lua` does them.
 *
 * - `normalizePath`: percent-decode every triplet except reserved characters (those are only
 *   upper-cased), then remove `.`/`..` segments and merge `//`. Matching happens on its result.
 * - `escapeUpstreamPath`: Kong's `escape()`, applied to the upstream URI before proxying.
 *
 * Both return their input unchanged (no allocation) on the common path that needs no work, and
 * `normalizePath` records in `normalized.escapeSafe` whether its result needs escaping at all, so
 * the router can skip a second scan when composing the upstream path.
 */

/** RFC 3986 reserved characters plus `%`: Kong leaves these percent-encoded. */
const RESERVED = "!*'();:@&=+$,/?%#[]"
const IS_RESERVED = new Uint8Array(128)
for (let i = 0; i < RESERVED.length; i++) IS_RESERVED[RESERVED.charCodeAt(i)] = 1

/** Characters `escape()` leaves alone: `[!#$&'()*+,/:;=?@[\]A-Za-z0-9\-_.~%]`. */
const ESCAPE_SAFE = new Uint8Array(128)
{
  const safe = "!#$&'()*+,/:;=?@[]-_.~%"
  for (let i = 0; i < safe.length; i++) ESCAPE_SAFE[safe.charCodeAt(i)] = 1
  for (let c = 48; c <= 57; c++) ESCAPE_SAFE[c] = 1
  for (let c = 65; c <= 90; c++) { ESCAPE_SAFE[c] = 1; ESCAPE_SAFE[c + 32] = 1 }
}

const HEX = '0123456789ABCDEF'
const PERCENT = 37
const DOT = 46
const SLASH = 47

function hexValue (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  const l = c | 32
  if (l >= 97 && l <= 102) return l - 87
  return -1
}

/** Invalid UTF-8 bytes are held as lone surrogates U+DC80..U+DCFF until the end. */
const ESCAPED_BYTE = 0xdc00

/** Decode a run of bytes >= 0x80 as UTF-8, escaping each byte of an invalid sequence. */
function decodeHighBytes (bytes: readonly number[]): string {
  let out = ''
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    const need = b >= 0xf0 && b <= 0xf4 ? 3 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xc2 && b <= 0xdf ? 1 : -1
    let cp = need === 3 ? b & 7 : need === 2 ? b & 15 : b & 31
    let ok = need > 0
    for (let k = 1; ok && k <= need; k++) {
      const c = bytes[i + k]
      if (c === undefined || (c & 0xc0) !== 0x80) ok = false
      else cp = (cp << 6) | (c & 63)
    }
    // reject overlong forms, surrogates and values above U+10FFFF
    if (ok && need === 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ok = false
    if (ok && need === 3 && (cp < 0x10000 || cp > 0x10ffff)) ok = false
    if (ok) {
      out += String.fromCodePoint(cp)
      i += need + 1
    } else {
      out += String.fromCharCode(ESCAPED_BYTE + b)
      i++
    }
  }
  return out
}

function hasEscapedByte (s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= ESCAPED_BYTE + 0x80 && c <= ESCAPED_BYTE + 0xff) return true
  }
  return false
}

/**
 * Decode percent-triplets except reserved ones (upper-cased instead). Decoded bytes >= 0x80 are
 * read as UTF-8; bytes of invalid sequences are kept escaped (see `normalizePath`).
 */
function decodeUnreserved (s: string): string {
  let out = ''
  let last = 0
  let i = 0
  const n = s.length
  while (i < n) {
    if (s.charCodeAt(i) !== PERCENT || i + 2 >= n) { i++; continue }
    const hi = hexValue(s.charCodeAt(i + 1))
    const lo = hexValue(s.charCodeAt(i + 2))
    if (hi < 0 || lo < 0) { i++; continue }
    const byte = hi * 16 + lo
    out += s.slice(last, i)
    if (byte < 0x80) {
      out += IS_RESERVED[byte] === 1 ? '%' + HEX[hi]! + HEX[lo]! : String.fromCharCode(byte)
      i += 3
    } else {
      // the run of high-byte triplets is one UTF-8 sequence (or several)
      const bytes: number[] = []
      while (i + 2 < n && s.charCodeAt(i) === PERCENT) {
        const h = hexValue(s.charCodeAt(i + 1))
        const l = hexValue(s.charCodeAt(i + 2))
        if (h < 0 || l < 0 || h * 16 + l < 0x80) break
        bytes.push(h * 16 + l)
        i += 3
      }
      out += decodeHighBytes(bytes)
    }
    last = i
  }
  return last === 0 ? s : out + s.slice(last)
}

/** Scratch for segment boundaries (pairs of start/end); grows on demand, reused across calls. */
let segs = new Int32Array(64)

/** Kong's dot-segment removal with slash merging, on already-decoded input. */
function removeDotSegments (s: string): string {
  let i = 0
  let end = s.length
  let k = 0
  while (i < end) {
    const rem = end - i
    const c0 = s.charCodeAt(i)
    const c1 = rem > 1 ? s.charCodeAt(i + 1) : -1
    const c2 = rem > 2 ? s.charCodeAt(i + 2) : -1
    const c3 = rem > 3 ? s.charCodeAt(i + 3) : -1
    if (rem === 2 && c0 === SLASH && c1 === DOT) { // "/." -> "/"
      end = i + 1
    } else if (rem === 3 && c0 === SLASH && c1 === DOT && c2 === DOT) { // "/.." -> "/", pop
      end = i + 1
      if (k > 0) k--
    } else if ((rem === 1 && c0 === DOT) || (rem === 2 && c0 === DOT && c1 === DOT)) {
      i = end
    } else if (c0 === DOT && c1 === DOT && c2 === SLASH) { // "../"
      i += 3
    } else if (c0 === DOT && c1 === SLASH) { // "./"
      i += 2
    } else if (c0 === SLASH && c1 === DOT && c2 === SLASH) { // "/./" -> "/"
      i += 2
    } else if (c0 === SLASH && c1 === DOT && c2 === DOT && c3 === SLASH) { // "/../" -> "/", pop
      i += 3
      if (k > 0) k--
    } else if (c0 === SLASH && c1 === SLASH) { // "//" -> "/"
      i += 1
    } else {
      let j = s.indexOf('/', i + 1)
      if (j < 0 || j > end) j = end
      if (2 * k + 2 > segs.length) {
        const grown = new Int32Array(segs.length * 2)
        grown.set(segs)
        segs = grown
      }
      segs[2 * k] = i
      segs[2 * k + 1] = j
      k++
      i = j
    }
  }
  let out = ''
  for (let x = 0; x < k; x++) out += s.slice(segs[2 * x]!, segs[2 * x + 1]!)
  return out
}

/**
 * `kong.tools.uri.normalize(path, true)`. Returns the input itself when nothing changes, and
 * null when the result is not valid UTF-8: Kong hands the normalised path to the ATC engine as a
 * Rust string, which refuses it, and answers 404 (08-router_spec "gracefully handles invalid
 * utf-8 sequences"). Invalid bytes removed by a `..` segment do not count, as in Kong.
 */
export function normalizePath (raw: string): string | null {
  const n = raw.length
  let pct = false
  let dot = false
  let dbl = false
  let unsafe = false
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i)
    if (c === PERCENT) pct = true
    else if (c === DOT) dot = true
    else if (c === SLASH && i + 1 < n && raw.charCodeAt(i + 1) === SLASH) dbl = true
    else if (c >= 128 || ESCAPE_SAFE[c] !== 1) unsafe = true
  }
  if (n <= 1) { normalized.escapeSafe = !unsafe; return raw }
  let s = raw
  let escaped = false
  if (pct) {
    s = decodeUnreserved(raw)
    if (s !== raw) {
      dot = s.includes('.')
      dbl = s.includes('//')
      escaped = hasEscapedByte(s)
      unsafe = !isEscapeSafe(s)
    }
  }
  // removing dot segments only removes characters: an escape-safe path stays safe
  if (dot || dbl) s = removeDotSegments(s)
  normalized.escapeSafe = !unsafe
  return escaped && hasEscapedByte(s) ? null : s
}

/**
 * Set by every `normalizePath` call: whether its result needs no escaping (`escapeUpstreamPath`
 * would return it unchanged), found during the scan that normalisation does anyway.
 */
export const normalized = { escapeSafe: true }

/** True when `escapeUpstreamPath(s)` would return `s` unchanged. */
export function isEscapeSafe (s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 128 || ESCAPE_SAFE[c] !== 1) return false
  }
  return true
}

function pushByte (out: string, b: number): string {
  return out + '%' + HEX[b >> 4]! + HEX[b & 15]!
}

/** Kong's `escape()`: percent-encode (per UTF-8 byte) everything outside its safe set. */
export function escapeUpstreamPath (p: string): string {
  const n = p.length
  let i = 0
  while (i < n) {
    const c = p.charCodeAt(i)
    if (c >= 128 || ESCAPE_SAFE[c] !== 1) break
    i++
  }
  if (i === n) return p
  let out = p.slice(0, i)
  while (i < n) {
    let cp = p.codePointAt(i)!
    if (cp < 128) {
      out = ESCAPE_SAFE[cp] === 1 ? out + p[i]! : pushByte(out, cp)
      i++
      continue
    }
    i += cp > 0xffff ? 2 : 1
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd // lone surrogate: what a UTF-8 encoder emits
    if (cp < 0x800) {
      out = pushByte(pushByte(out, 0xc0 | (cp >> 6)), 0x80 | (cp & 63))
    } else if (cp < 0x10000) {
      out = pushByte(pushByte(pushByte(out, 0xe0 | (cp >> 12)), 0x80 | ((cp >> 6) & 63)), 0x80 | (cp & 63))
    } else {
      out = pushByte(pushByte(pushByte(pushByte(out, 0xf0 | (cp >> 18)), 0x80 | ((cp >> 12) & 63)),
        0x80 | ((cp >> 6) & 63)), 0x80 | (cp & 63))
    }
  }
  return out
}
