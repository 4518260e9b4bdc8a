/**
 * Admin API route table and matching, Lapis-style: `/services/{services}` templates, literal
 * segments preferred over parameters, one trailing slash tolerated (api_helpers.lua
 * default_route). Parameters stay raw (percent-encoded) for `next` links; handlers decode them.
 */
import type { Body } from './body.ts'
import type { SchemaLike } from '../db/schema/types.ts'
import type { Reply } from './respond.ts'

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface Call {
  method: Method
  /** Raw path parameters by name (`services`, `routes`, `name`, ...). */
  params: Record<string, string>
  /** Decoded query arguments, inferred with the route's schema. */
  query: Record<string, unknown>
  /** The write body: JSON as sent, or decoded and inferred form arguments. */
  body: Record<string, unknown>
  bodyKind: Body['kind']
  /** Query arguments decoded without inference (`/schemas/{entity}/validate`). */
  rawQuery: Record<string, unknown>
  // ---- declarative (routes/config.ts): the undecoded JSON or YAML body of a `rawBody` route
  raw?: { bytes: Buffer; json: boolean }
}

export type Handler = (call: Call) => Promise<Reply>

export interface Route {
  readonly template: string
  readonly segments: readonly string[]
  /** The schema body arguments are inferred with (none: no inference). */
  readonly schema?: SchemaLike
  readonly handlers: Partial<Record<Method, Handler>>
  // ---- declarative: JSON and YAML bodies reach the handler undecoded in `call.raw` (/config)
  readonly rawBody?: boolean
}

export function route (template: string, handlers: Partial<Record<Method, Handler>>, schema?: SchemaLike): Route {
  const segments = template === '/' ? [] : template.slice(1).split('/')
  return schema !== undefined ? { template, segments, handlers, schema } : { template, segments, handlers }
}

/** Percent-decoding of a path segment into bytes (ngx.unescape_uri: bad escapes stay literal). */
export function decodeSegmentBytes (seg: string): Buffer {
  const src = Buffer.from(seg, 'latin1')
  const out = Buffer.allocUnsafe(src.length)
  let n = 0
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!
    const hi = i + 2 < src.length ? hexVal(src[i + 1]!) : -1
    const lo = hi >= 0 ? hexVal(src[i + 2]!) : -1
    if (c === 37 && lo >= 0) { out[n++] = hi * 16 + lo; i += 2 } else out[n++] = c
  }
  return out.subarray(0, n)
}

function hexVal (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 65 && c <= 70) return c - 55
  if (c >= 97 && c <= 102) return c - 87
  return -1
}

export interface Match { route: Route; params: Record<string, string> }

function matchSegments (routes: readonly Route[], segs: readonly string[]): Match | null {
  let best: Match | null = null
  let bestLiterals = -1
  for (const r of routes) {
    if (r.segments.length !== segs.length) continue
    const params: Record<string, string> = {}
    let literals = 0
    let ok = true
    for (let i = 0; i < segs.length; i++) {
      const t = r.segments[i]!
      const s = segs[i]!
      if (s === '') { ok = false; break }
      if (t.startsWith('{')) params[t.slice(1, -1)] = s
      else if (t === s || t === decodeSegmentBytes(s).toString('latin1')) literals++
      else { ok = false; break }
    }
    if (ok && literals > bestLiterals) { best = { route: r, params }; bestLiterals = literals }
  }
  return best
}

/** Matches a raw path (`/services/foo/routes`), retrying without one trailing slash. */
export function matchRoute (routes: readonly Route[], path: string): Match | null {
  if (!path.startsWith('/')) return null
  if (path === '/') return matchSegments(routes, [])
  const segs = path.slice(1).split('/')
  const m = matchSegments(routes, segs)
  if (m !== null) return m
  if (segs.length > 1 && segs[segs.length - 1] === '') return matchSegments(routes, segs.slice(0, -1))
  return null
}

/** `GET, HEAD, OPTIONS, POST`: methods sorted, HEAD with GET, OPTIONS always. */
export function allowHeader (r: Route): string {
  const m: string[] = Object.keys(r.handlers)
  if (m.includes('GET')) m.push('HEAD')
  m.push('OPTIONS')
  return m.sort().join(', ')
}

/**
 * Custom handlers over generated ones, as Kong's kong/api/routes/*.lua wrap endpoints.lua: a
 * route with the same template keeps the generated methods it does not redefine.
 */
export function overrideRoutes (base: readonly Route[], overrides: readonly Route[]): Route[] {
  const out = [...base]
  for (const o of overrides) {
    const i = out.findIndex((r) => r.template === o.template)
    if (i < 0) { out.push(o); continue }
    const b = out[i]!
    const schema = o.schema ?? b.schema
    const handlers = { ...b.handlers, ...o.handlers }
    out[i] = schema !== undefined ? { template: b.template, segments: b.segments, handlers, schema } : { template: b.template, segments: b.segments, handlers }
  }
  return out
}

/** A generated route's handler, for an override that wraps it (Kong's `parent`). */
export function parentHandler (routes: readonly Route[], template: string, method: Method): Handler {
  const h = routes.find((r) => r.template === template)?.handlers[method]
  if (h === undefined) throw new Error(`no generated ${method} ${template}`)
  return h
}
