/**
 * URL path checks: typedefs.path's RFC 3986 and percent-encoding rules, Kong's path
 * normalisation (kong/tools/uri.lua normalize, with merged slashes) and route paths, where a
 * prefix path must already be normalised and a `~` path must be a regex that compiles
 * (typedefs.lua validate_path_with_regexes).
 */
import { translatePcre } from '../pcre.ts'

// RFC 3986 unreserved, sub-delims, ':' '@' '/' and '%' (typedefs.lua validate_path).
const RFC3986_PATH = /^\/[A-Za-z0-9._~\-/%:@!$&'()*+,;=]*$/

type PathCheck = { err: string; code: 'rfc3986' | 'percent' } | null

function checkPath (path: string): PathCheck {
  if (!RFC3986_PATH.test(path)) {
    return { err: `invalid path: '${path}' (characters outside of the reserved list of RFC 3986 found)`, code: 'rfc3986' }
  }
  const raw = path.replace(/%[0-9A-Fa-f]{2}/g, '___')
  const at = raw.indexOf('%')
  if (at >= 0) return { err: `invalid url-encoded value: '${raw.slice(at, at + 3)}'`, code: 'percent' }
  return null
}

/** typedefs.path custom validator. */
export function validatePath (path: string): string | undefined {
  return checkPath(path)?.err
}

// reserved characters stay percent-encoded; everything else is decoded (uri.lua)
const RESERVED = new Set(Array.from("!*'();:@&=+$,/?%#[]").map((c) => c.charCodeAt(0)))
const DOT = 0x2e
const SLASH = 0x2f

/**
 * kong/tools/uri.lua normalize(uri, merge_slashes = true), on bytes: decodes %XX of
 * non-reserved bytes, upper-cases reserved escapes, removes dot segments, merges slashes.
 */
export function normalizePath (uri: Buffer): Buffer {
  if (uri.length === 0 || (uri.length === 1 && uri[0] === SLASH)) return uri
  let b = uri
  if (b.includes(0x25)) {
    const out: number[] = []
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!
      if (c === 0x25 && isHex(b[i + 1]) && isHex(b[i + 2])) {
        const v = parseInt(String.fromCharCode(b[i + 1]!, b[i + 2]!), 16)
        if (RESERVED.has(v)) out.push(0x25, upper(b[i + 1]!), upper(b[i + 2]!))
        else out.push(v)
        i += 2
      } else out.push(c)
    }
    b = Buffer.from(out)
  }
  if (!b.includes(DOT) && !b.includes('//')) return b
  const output: Buffer[] = []
  let s = b
  while (s.length > 0) {
    const [c1, c2, c3, c4] = [s[0], s[1], s[2], s[3]]
    if (s.length === 2 && c1 === SLASH && c2 === DOT) s = Buffer.from('/')
    else if (s.length === 3 && c1 === SLASH && c2 === DOT && c3 === DOT) { s = Buffer.from('/'); output.pop() } else if ((s.length === 1 && c1 === DOT) || (s.length === 2 && c1 === DOT && c2 === DOT)) s = Buffer.alloc(0)
    else if (c1 === DOT && c2 === DOT && c3 === SLASH) s = s.subarray(3)
    else if (c1 === DOT && c2 === SLASH) s = s.subarray(2)
    else if (c1 === SLASH && c2 === DOT && c3 === SLASH) s = s.subarray(2)
    else if (c1 === SLASH && c2 === DOT && c3 === DOT && c4 === SLASH) { s = s.subarray(3); output.pop() } else if (c1 === SLASH && c2 === SLASH) s = s.subarray(1)
    else {
      const i = s.indexOf(SLASH, 1)
      if (i >= 0) { output.push(s.subarray(0, i)); s = s.subarray(i) } else { output.push(s); s = Buffer.alloc(0) }
    }
  }
  return Buffer.concat(output)
}

function isHex (c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))
}

function upper (c: number): number {
  return c >= 0x61 && c <= 0x7a ? c - 32 : c
}

/** typedefs.router_path custom validator: normalised prefix paths, compilable regex paths. */
export function validateRouterPath (path: string): string | undefined {
  const check = checkPath(path)
  if (check?.code === 'percent') return check.err
  if (!path.startsWith('~')) {
    const raw = Buffer.from(path, 'utf8')
    const normalized = normalizePath(raw)
    if (!raw.equals(normalized)) return `non-normalized path, consider use '${normalized.toString('utf8')}' instead`
    return undefined
  }
  const re = path.slice(1)
  const t = translatePcre(re)
  if (!t.ok) return `invalid regex: '${re}' (PCRE returned: ${t.error})`
  return undefined
}
