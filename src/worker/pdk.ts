/**
 * The PDK methods RequestContext exposes to plugins (plugins/types.ts PluginContext), as plain
 * functions over the context: request headers and query (kong.request), the upstream request
 * (kong.service.request), the client address, response headers (kong.response.*_header) and the
 * exits. Request-header writes change `ctx.headers` in place, as ngx.req.set_header does: later
 * plugins read the new value and the upstream request is built from the same list.
 */
import type { FlatHeaders, ParsedBody, QueryValue } from '../plugins/types.ts'
import { encodeBody, parseBody } from './body-codec.ts'
import { realRemoteAddr } from './client-ip.ts'
import type { RequestContext } from './context.ts'
import { cappedHeaders } from './edge.ts'
import { sendExit, sendPluginError } from './gateway-response.ts'
import { listClear, listGet, listGetAll, listSet, lowerName, wireValue } from './header-list.ts'
import { readPluginBody } from './proxy.ts'
import { encodeQuery, parseQuery, removeQueryArg } from './query-args.ts'
import { settings } from './settings.ts'
import { nginxHost } from './upstream-request.ts'

export function hostName (ctx: RequestContext): string {
  return nginxHost(ctx.host)
}

export function getHeader (ctx: RequestContext, name: string): string | undefined {
  return listGet(ctx.headers, name)
}

export function getHeaderAll (ctx: RequestContext, name: string): string | string[] | undefined {
  return listGetAll(ctx.headers, name)
}

/** ngx.req.get_headers(): the first lua_max_req_headers fields, as the router saw them. */
export function getHeaders (ctx: RequestContext): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  const h = cappedHeaders(ctx)
  for (let i = 0; i < h.length; i += 2) {
    const k = h[i]!
    const v = h[i + 1]!
    const prev = out[k]
    if (prev === undefined) out[k] = v
    else if (Array.isArray(prev)) prev.push(v)
    else out[k] = [prev, v]
  }
  return out
}

export function getQueryArgs (ctx: RequestContext): Record<string, QueryValue> {
  return (ctx.queryArgs ??= parseQuery(ctx.query, settings.maxUriArgs))
}

/** nginx `$cookie_<name>`: the first cookie of that name across Cookie headers. */
export function getCookie (ctx: RequestContext, name: string): string | undefined {
  const h = ctx.headers
  for (let i = 0; i < h.length; i += 2) {
    if (h[i] !== 'cookie') continue
    const v = h[i + 1]!
    let start = 0
    while (start < v.length) {
      let end = v.indexOf(';', start)
      if (end < 0) end = v.length
      const eq = v.indexOf('=', start)
      if (eq > 0 && eq < end && v.slice(start, eq).trim() === name) return v.slice(eq + 1, end).trim()
      start = end + 1
    }
  }
  return undefined
}

export function readBody (ctx: RequestContext): Buffer | null | Promise<Buffer | null> {
  if (ctx.pluginBody === 2) return ctx.rawBody
  return readPluginBody(ctx)
}

export function getBody (ctx: RequestContext): ParsedBody | null | Promise<ParsedBody | null> {
  if (ctx.parsedBody !== undefined) return ctx.parsedBody
  const raw = readBody(ctx)
  if (raw instanceof Promise) return raw.then((b) => parsed(ctx, b))
  return parsed(ctx, raw)
}

function parsed (ctx: RequestContext, raw: Buffer | null): ParsedBody | null {
  if (ctx.parsedBody !== undefined) return ctx.parsedBody
  const p = raw === null || raw.length === 0 ? null : parseBody(raw, ctx.contentType)
  ctx.parsedBody = p
  return p
}

function onHeaderChanged (ctx: RequestContext, name: string, value: string | null): void {
  if (name.length === 4 && name === 'host') {
    if (value !== null) ctx.upstreamHost = value
  } else if (name.length === 12 && name === 'content-type') {
    ctx.contentType = value
    ctx.parsedBody = undefined
  }
}

