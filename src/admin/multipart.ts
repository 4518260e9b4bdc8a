/**
 * A small, strict multipart/form-data parser (RFC 7578) for Admin API bodies. Every part
 * needs a `Content-Disposition: form-data; name="..."` header; the body must start with the
 * boundary (a preamble is allowed) and end with the closing boundary. Anything else is a
 * MultipartError, which the Admin API answers with 400. File parts contribute their content,
 * as Lapis hands it to Kong.
 */
import { decodeUtf8 } from '../db/schema/utf8.ts'
import type { InvalidUtf8 } from '../db/schema/types.ts'

export class MultipartError extends Error {}

export interface Part { name: string; value: string | InvalidUtf8 }

const MAX_HEADER_BYTES = 8 * 1024
const MAX_DISPOSITION = 2048

/** `boundary=` from the Content-Type (quotes removed), as arguments.lua finds it. */
export function boundaryOf (contentType: string): string | null {
  const m = /;\s*boundary=("([^"]*)"|'([^']*)'|[^;]*)/i.exec(contentType)
  if (m === null) return null
  const b = (m[2] ?? m[3] ?? m[1] ?? '').trim()
  return b === '' || b.length > 200 ? null : b
}

/** Parameters of a header value: `form-data; name="a"; filename*=utf-8''x`. */
function headerParams (value: string): Map<string, string> {
  const out = new Map<string, string>()
  const re = /;\s*([A-Za-z0-9_\-*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g
  for (const m of value.matchAll(re)) {
    let name = m[1]!.toLowerCase()
    let v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim()
    if (name.endsWith('*')) {
      name = name.slice(0, -1)
      const enc = /^utf-8''(.*)$/i.exec(v)
      if (enc === null) continue
      try { v = decodeURIComponent(enc[1]!) } catch { throw new MultipartError('bad extended parameter encoding') }
      out.set(name, v)
    } else if (!out.has(name)) out.set(name, v)
  }
  return out
}

export function parseMultipart (body: Buffer, boundary: string, maxParts: number): Part[] {
  const delim = Buffer.from(`--${boundary}`)
  let pos = body.indexOf(delim)
  if (pos < 0 || (pos > 0 && !(body[pos - 2] === 13 && body[pos - 1] === 10))) throw new MultipartError('missing opening boundary')
  const parts: Part[] = []
  const sep = Buffer.from(`\r\n--${boundary}`)
  for (;;) {
    pos += delim.length
    if (body[pos] === 45 && body[pos + 1] === 45) return parts // closing "--"
    // transport padding, then CRLF
    while (body[pos] === 32 || body[pos] === 9) pos++
    if (body[pos] !== 13 || body[pos + 1] !== 10) throw new MultipartError('malformed boundary line')
    pos += 2
    const headEnd = body.indexOf('\r\n\r\n', pos)
    if (headEnd <= pos || headEnd - pos > MAX_HEADER_BYTES) throw new MultipartError('malformed part headers')
    const head = body.subarray(pos, headEnd).toString('latin1')
    const contentStart = headEnd + 4
    // an empty part's closing CRLF is the one ending its headers
    const next = body.indexOf(sep, headEnd + 2)
    if (next < 0) throw new MultipartError('missing closing boundary')
    let disposition: string | undefined
    for (const line of head.split('\r\n')) {
      const colon = line.indexOf(':')
      if (colon <= 0) throw new MultipartError('malformed part header')
      if (line.slice(0, colon).trim().toLowerCase() === 'content-disposition') disposition = line.slice(colon + 1).trim()
    }
    if (disposition === undefined || !/^form-data\s*(;|$)/i.test(disposition)) throw new MultipartError('part without form-data Content-Disposition')
    if (disposition.length > MAX_DISPOSITION) throw new MultipartError('Content-Disposition too long')
    const name = headerParams(disposition.slice(9)).get('name')
    if (name === undefined) throw new MultipartError('part without a name')
    if (parts.length >= maxParts) throw new MultipartError('too many parts')
    parts.push({ name: Buffer.from(name, 'latin1').toString('utf8'), value: decodeUtf8(body.subarray(Math.min(contentStart, next), next)) })
    pos = next + 2
  }
}
