/**
 * redirect (kong/plugins/redirect/handler.lua, PRIORITY 779): every request is answered with
 * `status_code` (301 by default), `Location: <location>` and the body `redirecting`. With
 * keep_incoming_path the location keeps its scheme, authority and fragment and takes the
 * request's path and query string.
 */
import type { FlatHeaders, PluginHandler } from '../types.ts'

export interface RedirectConfig {
  status_code: number
  location: string
  keep_incoming_path?: boolean | null
}

interface Prepared {
  readonly status: number
  readonly headers: FlatHeaders
  /** keep_incoming_path: `scheme://userinfo@host:port` and `#fragment` around the request path. */
  readonly prefix: string | null
  readonly hash: string
}

export const handler: PluginHandler<RedirectConfig, Prepared> = {
  name: 'redirect',
  priority: 779,
  prepare (c) {
    let prefix: string | null = null
    let hash = ''
    if (c.keep_incoming_path === true) {
      const u = new URL(c.location)
      const auth = u.username !== '' ? `${u.username}${u.password !== '' ? `:${u.password}` : ''}@` : ''
      prefix = `${u.protocol}//${auth}${u.host}`
      hash = u.hash
    }
    return { status: c.status_code ?? 301, headers: ['Location', c.location], prefix, hash }
  },
  access (ctx, c) {
    if (c.prefix === null) return ctx.exit(c.status, 'redirecting', c.headers)
    const location = `${c.prefix}${ctx.path}${ctx.query !== null && ctx.query !== '' ? `?${ctx.query}` : ''}${c.hash}`
    return ctx.exit(c.status, 'redirecting', ['Location', location])
  },
}
