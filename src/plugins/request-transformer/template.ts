/**
 * request-transformer's `$(...)` values. Kong compiles them with penlight's template: every
 * `$(` ... balanced `)` is a Lua expression rendered as `tostring((expr) or '')`; a `$(` without
 * its closing parenthesis is plain text. The expression sees `headers` (the request headers,
 * case-insensitive, `_` as `-`, repeated ones as a table), `query_params` (repeated ones as a
 * table, a flag as true), `uri_captures` (index 0 the whole match, then the groups, named groups
 * by name), `shared` (kong.ctx.shared) and the sandbox's globals (lua-expr.ts).
 *
 * Parsing happens once per snapshot (prepare); a syntax error makes compileTemplate throw, so
 * the instance answers 500 as Kong does when it renders such a value. A runtime error throws
 * from render() (500 too).
 */
import type { PluginContext } from '../types.ts'
import { fromJs, LookupTable, LuaSyntaxError, luaToString, LuaUnsupportedError, parseLuaExpression, SANDBOX, type Env, type LuaValue } from './lua-expr.ts'

export interface Template {
  /** True when the value has no `$(...)`: render() returns it as is. */
  readonly plain: boolean
  render (env: TemplateEnv): string
}

type Part = string | ((env: Env) => LuaValue)

/** The `$(` ... `)` spans of a value (penlight's `()$(%b())()`): [start, end) of each. */
function spans (value: string): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let i = value.indexOf('$(')
  while (i >= 0) {
    let depth = 0
    let j = i + 1
    for (; j < value.length; j++) {
      if (value[j] === '(') depth++
      else if (value[j] === ')' && --depth === 0) break
    }
    if (j >= value.length) break
    out.push([i, j + 1])
    i = value.indexOf('$(', j + 1)
  }
  return out
}

/** The syntax error of a template value, if any (the schema's check for body and querystring). */
export function templateSyntaxError (value: string): string | undefined {
  for (const [a, b] of spans(value)) {
    try {
      parseLuaExpression(value.slice(a + 2, b - 1))
    } catch (err) {
      if (err instanceof LuaSyntaxError) return `[string "TMP"]:1: ${err.message}`
      if (!(err instanceof LuaUnsupportedError)) throw err
    }
  }
  return undefined
}

function lower (k: LuaValue): string | undefined {
  return typeof k === 'string' ? k.toLowerCase().replace(/_/g, '-') : undefined
}

interface Captures { unnamed: Array<string | undefined>; named: Record<string, string | undefined> }

/** The router's captures with the whole match at index 0 (Kong's `ngx.ctx.router_matches.uri_captures`). */
function captures (ctx: PluginContext): Captures | null {
  // PluginContext.uriCaptures leaves out the whole match (kong.request.get_uri_captures); the
  // template's uri_captures keeps it, so read the router's match where the context exposes it.
  const raw = (ctx as unknown as { match?: { captures?: Captures | null } | null }).match?.captures
  if (raw !== undefined && raw !== null) return raw
  const c = ctx.uriCaptures as Captures | null
  return c === null ? null : { unnamed: [undefined, ...c.unnamed], named: c.named }
}

/**
 * One request's template environment (Kong's template_env): `headers` is the request's headers
 * as they were before the plugin changed any (Kong reads them into a table once and applies its
 * header changes after rendering), the other tables are read when first used.
 */
export class TemplateEnv implements Env {
  private readonly cache = new Map<string, LuaValue>()
  private headers: Record<string, string | string[]> | null = null
  private readonly ctx: PluginContext
  constructor (ctx: PluginContext) { this.ctx = ctx }
  /** Takes the headers table now (before the header rules run). */
  captureHeaders (): void { this.headers ??= this.ctx.getHeaders() }
  global (name: string): LuaValue {
    let v = this.cache.get(name)
    if (v !== undefined || this.cache.has(name)) return v
    const ctx = this.ctx
    switch (name) {
      case 'headers': {
        const h = this.headers ??= ctx.getHeaders()
        v = new LookupTable((k) => { const n = lower(k); return n === undefined ? undefined : fromJs(h[n]) })
        break
      }
      case 'query_params':
        v = new LookupTable((k) => (typeof k === 'string' ? fromJs(ctx.getQueryArg(k)) : undefined))
        break
      case 'uri_captures': {
        const c = captures(ctx)
        v = new LookupTable((k) => {
          if (c === null) return undefined
          if (typeof k === 'number') return c.unnamed[k] ?? undefined
          return typeof k === 'string' ? c.named[k] ?? undefined : undefined
        })
        break
      }
      case 'shared':
        v = new LookupTable((k) => (typeof k === 'string' ? fromJs(ctx.shared.get(k)) : undefined))
        break
      default:
        v = SANDBOX.get(name)
    }
    this.cache.set(name, v)
    return v
  }
}

export function compileTemplate (value: string): Template {
  const found = spans(value)
  if (found.length === 0) return { plain: true, render: () => value }
  const parts: Part[] = []
  let i = 0
  for (const [a, b] of found) {
    if (a > i) parts.push(value.slice(i, a))
    parts.push(parseLuaExpression(value.slice(a + 2, b - 1)))
    i = b
  }
  if (i < value.length) parts.push(value.slice(i))
  return {
    plain: false,
    render: (env) => {
      let s = ''
      for (const p of parts) {
        if (typeof p === 'string') { s += p; continue }
        const v = p(env)
        s += v === undefined || v === false ? '' : luaToString(v)
      }
      return s
    },
  }
}
