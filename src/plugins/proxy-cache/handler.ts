/**
 * proxy-cache (kong/plugins/proxy-cache/handler.lua, PRIORITY 100), memory strategy: responses
 * cached per worker (store.ts) and served without contacting the upstream.
 *
 * access:
 * - not a cacheable request (method not in `request_method`; with `cache_control`: request
 *   `no-store` / `no-cache`, or an Authorization header) -> `X-Cache-Status: Bypass`, proxied;
 * - key (cache-key.ts) -> `X-Cache-Key`;
 * - not in the store: with `cache_control` and request `only-if-cached` -> 504; else proxied and
 *   marked `Miss` (the request body is kept for the entry, as Kong keeps req_body);
 * - stale (age > cache_ttl; with `cache_control`: request max-age / max-stale / min-fresh not
 *   met) -> proxied and marked `Refresh`;
 * - else `Hit`: the stored status, headers (minus hop-by-hop and *ratelimit-remaining* ones) and
 *   body, with `Age`, `X-Cache-Status: Hit`, `X-Cache-Key`, through kong.response.exit, marked
 *   as proxied (Via, X-Kong-Upstream-Latency and X-Kong-Proxy-Latency, as Kong's KONG_PROXIED).
 * header filter (Miss / Refresh only): the response is cacheable when its status is in
 *   `response_code`, its single Content-Type matches `content_type` (mime_type rules), and, with
 *   `cache_control`, it is not private / no-store / no-cache and has a positive TTL (s-maxage,
 *   max-age or Expires); else `X-Cache-Status: Bypass`. The headers are kept for the entry.
 * body filter: the body is collected as it streams out (never held back) and stored at its end
 *   for `storage_ttl`, else the resource TTL with `cache_control`, else `cache_ttl`. Bodies larger
 *   than the store's per-entry bound are not cached. HEAD, 204 and 304 store an empty body from the
 *   header filter (they have no body phase here).
 *
 * `response_headers` switches Age / X-Cache-Status / X-Cache-Key off; a `Kong-Debug` request
 * header switches them back on. Everything from the config is decided in prepare.
 */
import type { PluginContext, PluginHandler } from '../types.ts'
import { buildCacheKey, headersKey, paramsKey, prefixOf, requestUri, type VaryHeader } from './cache-key.ts'
import { mimeMatches, numeric, parseDirectives, parseMime, resourceTtl, type Directives, type Mime } from './cache-control.ts'
import { cacheStore, type CachedResponse } from './store.ts'

export interface ProxyCacheConfig {
  response_code?: number[]
  request_method?: string[]
  content_type?: string[]
  cache_ttl?: number
  strategy?: string
  cache_control?: boolean
  ignore_uri_case?: boolean | null
  storage_ttl?: number | null
  memory?: { dictionary_name?: string } | null
  vary_query_params?: string[] | null
  vary_headers?: string[] | null
  response_headers?: { age?: boolean; 'X-Cache-Status'?: boolean; 'X-Cache-Key'?: boolean } | null
}

/** A request marked Miss / Refresh, between access and the end of its response (kong.ctx.plugin). */
interface Pending {
  readonly key: string
  reqBody: string | null
  /** Set by the header filter once the response is known to be cacheable. */
  headers: string[] | null
  ttl: number
  chunks: Buffer[]
  bytes: number
  /** The response's Content-Length: the body is complete at that many bytes. -1: unknown. */
  expect: number
}

interface Prepared {
  readonly methods: ReadonlySet<string>
  readonly codes: ReadonlySet<number>
  readonly types: readonly Mime[]
  readonly cacheTtl: number
  readonly cacheControl: boolean
  readonly ignoreUriCase: boolean
  readonly storageTtl: number | null
  readonly dict: string
  readonly varyQuery: readonly string[] | null
  readonly varyHeaders: readonly VaryHeader[] | null
  readonly hdrAge: boolean
  readonly hdrStatus: boolean
  readonly hdrKey: boolean
  readonly pending: WeakMap<PluginContext, Pending>
}

const CACHE_VERSION = 1
const EMPTY = Buffer.alloc(0)
/** Never replayed from the cache (handler.lua hop_by_hop_headers, plus what Kong resets). */
const NOT_REPLAYED = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailers',
  'transfer-encoding', 'upgrade', 'content-length', 'age', 'x-cache-status', 'x-cache-key',
])

function nowSec (): number {
  return Math.floor(Date.now() / 1000)
}

