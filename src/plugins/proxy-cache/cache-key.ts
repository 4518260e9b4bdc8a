/**
 * proxy-cache's key (kong/plugins/proxy-cache/cache_key.lua build_cache_key, and the handler's
 * choice of inputs): the lowercase hex SHA-256 of
 *
 *   prefix | method | uri | params | headers
 *
 * - prefix: `<consumer id>:<route id>` when both are known, `<route id>` without a consumer,
 *   `default` without a route;
 * - uri: nginx `$request` (the request line) with everything from the first `?` removed, so
 *   `GET /p HTTP/1.1` without a query and `GET /p` with one (Kong's regex does exactly that);
 *   lowercased with `ignore_uri_case`;
 * - params: `name=value` for each query argument named in `vary_query_params` (every argument,
 *   names sorted, when the list is empty), repeated arguments as sorted values joined with `,`,
 *   a flag argument (`?a`) as its bare name, all joined with `:`;
 * - headers: the same over `vary_headers` (none when the list is empty).
 */
import { createHash } from 'node:crypto'
import type { PluginContext, QueryValue } from '../types.ts'

export interface VaryHeader {
  /** As configured: the name written into the key. */
  readonly name: string
  /** Lowercase: the lookup. */
  readonly lower: string
}

function part (field: string, arg: QueryValue | string | string[]): string {
  if (Array.isArray(arg)) {
    const values = arg.map((v) => (v === true ? 'true' : v)).sort()
    return `${field}=${values.join(',')}`
  }
  return arg === true ? field : `${field}=${arg}`
}

export function paramsKey (args: Readonly<Record<string, QueryValue>>, vary: readonly string[] | null): string {
  const fields = vary ?? Object.keys(args).sort()
  let out = ''
  for (const f of fields) {
    const a = args[f]
    if (a === undefined) continue
    out = out === '' ? part(f, a) : `${out}:${part(f, a)}`
  }
  return out
}

export function headersKey (ctx: PluginContext, vary: readonly VaryHeader[] | null): string {
  if (vary === null) return ''
  let out = ''
  for (const h of vary) {
    const v = ctx.getHeaderAll(h.lower)
    if (v === undefined) continue
    out = out === '' ? part(h.name, v) : `${out}:${part(h.name, v)}`
  }
  return out
}

export function prefixOf (consumerId: string | null, routeId: string | null): string {
  if (consumerId !== null && routeId !== null) return `${consumerId}:${routeId}`
  return routeId ?? 'default'
}

/** `$request` without its query: see the module comment. */
export function requestUri (method: string, path: string, query: string | null, ignoreCase: boolean): string {
  const uri = query === null ? `${method} ${path} HTTP/1.1` : `${method} ${path}`
  return ignoreCase ? uri.toLowerCase() : uri
}

export function buildCacheKey (prefix: string, method: string, uri: string, params: string, headers: string): string {
  return createHash('sha256').update(`${prefix}|${method}|${uri}|${params}|${headers}`).digest('hex')
}
