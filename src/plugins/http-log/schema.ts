/** http-log config (kong/plugins/http-log/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { luaCode, queue, typedefs } from '../../db/schema/typedefs.ts'
import { parseUrl } from '../../db/schema/url.ts'

function check (config: unknown): string | undefined {
  const c = config as { http_endpoint?: unknown; headers?: unknown }
  const u = typeof c.http_endpoint === 'string' ? parseUrl(c.http_endpoint) : null
  if (u?.userinfo === undefined || c.headers === null || typeof c.headers !== 'object') return undefined
  for (const name of Object.keys(c.headers)) {
    if (name.toLowerCase() === 'authorization') {
      return "specifying both an 'Authorization' header and user info in 'http_endpoint' is not allowed"
    }
  }
  return undefined
}

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        http_endpoint: { ...typedefs.url, required: true, encrypted: true, referenceable: true },
        method: { type: 'string', default: 'POST', one_of: ['POST', 'PUT', 'PATCH'] },
        content_type: { type: 'string', default: 'application/json', one_of: ['application/json', 'application/json; charset=utf-8'] },
        timeout: { type: 'number', default: 10000 },
        keepalive: { type: 'number', default: 60000 },
        // deprecated, kept for configurations that still carry them
        retry_count: { type: 'integer' },
        queue_size: { type: 'integer' },
        flush_timeout: { type: 'number' },
        headers: {
          type: 'map',
          keys: {
            ...typedefs.header_name,
            match_none: [
              { pattern: '^[Hh][Oo][Ss][Tt]$', err: "cannot contain 'Host' header" },
              { pattern: '^[Cc][Oo][Nn][Tt][Ee][Nn][Tt]%-[Ll][Ee][nn][Gg][Tt][Hh]$', err: "cannot contain 'Content-Length' header" },
              { pattern: '^[Cc][Oo][Nn][Tt][Ee][Nn][Tt]%-[Tt][Yy][Pp][Ee]$', err: "cannot contain 'Content-Type' header" },
            ],
          },
          values: { type: 'string', referenceable: true },
        },
        queue,
        custom_fields_by_lua: luaCode,
      },
      custom_validator: check,
    },
  },
}
