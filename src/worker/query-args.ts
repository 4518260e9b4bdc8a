/**
 * Query strings the way nginx/Kong read and rewrite them: `ngx.req.get_uri_args` (`?a` is true,
 * `?a=` is "", repeats become arrays, `+` is a space, no `;` separator) for
 * `kong.request.get_query`, `search_remove` for `kong.service.request.clear_query_arg` (the other
 * arguments keep their order and encoding, `+` becomes `%20`), and Kong's `encode_args` (keys
 * sorted) for `kong.service.request.set_query`. Parsing happens only when a plugin asks.
 */
import type { QueryValue } from '../plugins/types.ts'

/** Kong's default max_args for get_query / get_post_args (`lua_max_uri_args`, `lua_max_post_args`). */
const MAX_ARGS = 100

export function unescapeArg (s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s
  const t = s.replace(/\+/g, ' ')
  try {
    return decodeURIComponent(t)
  } catch {
    // nginx leaves invalid escapes as they are; decode what can be decoded.
    return t.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
  }
}

/** `ngx.req.get_uri_args(max)`: the first `max` arguments (the rest are left out, as nginx truncates). */
export function parseQuery (raw: string | null, max = MAX_ARGS): Record<string, QueryValue> {
  const out: Record<string, QueryValue> = Object.create(null) as Record<string, QueryValue>
  if (raw === null || raw === '') return out
  let count = 0
  let start = 0
  while (start <= raw.length && count < max) {
    let end = raw.indexOf('&', start)
    if (end < 0) end = raw.length
    if (end > start) {
      const eq = raw.indexOf('=', start)
      let key: string
      let value: string | true
      if (eq < 0 || eq > end) {
        key = unescapeArg(raw.slice(start, end))
        value = true
      } else {
        key = unescapeArg(raw.slice(start, eq))
        value = unescapeArg(raw.slice(eq + 1, end))
      }
      if (key !== '') {
        count++
        const prev = out[key]
        if (prev === undefined) out[key] = value
        else if (Array.isArray(prev)) prev.push(value)
        else out[key] = [prev, value]
      }
    }
    start = end + 1
  }
  return out
}

/** Looks one argument up without building the whole table (key-auth's common miss). */
export function findQueryArg (raw: string | null, name: string): QueryValue | undefined {
  if (raw === null || raw === '') return undefined
  // Fast reject: the (unescaped) name cannot be present if neither it nor any escape occurs.
  if (raw.indexOf(name) < 0 && raw.indexOf('%') < 0 && raw.indexOf('+') < 0) return undefined
  return parseQuery(raw)[name]
}

/** `search_remove(args, name)` then `+` -> `%20`. */
export function removeQueryArg (raw: string, name: string): string {
  const parts = raw.split('&')
  const kept: string[] = []
  for (const p of parts) {
    const eq = p.indexOf('=')
    const key = unescapeArg(eq < 0 ? p : p.slice(0, eq))
    if (key === name) continue
    kept.push(p)
  }
  const out = kept.join('&')
  return out.indexOf('+') >= 0 ? out.replace(/\+/g, '%20') : out
}

function escapeArg (s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** Kong's `encode_args`: keys sorted, `true` as a bare key, arrays repeated, `false` dropped. */
export function encodeQuery (args: Readonly<Record<string, QueryValue | false | number>>): string {
  const keys = Object.keys(args).sort()
  const out: string[] = []
  for (const k of keys) {
    const v = args[k]
    const ek = escapeArg(k)
    const values = Array.isArray(v) ? v : [v]
    for (const x of values) {
      if (x === undefined || x === false) continue
      if (x === true) out.push(ek)
      else out.push(`${ek}=${escapeArg(String(x))}`)
    }
  }
  return out.join('&')
}
