/**
 * Request bodies for plugins: `kong.request.get_body()` (JSON, application/x-www-form-urlencoded,
 * multipart/form-data; chosen by Content-Type, nothing else is parsed; a form gives its first
 * `lua_max_post_args` arguments, as ngx.req.get_post_args) and the re-encoding of
 * `kong.service.request.set_body()` in the same type. Only run when a plugin asks for a body.
 */
import type { ParsedBody, QueryValue } from '../plugins/types.ts'
import { encodeQuery, parseQuery } from './query-args.ts'
import { settings } from './settings.ts'

export const CT_JSON = 'application/json'
export const CT_FORM = 'application/x-www-form-urlencoded'
export const CT_MULTIPART = 'multipart/form-data'

/** The media type of a Content-Type value, lowercase, without parameters. */
export function mediaType (contentType: string | null): string {
  if (contentType === null) return ''
  const semi = contentType.indexOf(';')
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
}

function boundaryOf (contentType: string): string | null {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  return m === null ? null : (m[1] ?? m[2] ?? null)
}

function parseMultipart (body: Buffer, boundary: string): Record<string, QueryValue> | null {
  const out: Record<string, QueryValue> = Object.create(null) as Record<string, QueryValue>
  const text = body.toString('latin1')
  const delim = `--${boundary}`
  let pos = text.indexOf(delim)
  if (pos < 0) return null
  for (;;) {
    pos += delim.length
    if (text.startsWith('--', pos)) break
    const headEnd = text.indexOf('\r\n\r\n', pos)
    if (headEnd < 0) return null
    const head = text.slice(pos, headEnd)
    const next = text.indexOf(`\r\n${delim}`, headEnd + 4)
    if (next < 0) return null
    const value = Buffer.from(text.slice(headEnd + 4, next), 'latin1').toString('utf8')
    const name = /content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(head)?.[1]
    if (name !== undefined) {
      const prev = out[name]
      if (prev === undefined) out[name] = value
      else if (Array.isArray(prev)) prev.push(value)
      else out[name] = [prev, value]
    }
    pos = next + 2
  }
  return out
}

/** `kong.request.get_body()`; null when the type is not one of the three or the body is invalid. */
export function parseBody (body: Buffer, contentType: string | null): ParsedBody | null {
  const mt = mediaType(contentType)
  if (mt === CT_JSON || (mt.startsWith('application/') && mt.endsWith('+json'))) {
    try {
      return { type: 'json', value: JSON.parse(body.toString('utf8')) as unknown }
    } catch {
      return null
    }
  }
  if (mt === CT_FORM) return { type: 'form', value: parseQuery(body.toString('latin1'), settings.maxPostArgs) }
  if (mt === CT_MULTIPART) {
    const b = boundaryOf(contentType!)
    if (b === null) return null
    const v = parseMultipart(body, b)
    return v === null ? null : { type: 'multipart', value: v }
  }
  return null
}

/** Encodes `parsed` back; returns the bytes and the Content-Type to send. */
export function encodeBody (parsed: ParsedBody, contentType: string | null): { body: Buffer; contentType: string } {
  switch (parsed.type) {
    case 'json':
      return { body: Buffer.from(JSON.stringify(parsed.value ?? {})), contentType: contentType ?? CT_JSON }
    case 'form':
      return { body: Buffer.from(encodeQuery(parsed.value as Record<string, QueryValue>)), contentType: contentType ?? CT_FORM }
    case 'multipart': {
      const boundary = (contentType !== null ? boundaryOf(contentType) : null) ?? `sluice${Date.now().toString(16)}`
      const fields = parsed.value as Record<string, QueryValue>
      let s = ''
      for (const k of Object.keys(fields)) {
        const v = fields[k]!
        for (const x of Array.isArray(v) ? v : [v]) {
          s += `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${x === true ? '' : x}\r\n`
        }
      }
      s += `--${boundary}--\r\n`
      return { body: Buffer.from(s), contentType: contentType ?? `${CT_MULTIPART}; boundary=${boundary}` }
    }
  }
}
