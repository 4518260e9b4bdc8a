/**
 * response-transformer (kong/plugins/response-transformer/handler.lua, header_transformer.lua,
 * body_transformer.lua, PRIORITY 800).
 *
 * Header filter: remove, rename, replace (only if present), add (only if absent), append; the
 * presence checks see the headers as they were before the plugin ran, as Kong's snapshot table
 * does. With a JSON rule and a JSON response (application/json), Content-Length is removed and
 * the body filter buffers the body, then applies remove, rename, replace, add, append
 * (values typed by json_types: string, number, boolean). A body that is not JSON is left as it is.
 */
import type { PluginContext, PluginHandler } from '../types.ts'

interface Lists { json?: string[]; json_types?: string[]; headers?: string[] }
export interface ResponseTransformerConfig {
  remove: Lists
  rename: Lists
  replace: Lists
  add: Lists
  append: Lists
}

interface Pair { readonly name: string; readonly value: string | null; readonly type: string | null }
interface Prepared {
  readonly headers: { remove: Pair[]; rename: Pair[]; replace: Pair[]; add: Pair[]; append: Pair[] }
  readonly json: { remove: Pair[]; rename: Pair[]; replace: Pair[]; add: Pair[]; append: Pair[] }
  readonly hasHeaders: boolean
  readonly hasJson: boolean
}

const PAIR = /^([^:]+):*([\s\S]*)$/
const EMPTY = Buffer.alloc(0)
const BUFFER = 'response-transformer:body'

function pairs (list: string[] | undefined, types?: string[]): Pair[] {
  return (list ?? []).map((entry, i) => {
    const m = PAIR.exec(entry)
    const v = m?.[2] ?? ''
    return { name: m?.[1] ?? entry, value: v === '' ? null : v, type: types?.[i] ?? null }
  })
}

/**
 * body_transformer.lua json_value + cast_value: the configured text goes through a JSON string
 * encoding with the outer quotes dropped and only `\"` and `\/` undone (so `a\b` stays
 * `a\\b`), an entry without a value is the text `null`; then json_types casts it (a number
 * that does not parse is no value: the rule is skipped; a boolean is `value == "true"`).
 */
function jsonValue (p: Pair): unknown {
  const v = p.value === null ? 'null' : JSON.stringify(p.value).slice(1, -1).replace(/\\"/g, '"')
  if (p.type === 'number') {
    const s = v.trim()
    if (s === '') return undefined
    const n = /^[-+]?0[xX][0-9a-fA-F]+$/.test(s) ? parseInt(s.replace(/^([-+]?)0[xX]/, '$1'), 16) : Number(s)
    return Number.isNaN(n) || !/^[-+]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf|nan)$/i.test(s) ? undefined : n
  }
  if (p.type === 'boolean') return v === 'true'
  return v
}

export function isJsonBody (contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  for (const part of contentType.split(',')) {
    const semi = part.indexOf(';')
    const mt = (semi < 0 ? part : part.slice(0, semi)).trim().toLowerCase()
    if (mt === 'application/json') return true
  }
  return false
}

function transformJson (c: Prepared, body: Buffer): Buffer {
  let doc: unknown
  try { doc = JSON.parse(body.toString('utf8')) } catch { return body }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return body
  const o = doc as Record<string, unknown>
  const j = c.json
  // A JSON null is cjson.null in Kong: present (truthy) for replace and add.
  const has = (k: string): boolean => Object.hasOwn(o, k) && o[k] !== false
  for (const p of j.remove) delete o[p.name]
  for (const p of j.rename) {
    // Kong sets the new name then clears the old one: renaming a key to itself drops it.
    if (Object.hasOwn(o, p.name) && p.value !== null) { const v = o[p.name]; o[p.value] = v; delete o[p.name] }
  }
  for (const p of j.replace) {
    const v = jsonValue(p)
    if (has(p.name) && v !== undefined) o[p.name] = v
  }
  for (const p of j.add) {
    const v = jsonValue(p)
    if (!has(p.name) && v !== undefined) o[p.name] = v
  }
  for (const p of j.append) {
    const v = jsonValue(p)
    if (v === undefined) continue
    const cur = o[p.name]
    if (typeof cur === 'string') o[p.name] = [cur, v]
    else if (Array.isArray(cur)) cur.push(v)
    else o[p.name] = [v]
  }
  return Buffer.from(JSON.stringify(o))
}