export function setHeader (ctx: RequestContext, name: string, value: string): void {
  const n = lowerName(name)
  listSet(ctx.headers, n, value)
  onHeaderChanged(ctx, n, value)
}

export function addHeader (ctx: RequestContext, name: string, value: string): void {
  const n = lowerName(name)
  ctx.headers.push(n, value)
  onHeaderChanged(ctx, n, listGet(ctx.headers, n) ?? value)
}

export function clearHeader (ctx: RequestContext, name: string): void {
  const n = lowerName(name)
  if (listClear(ctx.headers, n)) onHeaderChanged(ctx, n, null)
}

export function clearQueryArg (ctx: RequestContext, name: string): void {
  if (ctx.query === null || ctx.query === '') return
  ctx.query = removeQueryArg(ctx.query, name)
  ctx.queryArgs = null
}

export function setQueryArgs (ctx: RequestContext, args: Readonly<Record<string, QueryValue>>): void {
  ctx.query = encodeQuery(args)
  ctx.queryArgs = null
}

export function setRawBody (ctx: RequestContext, body: Buffer | string, contentType?: string): void {
  const b = typeof body === 'string' ? Buffer.from(body) : body
  ctx.bodyReplaced = b
  ctx.rawBody = b
  ctx.pluginBody = ctx.pluginBody === 1 ? 1 : 2
  ctx.parsedBody = undefined
  if (contentType !== undefined) setHeader(ctx, 'content-type', contentType)
}

export function setBody (ctx: RequestContext, body: ParsedBody): void {
  const enc = encodeBody(body, ctx.contentType)
  setRawBody(ctx, enc.body, enc.contentType)
  ctx.parsedBody = body
}

export function forwardedIp (ctx: RequestContext): string {
  return (ctx.realIpValue ??= realRemoteAddr(ctx))
}

// ---- responses ----

export function getResponseHeader (ctx: RequestContext, name: string): string | undefined {
  const l = ctx.respHeaders
  return l === null ? undefined : listGet(l, lowerName(name))
}

const NO_HEADERS: FlatHeaders = []

export function getResponseHeaders (ctx: RequestContext): FlatHeaders {
  if (ctx.respHeaders !== null) return ctx.respHeaders
  const h = ctx.resHeadersSent ?? ctx.resHeaders
  if (h === null) return NO_HEADERS
  const out: string[] = []
  for (const name in h) {
    const v = h[name]
    if (v === undefined) continue
    if (typeof v === 'string') out.push(name, v)
    else for (let i = 0; i < v.length; i++) out.push(name, v[i]!)
  }
  return out
}

// A plugin's value is made safe for the wire where it comes in (CR/LF escaped, header-list.ts
// wireValue): upstream values come from a strict parser, so the writers need no check per response.
export function setResponseHeader (ctx: RequestContext, name: string, value: string): void {
  listSet(ctx.respHeaders ??= [], lowerName(name), wireValue(value))
}

export function addResponseHeader (ctx: RequestContext, name: string, value: string): void {
  (ctx.respHeaders ??= []).push(lowerName(name), wireValue(value))
}

export function clearResponseHeader (ctx: RequestContext, name: string): void {
  if (ctx.respHeaders !== null) listClear(ctx.respHeaders, lowerName(name))
}

export function exit (ctx: RequestContext, status: number, body: string | Buffer | object | null | undefined, headers: FlatHeaders | null | undefined): void {
  if (body === null || body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
    sendExit(ctx, status, body ?? null, false, headers ?? null)
  } else {
    sendExit(ctx, status, JSON.stringify(body), true, headers ?? null)
  }
}

export function exitJson (ctx: RequestContext, status: number, json: string, headers: FlatHeaders | null | undefined): void {
  sendExit(ctx, status, json, true, headers ?? null)
}

export function error (ctx: RequestContext, status: number, message: string | undefined, headers: FlatHeaders | null | undefined): void {
  sendPluginError(ctx, status, message, headers ?? null)
}
