/**
 * UTF-8 checks at the byte level. Admin input arrives as bytes (percent-decoded form values,
 * URL segments); anything that is not valid UTF-8 must be caught here, before PostgreSQL (which
 * rejects it with an error) sees it. Positions are 1-based byte offsets, as in
 * kong/tools/string.lua validate_utf8.
 */
import { InvalidUtf8 } from './types.ts'

/** 1-based position of the first invalid UTF-8 sequence, or 0 when the bytes are valid. */
export function invalidUtf8At (b: Uint8Array): number {
  let i = 0
  const n = b.length
  while (i < n) {
    const c = b[i]!
    if (c < 0x80) { i++; continue }
    let need: number
    let lo = 0x80
    let hi = 0xbf
    if (c >= 0xc2 && c <= 0xdf) need = 1
    else if (c === 0xe0) { need = 2; lo = 0xa0 } else if (c >= 0xe1 && c <= 0xec) need = 2
    else if (c === 0xed) { need = 2; hi = 0x9f } else if (c >= 0xee && c <= 0xef) need = 2
    else if (c === 0xf0) { need = 3; lo = 0x90 } else if (c >= 0xf1 && c <= 0xf3) need = 3
    else if (c === 0xf4) { need = 3; hi = 0x8f } else return i + 1
    if (i + need > n - 1) return i + 1
    const c1 = b[i + 1]!
    if (c1 < lo || c1 > hi) return i + 1
    for (let k = 2; k <= need; k++) {
      const ck = b[i + k]!
      if (ck < 0x80 || ck > 0xbf) return i + 1
    }
    i += need + 1
  }
  return 0
}

/** Bytes to a string, or an InvalidUtf8 marker that carries the error position. */
export function decodeUtf8 (b: Uint8Array): string | InvalidUtf8 {
  const bad = invalidUtf8At(b)
  const s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')
  return bad === 0 ? s : new InvalidUtf8(bad, s)
}

/**
 * For strings that came from JSON: the 1-based UTF-8 byte position of a lone surrogate
 * (`"\ud800"` decodes to one), or 0. Such a string has no UTF-8 form.
 */
export function loneSurrogateAt (s: string): number {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0
      if (d >= 0xdc00 && d <= 0xdfff) { bytes += 4; i++; continue }
      return bytes + 1
    }
    if (c >= 0xdc00 && c <= 0xdfff) return bytes + 1
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : 3
  }
  return 0
}

export function utf8Error (position: number): string {
  return `invalid utf-8 character sequence detected at position ${position}`
}
