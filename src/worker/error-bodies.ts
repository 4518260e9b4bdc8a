/**
 * Kong's error bodies: the four templates of kong/tools/http.lua (`get_error_template`), the media
 * type choice of `get_response_type` (Accept with q-values, JSON by default), and the status lines.
 * Every (message, type) pair is split once into the text before and after the request id, so a
 * response costs one string concatenation.
 */
import { STATUS_CODES } from 'node:http'

export const TYPE_JSON = 0
export const TYPE_HTML = 1
export const TYPE_XML = 2
export const TYPE_PLAIN = 3

export const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'text/html; charset=utf-8',
  'application/xml; charset=utf-8',
  'text/plain; charset=utf-8',
] as const

/** Template halves around the request id, for a message. */
export interface BodyParts { readonly pre: string; readonly post: string }

function parts (type: number, message: string): BodyParts {
  switch (type) {
    case TYPE_HTML:
      return {
        pre: '<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n    <title>Error</title>\n  </head>\n' +
          `  <body>\n    <h1>Error</h1>\n    <p>${message}.</p>\n    <p>request_id: `,
        post: '</p>\n  </body>\n</html>\n',
      }
    case TYPE_XML:
      return {
        pre: `<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>${message}</message>\n  <requestid>`,
        post: '</requestid>\n</error>\n',
      }
    case TYPE_PLAIN:
      return { pre: `${message}\nrequest_id: `, post: '\n' }
    default:
      return { pre: `{\n  "message":"${message}",\n  "request_id":"`, post: '"\n}' }
  }
}

const cache = new Map<string, BodyParts[]>()

/** The four typed template halves for a message; built on first use and kept (messages are few). */
export function bodyParts (message: string): readonly BodyParts[] {
  let p = cache.get(message)
  if (p === undefined) {
    p = [parts(TYPE_JSON, message), parts(TYPE_HTML, message), parts(TYPE_XML, message), parts(TYPE_PLAIN, message)]
    cache.set(message, p)
  }
  return p
}

const MIME: Record<string, number> = {
  'application/json': TYPE_JSON,
  'text/html': TYPE_HTML,
  'application/xml': TYPE_XML,
  'text/plain': TYPE_PLAIN,
  application: TYPE_JSON,
  text: TYPE_PLAIN,
}

/** kong/tools/http.lua get_mime_type (with use_default): unknown types give JSON. */
function mimeType (media: string): number {
  const slash = media.indexOf('/')
  if (slash < 0) return TYPE_JSON
  const major = media.slice(0, slash)
  const minor = media.slice(slash + 1)
  if (minor === '*') return major === '*' ? TYPE_JSON : (MIME[major] ?? TYPE_JSON)
  return MIME[media] ?? TYPE_JSON
}

// kong/tools/http.lua get_response_type's pattern (PCRE, anchored, case-insensitive).
const MEDIA = /^((?:[a-z0-9][a-z0-9\-!#$&^_+.]+|\*)\/(?:[a-z0-9][a-z0-9\-!#$&^_+.]+|\*))(?:\s*;\s*q=(1(?:\.0{0,3})?|0(?:\.\d{0,3})?)|\s*;\s*[a-z0-9][a-z0-9\-!#$&^_+.]+(?:=[^;]*)?)*/i

/** kong/tools/http.lua get_response_type: highest q wins, first on ties; no Accept: JSON. */
export function responseType (accept: string | null): number {
  if (accept === null) return TYPE_JSON
  let type = TYPE_JSON
  let best = 0
  let start = 0
  while (start <= accept.length) {
    let end = accept.indexOf(',', start)
    if (end < 0) end = accept.length
    const value = accept.slice(start, end).trim()
    start = end + 1
    const m = MEDIA.exec(value)
    if (m === null) continue
    const q = m[2] === undefined ? 1 : Number(m[2])
    if (q > best) {
      best = q
      type = mimeType(m[1]!)
    }
  }
  return type
}

/** kong/error_handlers.lua: Accept, else Content-Type, else error_default_type. */
export function errorPageType (accept: string | null, contentType: string | null, defaultType: string): number {
  return responseType(accept ?? contentType ?? defaultType)
}

/** `"200 OK"` for uWS writeStatus, for every code 100..599. */
export const STATUS_LINES: readonly string[] = (() => {
  const out: string[] = []
  for (let i = 0; i < 600; i++) out.push(`${i} ${STATUS_CODES[i] ?? 'Unknown'}`)
  return out
})()

export function statusLine (status: number, message?: string): string {
  if (status >= 100 && status < 600 && STATUS_CODES[status] !== undefined) return STATUS_LINES[status]!
  return `${status} ${message !== undefined && message !== '' ? message : 'Unknown'}`
}