function prepare (c: ProxyCacheConfig): Prepared {
  const rh = c.response_headers ?? {}
  const types: Mime[] = []
  for (const t of c.content_type ?? ['text/plain', 'application/json']) {
    const m = parseMime(t)
    if (m !== null) types.push(m) // an invalid entry matches nothing (Kong skips it too)
  }
  return {
    methods: new Set(c.request_method ?? ['GET', 'HEAD']),
    codes: new Set(c.response_code ?? [200, 301, 404]),
    types,
    cacheTtl: c.cache_ttl ?? 300,
    cacheControl: c.cache_control === true,
    ignoreUriCase: c.ignore_uri_case === true,
    storageTtl: typeof c.storage_ttl === 'number' ? c.storage_ttl : null,
    dict: c.memory?.dictionary_name ?? 'kong_db_cache',
    varyQuery: c.vary_query_params != null && c.vary_query_params.length > 0 ? [...c.vary_query_params] : null,
    varyHeaders: c.vary_headers != null && c.vary_headers.length > 0
      ? c.vary_headers.map((name) => ({ name, lower: name.toLowerCase() }))
      : null,
    hdrAge: rh.age !== false,
    hdrStatus: rh['X-Cache-Status'] !== false,
    hdrKey: rh['X-Cache-Key'] !== false,
    pending: new WeakMap(),
  }
}

function debug (ctx: PluginContext): boolean {
  return ctx.getHeader('kong-debug') !== undefined
}

function setStatus (ctx: PluginContext, c: Prepared, status: string): void {
  if (c.hdrStatus || debug(ctx)) ctx.setResponseHeader('X-Cache-Status', status)
}

function hasBody (ctx: PluginContext): boolean {
  const cl = ctx.getHeader('content-length')
  return (cl !== undefined && cl !== '0') || ctx.getHeader('transfer-encoding') !== undefined
}

/** Marks the request for storing (Kong's signal_cache_req). */
function signal (ctx: PluginContext, c: Prepared, key: string, status: string, readBody: boolean): void | Promise<void> {
  const p: Pending = { key, reqBody: '', headers: null, ttl: 0, chunks: [], bytes: 0, expect: -1 }
  c.pending.set(ctx, p)
  setStatus(ctx, c, status)
  if (!readBody) { p.reqBody = null; return }
  if (!hasBody(ctx)) return
  const raw = ctx.readBody()
  if (raw instanceof Promise) return raw.then((b) => { p.reqBody = b === null ? null : b.toString('utf8') })
  p.reqBody = raw === null ? null : raw.toString('utf8')
}

/** Serves a Hit: the stored response through kong.response.exit. */
function serve (ctx: PluginContext, c: Prepared, key: string, res: CachedResponse, now: number): void {
  const h = res.headers
  let seen: Set<string> | null = null
  for (let i = 0; i + 1 < h.length; i += 2) {
    const name = h[i]!
    if (NOT_REPLAYED.has(name) || name.includes('ratelimit-remaining')) continue
    // The first value replaces what access staged under that name; repeats are added.
    if (seen !== null && seen.has(name)) {
      ctx.addResponseHeader(name, h[i + 1]!)
    } else {
      ctx.setResponseHeader(name, h[i + 1]!)
      ;(seen ??= new Set()).add(name)
    }
  }
  const dbg = debug(ctx)
  if (c.hdrAge || dbg) ctx.setResponseHeader('age', String(Math.floor(now - res.timestamp)))
  if (c.hdrStatus || dbg) ctx.setResponseHeader('X-Cache-Status', 'Hit')
  if (c.hdrKey || dbg) ctx.setResponseHeader('X-Cache-Key', key)
  // Kong marks a Hit as proxied (KONG_PROXIED): Via and the upstream/proxy latencies, not X-Kong-Response-Latency.
  ctx.markProxied?.()
  ctx.exit(res.status, res.body)
}

