/**
 * request-transformer's `$(...)` values (Kong renders them with penlight templates in its Lua
 * sandbox). Sluice compiles, once per snapshot, the forms the documentation uses:
 *
 *   $(headers.name)  $(headers["x-name"])  $(query_params.name)  $(query_params["name"])
 *   $(uri_captures.name)  $(uri_captures["name"])  $(uri_captures[1])  $(shared.name)
 *   any of these joined by `or`, ending in an optional literal: $(headers.a or query_params.b or "x")
 *
 * Any other Lua expression is refused at compile time (the instance then answers 500 rather than
 * sending something else upstream). A missing value renders as an empty string; repeated headers
 * or arguments render their first value.
 */
import type { PluginContext } from '../types.ts'

type Source = 'headers' | 'query_params' | 'uri_captures' | 'shared'
interface Access { readonly source: Source; readonly key: string | number }
type Alternative = Access | { readonly literal: string }
type Part = string | readonly Alternative[]

export interface Template {
  /** True when the value has no `$(...)`: render() returns it as is. */
  readonly plain: boolean
  render (ctx: PluginContext): string
}

const ACCESS = /^(headers|query_params|uri_captures|shared)(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:"([^"]*)"|'([^']*)'|(\d+))\s*\])$/
const LITERAL = /^(?:"([^"]*)"|'([^']*)')$/

function parseExpr (expr: string): Alternative[] {
  const out: Alternative[] = []
  for (const raw of expr.split(/\s+or\s+/)) {
    const e = raw.trim()
    const lit = LITERAL.exec(e)
    if (lit !== null) { out.push({ literal: lit[1] ?? lit[2] ?? '' }); continue }
    const m = ACCESS.exec(e)
    if (m === null) throw new Error(`template expression not supported: $(${expr})`)
    const key = m[2] ?? m[3] ?? m[4] ?? Number(m[5])
    out.push({ source: m[1] as Source, key })
  }
  return out
}

function first (v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined
  if (Array.isArray(v)) return first(v[0])
  return typeof v === 'string' ? v : String(v)
}

function lookup (ctx: PluginContext, a: Access): string | undefined {
  switch (a.source) {
    case 'headers': {
      const k = String(a.key).toLowerCase()
      return first(ctx.getHeaderAll(k) ?? ctx.getHeaderAll(k.replace(/_/g, '-')))
    }
    case 'query_params':
      return first(ctx.getQueryArg(String(a.key)))
    case 'uri_captures': {
      const c = ctx.uriCaptures as { unnamed: string[]; named: Record<string, string> } | null
      if (c === null) return undefined
      return typeof a.key === 'number' ? c.unnamed[a.key - 1] : c.named[a.key]
    }
    case 'shared':
      return first(ctx.shared.get(String(a.key)))
  }
}

function evaluate (ctx: PluginContext, alts: readonly Alternative[]): string {
  for (const a of alts) {
    if ('literal' in a) return a.literal
    const v = lookup(ctx, a)
    if (v !== undefined) return v
  }
  return ''
}

export function compileTemplate (value: string): Template {
  if (value.indexOf('$(') < 0) return { plain: true, render: () => value }
  const parts: Part[] = []
  let i = 0
  while (i < value.length) {
    const start = value.indexOf('$(', i)
    if (start < 0) { parts.push(value.slice(i)); break }
    if (start > i) parts.push(value.slice(i, start))
    let depth = 0
    let j = start + 1
    for (; j < value.length; j++) {
      if (value[j] === '(') depth++
      else if (value[j] === ')' && --depth === 0) break
    }
    if (j >= value.length) throw new Error(`unbalanced $( in template '${value}'`)
    parts.push(parseExpr(value.slice(start + 2, j)))
    i = j + 1
  }
  return {
    plain: false,
    render: (ctx) => {
      let s = ''
      for (const p of parts) s += typeof p === 'string' ? p : evaluate(ctx, p)
      return s
    },
  }
}
