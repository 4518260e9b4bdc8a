/**
 * Request bodies and query strings for the Admin API (kong/api/api_helpers.lua before_filter,
 * arguments.lua load): the 415 rule, JSON (`Cannot parse JSON body`), urlencoded and multipart
 * forms, the 1000-argument limit, and the size limit. Bytes are decoded strictly: invalid
 * UTF-8 in a form value becomes an InvalidUtf8 marker the schema rejects, never a string.
 */
import type { IncomingMessage } from 'node:http'
import { InvalidUtf8 } from '../db/schema/types.ts'
import { decodeUtf8 } from '../db/schema/utf8.ts'
import { MAX_ARGS, MAX_DEPTH, type RawArg } from './args.ts'
import { MultipartError, boundaryOf, parseMultipart } from './multipart.ts'

export type Body =
  | { kind: 'none' }
  | { kind: 'json'; value: Record<string, unknown> }
  | { kind: 'args'; args: RawArg[] }

/** A request the Admin API refuses before routing it anywhere. */
export class BodyError extends Error {
  readonly status: number
  /** JSON object body, or plain text (Kong's duplicate Content-Type answer is text). */
  readonly payload: Record<string, unknown> | string
  constructor (status: number, payload: Record<string, unknown> | string) {
    super(typeof payload === 'string' ? payload : String(payload.message))
    this.status = status
    this.payload = payload
  }
}

const NEEDS_BODY = new Set(['POST', 'PUT', 'PATCH'])
export const TOO_MANY_ARGS = { message: 'Too many arguments' }
const BAD_JSON = { message: 'Cannot parse JSON body' }

/** Reads the whole body, refusing more than `limit` bytes (413). */
export async function readBody (req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit && limit > 0) throw new BodyError(413, { message: 'Payload too large' })
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      if (limit > 0 && size > limit) throw new BodyError(413, { message: 'Payload too large' })
      chunks.push(chunk)
    }
  } catch (err) {
    if (err instanceof BodyError) throw err
    throw new BodyError(400, { message: 'Bad request' }) // the client went away or sent a broken body
  }
  return Buffer.concat(chunks)
}

function hexVal (c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 65 && c <= 70) return c - 55
  if (c >= 97 && c <= 102) return c - 87
  return -1
}

/** ngx's argument unescaping: `+` is a space, `%XX` a byte, a malformed `%` stays as is. */
function unescape (b: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start)
  let n = 0
  for (let i = start; i < end; i++) {
    const c = b[i]!
    if (c === 43) out[n++] = 32
    else if (c === 37 && i + 2 < end && hexVal(b[i + 1]!) >= 0 && hexVal(b[i + 2]!) >= 0) {
      out[n++] = hexVal(b[i + 1]!) * 16 + hexVal(b[i + 2]!)
      i += 2
    } else out[n++] = c
  }
  return out.subarray(0, n)
}

/** `a=1&b=2&a=3` -> [{a: [1, 3]}, {b: 2}] in first-seen order; a bare key is `true`. */
export function parseArgs (raw: Buffer): RawArg[] {
  const order: string[] = []
  const values = new Map<string, unknown[]>()
  let count = 0
  let start = 0
  while (start <= raw.length) {
    let end = raw.indexOf(38, start)
    if (end < 0) end = raw.length
    if (end > start) {
      if (++count > MAX_ARGS) throw new BodyError(400, TOO_MANY_ARGS)
      const eq = raw.indexOf(61, start)
      const hasValue = eq >= 0 && eq < end
      const name = unescape(raw, start, hasValue ? eq : end).toString('utf8')
      const value: unknown = hasValue ? decodeUtf8(unescape(raw, eq + 1, end)) : true
      let list = values.get(name)
      if (list === undefined) { list = []; values.set(name, list); order.push(name) }
      list.push(value)
    }
    start = end + 1
  }
  return order.map((name) => {
    const list = values.get(name)!
    return { name, value: list.length === 1 ? list[0] : list }
  })
}

/**
 * A parsed JSON value as a tree of null-prototype objects, so `__proto__` and `constructor`
 * are ordinary keys; nesting is bounded as cjson bounds it (1000).
 */
export function sanitizeJson (v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object') return v
  if (depth >= MAX_DEPTH) throw new BodyError(400, BAD_JSON)
  if (Array.isArray(v)) return v.map((x) => sanitizeJson(x, depth + 1))
  const out: Record<string, unknown> = Object.create(null)
  for (const k of Object.keys(v)) out[k] = sanitizeJson((v as Record<string, unknown>)[k], depth + 1)
  return out
}

function parseJson (buf: Buffer): Record<string, unknown> {
  const text = decodeUtf8(buf)
  if (text instanceof InvalidUtf8) throw new BodyError(400, BAD_JSON)
  let v: unknown
  try { v = JSON.parse(text) } catch { throw new BodyError(400, BAD_JSON) }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BodyError(400, BAD_JSON)
  return sanitizeJson(v) as Record<string, unknown>
}

/** Content-Type headers as sent (node keeps only the first one in req.headers). */
function contentTypes (req: IncomingMessage): string[] {
  const out: string[] = []
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === 'content-type') out.push(req.rawHeaders[i + 1]!)
  }
  return out
}

/** The body of a write (POST/PUT/PATCH); other methods ignore theirs, as Kong does. */
export function interpretBody (req: IncomingMessage, method: string, buf: Buffer): Body {
  if (!NEEDS_BODY.has(method)) return { kind: 'none' }
  const types = contentTypes(req)
  if (types.length > 1) throw new BodyError(400, 'Multiple Content-Type headers not allowed')
  const ct = types[0]
  if (ct === undefined) {
    if (buf.length === 0) return { kind: 'none' }
    throw new BodyError(415, { message: 'Unsupported Media Type' })
  }
  // The 415 check is a case-sensitive prefix match (api_helpers.lua before_filter).
  if (!ct.startsWith('application/json') && !ct.startsWith('multipart/form-data') && !ct.startsWith('application/x-www-form-urlencoded')) {
    throw new BodyError(415, { message: 'Unsupported Media Type' })
  }
  const lower = ct.toLowerCase()
  if (lower.startsWith('application/json')) return { kind: 'json', value: parseJson(buf) }
  if (lower.startsWith('application/x-www-form-urlencoded')) return { kind: 'args', args: parseArgs(buf) }
  // Lapis reads no arguments from a multipart body without a boundary (resty.upload refuses
  // it) or an empty one, and Kong validates what it has: POST /consumers says which fields are
  // missing (03-consumers_routes_spec "missing body with multipart/form-data").
  const boundary = boundaryOf(ct)
  if (boundary === null || buf.length === 0) return { kind: 'args', args: [] }
  try {
    const parts = parseMultipart(buf, boundary, MAX_ARGS)
    const order: string[] = []
    const values = new Map<string, unknown[]>()
    for (const p of parts) {
      let list = values.get(p.name)
      if (list === undefined) { list = []; values.set(p.name, list); order.push(p.name) }
      list.push(p.value)
    }
    return { kind: 'args', args: order.map((name) => ({ name, value: values.get(name)!.length === 1 ? values.get(name)![0] : values.get(name)! })) }
  } catch (err) {
    if (err instanceof MultipartError) {
      if (err.message === 'too many parts') throw new BodyError(400, TOO_MANY_ARGS)
      throw new BodyError(400, { message: `Cannot parse multipart/form-data body: ${err.message}` })
    }
    throw err
  }
}