function access (ctx: PluginContext, c: Prepared): void | Promise<void> {
  const cc: Directives | null = c.cacheControl ? parseDirectives(ctx.getHeaderAll('cache-control')) : null
  if (!c.methods.has(ctx.method) ||
      (c.cacheControl && (cc?.['no-store'] !== undefined || cc?.['no-cache'] !== undefined || ctx.getHeader('authorization') !== undefined))) {
    setStatus(ctx, c, 'Bypass')
    return
  }

  const routeId = (ctx.routeRow?.id as string | undefined) ?? null
  const key = buildCacheKey(
    prefixOf(ctx.consumer?.id ?? null, routeId),
    ctx.method,
    requestUri(ctx.method, ctx.path, ctx.query, c.ignoreUriCase),
    paramsKey(ctx.getQueryArgs(), c.varyQuery),
    headersKey(ctx, c.varyHeaders),
  )
  if (c.hdrKey || debug(ctx)) ctx.setResponseHeader('X-Cache-Key', key)

  const res = cacheStore().get(c.dict, key, Date.now())
  if (res === undefined) {
    if (cc?.['only-if-cached'] !== undefined) return ctx.exit(504)
    return signal(ctx, c, key, 'Miss', true)
  }
  if (res.version !== CACHE_VERSION) {
    cacheStore().delete(c.dict, key)
    return signal(ctx, c, key, 'Bypass', false)
  }

  const now = nowSec()
  const age = now - res.timestamp
  if (c.cacheControl) {
    const maxAge = numeric(cc, 'max-age')
    const maxStale = numeric(cc, 'max-stale')
    const minFresh = numeric(cc, 'min-fresh')
    if ((maxAge !== null && age > maxAge) ||
        (maxStale !== null && age - res.ttl > maxStale) ||
        (minFresh !== null && res.ttl - age < minFresh)) {
      return signal(ctx, c, key, 'Refresh', false)
    }
  } else if (age > c.cacheTtl) {
    // Stored for up to storage_ttl, but never served staler than cache_ttl.
    return signal(ctx, c, key, 'Refresh', false)
  }
  serve(ctx, c, key, res, now)
}

function cacheable (ctx: PluginContext, c: Prepared, cc: Directives | null): boolean {
  if (!c.codes.has(ctx.status)) return false
  const ct = ctx.getResponseHeader('content-type')
  if (ct === undefined || ct === '') return false
  const mime = parseMime(ct)
  if (mime === null) return false
  let match = false
  for (const t of c.types) if (mimeMatches(mime, t)) { match = true; break }
  if (!match) return false
  if (c.cacheControl) {
    if (cc?.private !== undefined || cc?.['no-store'] !== undefined || cc?.['no-cache'] !== undefined) return false
    if (resourceTtl(cc, ctx.getResponseHeader('expires'), nowSec()) <= 0) return false
  }
  return true
}

function store (ctx: PluginContext, c: Prepared, p: Pending, body: Buffer): void {
  c.pending.delete(ctx)
  const res: CachedResponse = {
    status: ctx.status,
    headers: p.headers!,
    body,
    timestamp: nowSec(),
    ttl: p.ttl,
    version: CACHE_VERSION,
    reqBody: p.reqBody,
  }
  cacheStore().set(c.dict, p.key, res, c.storageTtl ?? (c.cacheControl ? p.ttl : c.cacheTtl), Date.now())
}

function headerFilter (ctx: PluginContext, c: Prepared): void {
  const p = c.pending.get(ctx)
  if (p === undefined) return
  const cc = c.cacheControl ? parseDirectives(ctx.getResponseHeader('cache-control')) : null
  if (!cacheable(ctx, c, cc)) {
    setStatus(ctx, c, 'Bypass')
    c.pending.delete(ctx)
    return
  }
  p.headers = ctx.getResponseHeaders().slice()
  p.ttl = c.cacheControl ? resourceTtl(cc, ctx.getResponseHeader('expires'), nowSec()) : c.cacheTtl
  const s = ctx.status
  if (ctx.method === 'HEAD' || s === 204 || s === 304) {
    store(ctx, c, p, EMPTY)
    return
  }
  const cl = ctx.getResponseHeader('content-length')
  if (cl !== undefined && /^\d{1,15}$/.test(cl)) {
    p.expect = Number(cl)
    if (p.expect === 0) store(ctx, c, p, EMPTY)
  }
}

function bodyFilter (ctx: PluginContext, c: Prepared, chunk: Buffer, last: boolean): Buffer {
  const p = c.pending.get(ctx)
  if (p === undefined || p.headers === null) return chunk
  if (chunk.length > 0) {
    p.bytes += chunk.length
    if (p.bytes > cacheStore().maxEntryBytes) {
      c.pending.delete(ctx)
      return chunk
    }
    p.chunks.push(chunk)
  }
  // The end: the runtime passes last=true with the final chunk (a length-framed body's too).
  if (last) store(ctx, c, p, p.chunks.length === 1 ? p.chunks[0]! : Buffer.concat(p.chunks, p.bytes))
  return chunk
}

export const handler: PluginHandler<ProxyCacheConfig, Prepared> = {
  name: 'proxy-cache',
  priority: 100,
  prepare,
  access,
  headerFilter,
  bodyFilter,
}
