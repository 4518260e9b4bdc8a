/**
 * List query arguments (kong/api/endpoints.lua extract_options and get_page_size, the checks of
 * kong/db/dao/init.lua page): `size`, `offset`, and the `tags` filter (`a,b` all of, `a/b` any
 * of, at most 5), with Kong's error order and texts, and the `next` link, whose parameters
 * come in Kong's order: offset, tags, size.
 */
import { invalidOffset, invalidOptions, invalidSize } from '../db/schema/db-errors.ts'
import { InvalidUtf8 } from '../db/schema/types.ts'
import { luaToNumber } from '../db/schema/url.ts'
import type { PageOptions } from '../db/dao/index.ts'

// printable ASCII except ',' and '/', plus space and any non-ASCII character
const TAG_CHAR = /^[\x20-\x2b\x2d\x2e\x30-\x7e\u0080-\u{10ffff}]+$/u

export interface ListArgs {
  options: PageOptions
  /** `&tags=...&size=...` for the `next` link of top-level collections. */
  nextSuffix: string
}

/** ngx.escape_uri: everything but A-Z a-z 0-9 - . _ ~ is %XX-encoded (upper-case hex). */
export function escapeUri (s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
}

function first (v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v
}

/** Splits `a,b` (and) or `a/b` (or); null when the filter mixes both or has bad characters. */
function splitTags (s: string): { tags: string[]; cond: 'and' | 'or' } | null {
  for (const [sep, cond] of [[',', 'and'], ['/', 'or']] as const) {
    const parts = s.split(sep)
    if (parts[parts.length - 1] === '' && parts.length > 1) parts.pop()
    if (parts.every((p) => p !== '' && TAG_CHAR.test(p))) return { tags: parts, cond }
  }
  return null
}

/**
 * `query` is the decoded, inferred query (tags already a list or null). Throws Kong's
 * invalid options / size / offset errors.
 */
export function listArgs (query: Record<string, unknown>, hasTags: boolean): ListArgs {
  const options: PageOptions = {}
  let nextSuffix = ''
  const rawTags = Object.hasOwn(query, 'tags') ? query.tags : undefined
  if (hasTags && rawTags !== undefined) {
    if (rawTags === null || (Array.isArray(rawTags) && rawTags.length === 0)) throw invalidOptions({ tags: 'cannot be null' })
    const t = first(rawTags)
    const parsed = typeof t === 'string' ? splitTags(t) : null
    if (parsed === null) throw invalidOptions({ tags: 'invalid filter syntax' })
    if (typeof t === 'string') nextSuffix += `&tags=${escapeUri(t)}`
    options.tags = parsed.tags
    options.tagsCond = parsed.cond
  }
  if (Object.hasOwn(query, 'size') && query.size !== undefined) {
    const raw = query.size
    const n = typeof raw === 'string' ? luaToNumber(raw) : null
    if (n === null || typeof raw !== 'string') throw invalidSize('size must be a number')
    nextSuffix += `&size=${raw}`
    options.size = n
  }
  if (options.tags !== undefined && options.tags.length > 5) {
    // size is checked first by the DAO (kong/db/dao/init.lua page)
    if (options.size !== undefined && (!Number.isInteger(options.size) || options.size < 1 || options.size > 1000)) {
      throw invalidSize('size must be an integer between 1 and 1000')
    }
    throw invalidOptions({ tags: 'cannot query more than 5 tags' })
  }
  if (Object.hasOwn(query, 'offset') && query.offset !== undefined) {
    const o = query.offset
    if (typeof o !== 'string') {
      const shown = o instanceof InvalidUtf8 ? o.lossy : String(first(o))
      throw invalidOffset(shown, 'bad base64 encoding')
    }
    options.offset = o
  }
  return { options, nextSuffix }
}
