/**
 * The request side that Kong's AI plugins share (kong/llm/plugin/base.lua, ctx.lua,
 * shared-filters/parse-request.lua), as far as the plugins without an LLM provider use it:
 *
 * - reading the body as `kong.request.get_body(content_type, nil, max_request_body_size)` does:
 *   a body up to nginx's client_body_buffer_size (8 KiB in Kong's configuration) is always read;
 *   a larger one only when it is at most `max_request_body_size`; JSON must be an object or an
 *   array; a form or multipart body becomes its fields;
 * - parse-request: once per request (Kong runs a shared filter once, with the configuration of
 *   the first AI plugin that reaches it), the body is decoded by its Content-Type (JSON when the
 *   header is absent), turned into Kong's OpenAI shape for `llm_format = bedrock | gemini`
 *   (adapters.ts), and becomes the request's "body table in use". A body that cannot be decoded
 *   leaves no table (the plugins then see an empty one); an undecodable multipart body makes
 *   Kong's filter raise, a 500 here too;
 * - the body table in use: what the next AI plugin reads. ai-prompt-decorator replaces it with
 *   the decorated request, so ai-prompt-guard (which runs after it) checks the decorated one.
 *
 * The state lives in kong.ctx.shared under `ai:` keys, one request at a time. Left out, because
 * only ai-proxy and the AI analytics read them: the request model, stream mode and gzip flags.
 */
import type { PluginContext } from '../types.ts'
import { parseBody } from '../../worker/body-codec.ts'
import { SERIALIZE_VALUES } from '../shared/serialize.ts'
import { toKongRequest, type LlmFormat } from './adapters.ts'
import { isTable, LuaError, type Table } from './lua.ts'

export type { LlmFormat } from './adapters.ts'

/** nginx's client_body_buffer_size in Kong's default configuration (`client_body_buffer_size = 8k`). */
export const CLIENT_BODY_BUFFER_SIZE = 8 * 1024

const IN_USE = 'ai:request_body_table'
const PARSED = 'ai:parse-request'
const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({})

export interface ParseConf {
  readonly maxBodySize: number
  readonly llmFormat: LlmFormat | null
}

/** `kong.response.exit(400, { error = { message = msg } })`, the AI plugins' refusal. */
export function badRequest (ctx: PluginContext, message: string): void {
  ctx.exit(400, { error: { message } })
}

function within (b: Buffer | null, max: number): Buffer | null {
  if (b === null) return null
  return b.length <= CLIENT_BODY_BUFFER_SIZE || b.length <= max ? b : null
}

/** `kong.request.get_raw_body(max)`: the body, or null when it is too large to be read. */
export function readRawBody (ctx: PluginContext, max: number): Buffer | null | Promise<Buffer | null> {
  const raw = ctx.readBody()
  return raw instanceof Promise ? raw.then((b) => within(b, max)) : within(raw, max)
}

/** A media type `find(ct, prefix, 1, true) == 1` would accept (Kong lowercases and cuts at `;`). */
function mediaType (contentType: string): string {
  const lower = contentType.toLowerCase()
  const semi = lower.indexOf(';')
  return semi < 0 ? lower : lower.slice(0, semi)
}

/** `kong.request.get_body(contentType)` over an already read body (null: too large or not decodable). */
export function decodeBody (raw: Buffer | null, contentType: string): Table | null {
  const mt = mediaType(contentType)
  if (mt.startsWith('application/x-www-form-urlencoded')) {
    // ngx.req.get_post_args reads only a body that fits in the buffer
    if (raw === null || raw.length > CLIENT_BODY_BUFFER_SIZE) return null
    return parseBody(raw, 'application/x-www-form-urlencoded')!.value as Table
  }
  if (raw === null) return null
  if (mt.startsWith('application/json')) {
    let v: unknown
    try {
      v = JSON.parse(raw.toString('utf8'))
    } catch {
      return null
    }
    return isTable(v) ? v : null
  }
  if (mt.startsWith('multipart/form-data')) {
    const p = parseBody(raw, contentType)
    return p === null ? null : p.value as Table
  }
  return null
}

/** The body table the AI plugins act on (`get_request_body_table_inuse`): an empty table when none. */
export function requestBodyTable (ctx: PluginContext): Table {
  return (ctx.shared.get(IN_USE) as Table | undefined) ?? EMPTY
}

export function setRequestBodyTable (ctx: PluginContext, table: Table): void {
  ctx.shared.set(IN_USE, table)
}

function parsed (ctx: PluginContext, conf: ParseConf, contentType: string, raw: Buffer | null): void {
  const table = decodeBody(raw, contentType)
  if (table === null) {
    if (!contentType.includes('multipart/form-data')) return
    // Kong stores the missing table into a context slot typed "table" and raises
    throw new LuaError('value type mismatch in namespace: parse-request key: request_body_table, expecting table, got nil')
  }
  const format = conf.llmFormat
  setRequestBodyTable(ctx, format !== null && format !== 'openai' ? toKongRequest(format, table, ctx) : table)
}

/** The parse-request filter: decodes the body once per request. */
export function parseRequest (ctx: PluginContext, conf: ParseConf): void | Promise<void> {
  const shared = ctx.shared
  if (shared.has(PARSED)) return
  shared.set(PARSED, true)
  const contentType = ctx.getHeader('content-type') ?? 'application/json'
  const form = mediaType(contentType).startsWith('application/x-www-form-urlencoded')
  const raw = form ? ctx.readBody() : readRawBody(ctx, conf.maxBodySize)
  if (raw instanceof Promise) return raw.then((b) => { parsed(ctx, conf, contentType, b) })
  parsed(ctx, conf, contentType, raw)
}

/** The prepared part of the configuration parse-request reads. */
export function parseConf (c: { max_request_body_size?: number | null; llm_format?: string | null }): ParseConf {
  return { maxBodySize: c.max_request_body_size ?? 8192, llmFormat: (c.llm_format ?? null) as LlmFormat | null }
}

/** kong.log.set_serialize_value(key, value): kept in kong.ctx.shared for the log serializer. */
export function setSerializeValue (ctx: PluginContext, key: string, value: unknown): void {
  const cur = ctx.shared.get(SERIALIZE_VALUES)
  if (Array.isArray(cur)) cur.push({ key, value, mode: 'set' })
  else if (isTable(cur)) (cur as Record<string, unknown>)[key] = value
  else ctx.shared.set(SERIALIZE_VALUES, { [key]: value })
}
