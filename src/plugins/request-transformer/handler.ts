/**
 * request-transformer (kong/plugins/request-transformer/access.lua, PRIORITY 801).
 *
 * In Kong's order: uri (replace.uri), method (http_method; a form body becomes query arguments
 * for GET/HEAD/TRACE), headers, body (JSON, form, multipart text fields), querystring. Within a
 * part: remove, rename, replace (only if present), add (only if absent), append (always). The
 * body is only read when a body rule exists and the Content-Type is one of the three; it is
 * rewritten only when a rule applied. `name:value` pairs are split and their `$(...)` templates
 * compiled in prepare (template.ts has the supported forms).
 */
import type { ParsedBody, PluginContext, PluginHandler, QueryValue } from '../types.ts'
import { compileTemplate, TemplateEnv, type Template } from './template.ts'

interface Lists { body?: string[]; headers?: string[]; querystring?: string[] }
export interface RequestTransformerConfig {
  http_method?: string | null
  remove: Lists
  rename: Lists
  replace: Lists & { uri?: string | null }
  add: Lists
  append: Lists
}

interface Pair { readonly name: string; readonly lower: string; readonly value: Template | null }
interface Part { readonly remove: Pair[]; readonly rename: Pair[]; readonly replace: Pair[]; readonly add: Pair[]; readonly append: Pair[] }
interface Prepared {
  readonly uri: Template | null
  readonly method: string | null
  readonly headers: Part
  readonly query: Part
  readonly body: Part
  readonly hasHeaders: boolean
  readonly hasQuery: boolean
  readonly hasBody: boolean
  /** Some value holds a `$(...)` template: a TemplateEnv is made per request. */
  readonly templated: boolean
}

const PAIR = /^([^:]+):*([\s\S]*)$/

function pairs (list: string[] | undefined): Pair[] {
  return (list ?? []).map((entry) => {
    const m = PAIR.exec(entry)
    const name = m?.[1] ?? entry
    const value = m?.[2] ?? ''
    return { name, lower: name.toLowerCase(), value: value === '' ? null : compileTemplate(value) }
  })
}

function part (c: RequestTransformerConfig, key: 'body' | 'headers' | 'querystring'): Part {
  return { remove: pairs(c.remove?.[key]), rename: pairs(c.rename?.[key]), replace: pairs(c.replace?.[key]), add: pairs(c.add?.[key]), append: pairs(c.append?.[key]) }
}

const size = (p: Part): number => p.remove.length + p.rename.length + p.replace.length + p.add.length + p.append.length
const render = (env: TemplateEnv | null, p: Pair): string => (p.value === null ? '' : p.value.plain ? p.value.render(null as never) : p.value.render(env!))

function appendValue (current: unknown, value: string): unknown {
  if (typeof current === 'string') return [current, value]
  if (Array.isArray(current)) { current.push(value); return current }
  return [value]
}

function transformHeaders (ctx: PluginContext, env: TemplateEnv | null, h: Part): void {
  for (const p of h.remove) ctx.clearHeader(p.lower)
  for (const p of h.rename) {
    const to = render(env, p).toLowerCase()
    if (to === '' || to === p.lower) continue
    const v = ctx.getHeaderAll(p.lower)
    if (v === undefined) continue
    ctx.clearHeader(p.lower)
    ctx.clearHeader(to)
    for (const x of Array.isArray(v) ? v : [v]) ctx.addHeader(to, x)
  }
  for (const p of h.replace) if (ctx.getHeader(p.lower) !== undefined || p.lower === 'host') ctx.setHeader(p.lower, render(env, p))
  for (const p of h.add) if (ctx.getHeader(p.lower) === undefined && p.lower !== 'host') ctx.setHeader(p.lower, render(env, p))
  for (const p of h.append) ctx.addHeader(p.lower, render(env, p))
}

function transformQuery (ctx: PluginContext, env: TemplateEnv | null, q: Part): void {
  const args: Record<string, unknown> = { ...ctx.getQueryArgs() }
  for (const p of q.remove) delete args[p.name]
  for (const p of q.rename) {
    const to = render(env, p)
    if (to === p.name || args[p.name] === undefined) continue
    args[to] = args[p.name]
    delete args[p.name]
  }
  for (const p of q.replace) if (args[p.name] !== undefined) args[p.name] = render(env, p)
  for (const p of q.add) if (args[p.name] === undefined) args[p.name] = render(env, p)
  for (const p of q.append) args[p.name] = appendValue(args[p.name], render(env, p))
  ctx.setQueryArgs(args as Record<string, QueryValue>)
}

/** The transformed fields, or null when no rule applied (the body is then left as it is). */
function transformFields (env: TemplateEnv | null, b: Part, fields: Record<string, unknown>, hasBody: boolean, multipart: boolean): boolean {
  let changed = false
  if (hasBody) {
    for (const p of b.remove) { delete fields[p.name]; changed = true }
    for (const p of b.rename) {
      const to = render(env, p)
      if (to !== p.name && fields[p.name] !== undefined && fields[p.name] !== null) {
        fields[to] = fields[p.name]
        delete fields[p.name]
        changed = true
      }
    }
    for (const p of b.replace) {
      const v = fields[p.name]
      if (v !== undefined && v !== null && v !== false) { fields[p.name] = render(env, p); changed = true }
    }
  }
  for (const p of b.add) {
    const v = fields[p.name]
    if (v === undefined || v === null || v === false) { fields[p.name] = render(env, p); changed = true }
  }
  if (!multipart) for (const p of b.append) { fields[p.name] = appendValue(fields[p.name], render(env, p)); changed = true }
  return changed
}