function transformHeaders (ctx: PluginContext, c: Prepared): void {
  const h = c.headers
  // Kong tests presence against the headers as they were before this plugin.
  const renamePresent = h.rename.map((p) => ctx.getResponseHeader(p.name) !== undefined)
  // every value of a repeated header moves (Kong sets the new name to the whole value table)
  const all = h.rename.length > 0 ? ctx.getResponseHeaders() : []
  const renameValues = h.rename.map((p) => {
    const name = p.name.toLowerCase()
    const out: string[] = []
    for (let i = 0; i + 1 < all.length; i += 2) if (all[i]!.toLowerCase() === name) out.push(all[i + 1]!)
    return out
  })
  const replacePresent = h.replace.map((p) => ctx.getResponseHeader(p.name) !== undefined)
  const addPresent = h.add.map((p) => ctx.getResponseHeader(p.name) !== undefined)
  for (const p of h.remove) ctx.clearResponseHeader(p.name)
  h.rename.forEach((p, i) => {
    if (renamePresent[i]! && p.value !== null) {
      // set the new name, then clear the old one (renaming a header to itself drops it, as in Kong)
      ctx.clearResponseHeader(p.value)
      for (const v of renameValues[i]!) ctx.addResponseHeader(p.value, v)
      ctx.clearResponseHeader(p.name)
    }
  })
  h.replace.forEach((p, i) => { if (replacePresent[i]! && p.value !== null) ctx.setResponseHeader(p.name, p.value) })
  h.add.forEach((p, i) => { if (!addPresent[i]! && p.value !== null) ctx.setResponseHeader(p.name, p.value) })
  for (const p of h.append) if (p.value !== null) ctx.addResponseHeader(p.name, p.value)
}

export const handler: PluginHandler<ResponseTransformerConfig, Prepared> = {
  name: 'response-transformer',
  priority: 800,
  prepare (c) {
    const headers = { remove: pairs(c.remove?.headers), rename: pairs(c.rename?.headers), replace: pairs(c.replace?.headers), add: pairs(c.add?.headers), append: pairs(c.append?.headers) }
    const json = {
      remove: pairs(c.remove?.json),
      rename: pairs(c.rename?.json),
      replace: pairs(c.replace?.json, c.replace?.json_types),
      add: pairs(c.add?.json, c.add?.json_types),
      append: pairs(c.append?.json, c.append?.json_types),
    }
    const count = (x: typeof headers): number => x.remove.length + x.rename.length + x.replace.length + x.add.length + x.append.length
    return { headers, json, hasHeaders: count(headers) > 0, hasJson: count(json) > 0 }
  },
  headerFilter (ctx, c) {
    if (c.hasHeaders) transformHeaders(ctx, c)
    if (c.hasJson && isJsonBody(ctx.getResponseHeader('content-type'))) {
      ctx.clearResponseHeader('content-length')
      ctx.shared.set(BUFFER, [])
    }
  },
  bodyFilter (ctx, c, chunk, last) {
    if (!c.hasJson) return chunk
    const parts = ctx.shared.get(BUFFER) as Buffer[] | undefined
    if (parts === undefined) return chunk
    if (chunk.length > 0) parts.push(chunk)
    if (!last) return EMPTY
    ctx.shared.delete(BUFFER)
    return transformJson(c, parts.length === 1 ? parts[0]! : Buffer.concat(parts))
  },
}
