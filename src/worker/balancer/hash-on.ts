/**
 * The consistent-hashing input of a request, as Kong computes it once per request on the first
 * try (kong/runloop/balancer/init.lua get_value_to_hash): `hash_on`, then `hash_fallback` when
 * the first gives nothing, else "". Compiled once per upstream into a HashSpec.
 *
 *   consumer     the authenticated consumer's id, else the credential's id
 *   ip           the client address (after trusted real-IP handling: nginx $remote_addr)
 *   header       the header's values joined with ", " (nginx $http_<name>)
 *   cookie       the cookie's value; absent: a new UUID, hashed and sent back as
 *                `Set-Cookie: <name>=<uuid>; Path=<hash_on_cookie_path>; Same-Site=Lax; HttpOnly`
 *   path         the request path
 *   query_arg    the argument; several values sorted and joined with ","; a bare flag is "true"
 *   uri_capture  the named (or numbered) capture of the route's regex path
 */
import { randomUUID } from 'node:crypto'
import type { RequestContext } from '../context.ts'

const H_NONE = 0
const H_CONSUMER = 1
const H_IP = 2
const H_HEADER = 3
const H_COOKIE = 4
const H_PATH = 5
const H_QUERY = 6
const H_CAPTURE = 7

interface HashSource { kind: number; name: string }

export interface HashSpec {
  readonly primary: HashSource
  readonly fallback: HashSource
  readonly cookiePath: string
}

function kindOf (v: unknown): number {
  switch (v) {
    case 'consumer': return H_CONSUMER
    case 'ip': return H_IP
    case 'header': return H_HEADER
    case 'cookie': return H_COOKIE
    case 'path': return H_PATH
    case 'query_arg': return H_QUERY
    case 'uri_capture': return H_CAPTURE
    default: return H_NONE
  }
}

function str (v: unknown): string {
  return typeof v === 'string' ? v : ''
}

/** null when the upstream does not hash (hash_on none). */
export function compileHashSpec (u: Record<string, unknown>): HashSpec | null {
  const primary = kindOf(u.hash_on)
  if (primary === H_NONE) return null
  const fallback = kindOf(u.hash_fallback)
  const name = (k: number, first: boolean): string => {
    switch (k) {
      case H_HEADER: return str(first ? u.hash_on_header : u.hash_fallback_header).toLowerCase()
      case H_COOKIE: return str(u.hash_on_cookie)
      case H_QUERY: return str(first ? u.hash_on_query_arg : u.hash_fallback_query_arg)
      case H_CAPTURE: return str(first ? u.hash_on_uri_capture : u.hash_fallback_uri_capture)
      default: return ''
    }
  }
  return {
    primary: { kind: primary, name: name(primary, true) },
    fallback: { kind: fallback, name: name(fallback, false) },
    cookiePath: str(u.hash_on_cookie_path) || '/',
  }
}

function valueOf (ctx: RequestContext, s: HashSource, spec: HashSpec): string | undefined {
  switch (s.kind) {
    case H_CONSUMER: {
      const id = ctx.consumer?.id ?? ctx.credential?.id
      return typeof id === 'string' ? id : undefined
    }
    case H_IP: return ctx.forwardedIp()
    case H_HEADER: {
      const v = ctx.getHeaderAll(s.name)
      return v === undefined ? undefined : typeof v === 'string' ? v : v.join(', ')
    }
    case H_COOKIE: {
      const v = ctx.getCookie(s.name)
      if (v !== undefined) return v
      const id = randomUUID()
      ctx.addResponseHeader('Set-Cookie', `${s.name}=${id}; Path=${spec.cookiePath}; Same-Site=Lax; HttpOnly`)
      return id
    }
    case H_PATH: return ctx.path
    case H_QUERY: {
      const v = ctx.getQueryArg(s.name)
      if (v === undefined) return undefined
      if (Array.isArray(v)) return v.map(String).sort().join(',')
      return String(v)
    }
    case H_CAPTURE: {
      const c = ctx.match?.captures ?? null
      if (c === null) return undefined
      const named = c.named[s.name]
      if (named !== undefined) return named
      const i = Number(s.name)
      return Number.isInteger(i) ? c.unnamed[i] : undefined
    }
    default: return undefined
  }
}

/** The string Kong hashes for this request ("" when neither source gives one). */
export function hashInput (ctx: RequestContext, spec: HashSpec): string {
  return valueOf(ctx, spec.primary, spec) ?? valueOf(ctx, spec.fallback, spec) ?? ''
}