function typeOf (contentType: string | undefined): ParsedBody['type'] | null {
  if (contentType === undefined) return null
  const ct = contentType.toLowerCase()
  if (ct.includes('application/json')) return 'json'
  if (ct.includes('multipart/form-data')) return 'multipart'
  if (ct.includes('application/x-www-form-urlencoded')) return 'form'
  return null
}

function transformBody (ctx: PluginContext, env: TemplateEnv | null, c: Prepared, raw: Buffer | null, type: ParsedBody['type']): void {
  const hasBody = raw !== null && raw.length > 0
  let fields: Record<string, unknown>
  if (!hasBody) {
    fields = {}
  } else {
    const parsed = ctx.getBody()
    const p = parsed instanceof Promise ? null : parsed
    if (p === null || p.value === null || typeof p.value !== 'object' || Array.isArray(p.value)) return
    fields = { ...(p.value as Record<string, unknown>) }
  }
  if (!transformFields(env, c.body, fields, hasBody, type === 'multipart')) return
  ctx.setBody({ type, value: fields })
}

/** http_method to GET/HEAD/TRACE: form fields of the body join the query arguments. */
function methodBodyToQuery (ctx: PluginContext, raw: Buffer | null): void {
  const p = raw === null || raw.length === 0 ? null : ctx.getBody()
  const parsed = p instanceof Promise ? null : p
  if (parsed === null || parsed.type !== 'form') return
  const fields = parsed.value as Record<string, QueryValue>
  const keys = Object.keys(fields)
  if (keys.length === 0) return
  const args: Record<string, QueryValue> = { ...ctx.getQueryArgs() }
  for (const k of keys) {
    const cur = args[k]
    const v = fields[k]!
    if (cur === undefined) args[k] = v
    else if (Array.isArray(cur)) cur.push(...(Array.isArray(v) ? v : [v]))
    else args[k] = [cur, ...(Array.isArray(v) ? v : [v])]
  }
  ctx.setQueryArgs(args)
}

export const handler: PluginHandler<RequestTransformerConfig, Prepared> = {
  name: 'request-transformer',
  priority: 801,
  prepare (c) {
    const headers = part(c, 'headers')
    const query = part(c, 'querystring')
    const body = part(c, 'body')
    const uri = c.replace?.uri
    return {
      uri: typeof uri === 'string' && uri !== '' ? compileTemplate(uri) : null,
      method: typeof c.http_method === 'string' ? c.http_method.toUpperCase() : null,
      headers,
      query,
      body,
      hasHeaders: size(headers) > 0,
      hasQuery: size(query) > 0,
      hasBody: size(body) > 0,
      templated: [headers, query, body].some((p) => [p.remove, p.rename, p.replace, p.add, p.append].some((l) => l.some((x) => x.value !== null && !x.value.plain))) ||
        (typeof uri === 'string' && uri !== '' && !compileTemplate(uri).plain),
    }
  },
  access (ctx, c) {
    const env = c.templated ? new TemplateEnv(ctx) : null
    if (env !== null) env.captureHeaders()
    if (c.uri !== null) ctx.setPath(c.uri.render(env!))
    const toQuery = c.method !== null && (c.method === 'GET' || c.method === 'HEAD' || c.method === 'TRACE') && typeOf(ctx.getHeader('content-type')) === 'form'
    if (c.method !== null) ctx.setMethod(c.method)
    // headers, then the body (its Content-Type as the header rules left it), then the query
    const rest = (): void | Promise<void> => {
      if (c.hasHeaders) transformHeaders(ctx, env, c.headers)
      const bodyType = c.hasBody ? typeOf(ctx.getHeader('content-type')) : null
      if (bodyType === null) {
        if (c.hasQuery) transformQuery(ctx, env, c.query)
        return
      }
      const last = (b: Buffer | null): void | Promise<void> => {
        const run = (): void => {
          transformBody(ctx, env, c, b, bodyType)
          if (c.hasQuery) transformQuery(ctx, env, c.query)
        }
        const parsed = b !== null && b.length > 0 ? ctx.getBody() : null
        if (parsed instanceof Promise) return parsed.then(run)
        return run()
      }
      const raw = ctx.readBody()
      return raw instanceof Promise ? raw.then(last) : last(raw)
    }
    if (!toQuery) return rest()
    const first = (b: Buffer | null): void | Promise<void> => {
      const parsed = b !== null && b.length > 0 ? ctx.getBody() : null
      const run = (): void | Promise<void> => { methodBodyToQuery(ctx, b); return rest() }
      if (parsed instanceof Promise) return parsed.then(run)
      return run()
    }
    const raw = ctx.readBody()
    return raw instanceof Promise ? raw.then(first) : first(raw)
  },
}
