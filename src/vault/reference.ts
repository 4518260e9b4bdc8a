/**
 * `{vault://<name-or-prefix>/<resource>[/<key>][?<config>][#<version>]}` references
 * (kong/pdk/vault.lua `is_reference`, `parse_reference`). The URL is split as LuaSocket splits
 * it, the path into its non-empty segments: one segment is the resource; more segments end in the
 * key unless the path ends with `/`, in which case they all are the resource. Segments are
 * percent-decoded (twice, as Kong's LuaSocket and nginx calls both unescape).
 */
import { parseUrl } from '../db/schema/url.ts'

export interface ParsedReference {
  /** A vault name (`env`) or the prefix of a `vaults` entity. */
  readonly name: string
  readonly resource: string
  readonly key?: string
  /** Query arguments: per-reference overrides of the vault's configuration. */
  readonly config?: Readonly<Record<string, string | true | Array<string | true>>>
  readonly version?: number
}

/** Looks like a reference: starts with `{vault://` and ends with `}`. */
export function isReference (v: unknown): v is string {
  return typeof v === 'string' && v.startsWith('{vault://') && v.endsWith('}')
}

const HEX = /^[0-9A-Fa-f]{2}$/

/** `%XX` sequences to bytes, read as UTF-8; anything else is kept as is. */
export function unescape (s: string, plusIsSpace = false): string {
  if (!s.includes('%') && !(plusIsSpace && s.includes('+'))) return s
  const bytes: number[] = []
  const src = Buffer.from(s, 'utf8')
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!
    if (b === 0x25 && i + 2 < src.length && HEX.test(String.fromCharCode(src[i + 1]!, src[i + 2]!))) {
      bytes.push(parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16))
      i += 2
    } else if (plusIsSpace && b === 0x2b) bytes.push(0x20)
    else bytes.push(b)
  }
  return Buffer.from(bytes).toString('utf8')
}

/** ngx.decode_args: `a=1&b&a=2` -> `{ a: ['1', '2'], b: true }`. */
function decodeArgs (query: string): Record<string, string | true | Array<string | true>> {
  const out: Record<string, string | true | Array<string | true>> = Object.create(null)
  for (const part of query.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const k = unescape(eq < 0 ? part : part.slice(0, eq), true)
    if (k === '') continue
    const v: string | true = eq < 0 ? true : unescape(part.slice(eq + 1), true)
    const prev = out[k]
    if (prev === undefined) out[k] = v
    else if (Array.isArray(prev)) prev.push(v)
    else out[k] = [prev, v]
  }
  return Object.fromEntries(Object.entries(out)) // a plain object; `__proto__` stays an own key
}

export type ParseResult = { ok: true; value: ParsedReference } | { ok: false; error: string }

export function parseReference (reference: unknown): ParseResult {
  if (!isReference(reference)) return { ok: false, error: `not a reference [${String(reference)}]` }
  const url = parseUrl(reference.slice(1, -1))
  if (url === null) return { ok: false, error: `reference is not url (invalid url) [${reference}]` }
  const name = url.host
  if (name === undefined) return { ok: false, error: `reference url is missing host [${reference}]` }
  if (url.path === undefined) return { ok: false, error: `reference url is missing path [${reference}]` }
  const path = url.path.slice(1)
  if (path === '') return { ok: false, error: `reference url has empty path [${reference}]` }
  let version: number | undefined
  if (url.fragment !== undefined) {
    // tonumber(fragment, 10): digits only (an optional sign), else the version is invalid
    if (!/^\s*[-+]?\d+\s*$/.test(url.fragment)) return { ok: false, error: `reference url has invalid version [${reference}]` }
    version = Number(url.fragment)
  }
  const parts = path.split('/').filter((p) => p !== '').map((p) => unescape(p))
  if (parts.length === 0) return { ok: false, error: `reference url has invalid path [${reference}]` }
  let resource: string
  let key: string | undefined
  if (parts.length === 1) resource = unescape(parts[0]!)
  else if (path.endsWith('/')) resource = unescape(parts.join('/'))
  else {
    resource = unescape(parts.slice(0, -1).join('/'))
    key = unescape(parts[parts.length - 1]!)
  }
  const value: { -readonly [K in keyof ParsedReference]: ParsedReference[K] } = { name, resource }
  if (key !== undefined) value.key = key
  if (url.query !== undefined && url.query !== '') value.config = decodeArgs(url.query)
  if (version !== undefined) value.version = version
  return { ok: true, value }
}
