/**
 * The HTTP reading proxy-cache needs, as Kong does it:
 * - `parseDirectives`: kong/tools/http.lua parse_directive_header (Cache-Control): comma-split,
 *   `name[=value]`, names lowercased, numeric values as numbers, bare names `true`;
 * - `resourceTtl`: calculate_resource_ttl: s-maxage, else max-age, else Expires - now; never < 0;
 * - `parseMime` / `mimeMatches`: kong/tools/mime_type.lua parse_mime_type (RFC 2045 tokens,
 *   lowercase type/subtype and parameter names, nil for anything malformed) and the handler's
 *   match: `*` wildcards for type and subtype, the same parameters with equal values.
 */

export type Directives = Record<string, number | string | true>

const DIRECTIVE = /^\s*([^=]+)(?:=(.+))?/

/** Lua tonumber() of a directive value: decimal or hex, surrounding spaces allowed. */
function luaNumber (s: string): number | null {
  const t = s.trim()
  if (t === '' || !/^[+-]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/.test(t)) return null
  return Number(t)
}

export function parseDirectives (h: string | string[] | undefined): Directives | null {
  if (h === undefined) return null
  const text = typeof h === 'string' ? h : h.join(', ')
  const out: Directives = {}
  for (const part of text.split(',')) {
    if (part === '') continue
    const m = DIRECTIVE.exec(part)
    if (m === null) continue
    const v = m[2]
    out[m[1]!.toLowerCase()] = v === undefined ? true : (luaNumber(v) ?? v)
  }
  return out
}

/** A directive's numeric value (Kong compares numbers; other values do not take part). */
export function numeric (cc: Directives | null, name: string): number | null {
  const v = cc?.[name]
  return typeof v === 'number' ? v : null
}

/** Seconds a response may be cached (kong/tools/http.lua calculate_resource_ttl). */
export function resourceTtl (cc: Directives | null, expires: string | undefined, nowSec: number): number {
  const s = cc?.['s-maxage'] ?? cc?.['max-age']
  let maxAge: number | null = null
  if (s !== undefined) {
    maxAge = typeof s === 'number' ? s : 0
  } else if (expires !== undefined) {
    const t = Date.parse(expires)
    if (!Number.isNaN(t)) maxAge = Math.floor(t / 1000) - nowSec
  }
  return maxAge === null ? 0 : Math.max(maxAge, 0)
}

export interface Mime {
  readonly type: string
  readonly subtype: string
  readonly params: Readonly<Record<string, string>>
  readonly paramCount: number
}

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
const QUOTED = '"((?:[^"\\\\\\x00-\\x1f\\x7f]|\\\\[\\x00-\\x7f])*)"'
const MEDIA = new RegExp(`^(?:(${TOKEN})/(${TOKEN})|(\\*))((?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*)$`)
const PARAM = new RegExp(`[ \\t]*;[ \\t]*(${TOKEN})=(?:(${TOKEN})|${QUOTED})`, 'g')

export function parseMime (s: string): Mime | null {
  const m = MEDIA.exec(s)
  if (m === null) return null
  const params: Record<string, string> = {}
  let paramCount = 0
  const rest = m[4] ?? ''
  if (rest !== '') {
    PARAM.lastIndex = 0
    let p: RegExpExecArray | null
    while ((p = PARAM.exec(rest)) !== null) {
      const k = p[1]!.toLowerCase()
      if (params[k] === undefined) paramCount++
      params[k] = p[2] ?? (p[3] ?? '').replace(/\\(.)/g, '$1')
    }
  }
  if (m[3] === '*') return { type: '*', subtype: '*', params, paramCount }
  return { type: m[1]!.toLowerCase(), subtype: m[2]!.toLowerCase(), params, paramCount }
}

/** The handler's content-type test: wildcards, equal parameters, same parameter count. */
export function mimeMatches (actual: Mime, expected: Mime): boolean {
  if (expected.type !== '*' && actual.type !== expected.type) return false
  if (expected.subtype !== '*' && actual.subtype !== expected.subtype) return false
  if (actual.paramCount !== expected.paramCount) return false
  for (const k in expected.params) {
    if (actual.params[k] !== expected.params[k]) return false
  }
  return true
}
