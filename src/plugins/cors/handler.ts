/**
 * cors (kong/plugins/cors/handler.lua, PRIORITY 2000).
 *
 * Preflight (OPTIONS with Origin and Access-Control-Request-Method): answered 200 with an empty
 * body unless preflight_continue; Allow-Origin / Allow-Credentials / Allow-Headers (config, else
 * the echoed request headers) / Allow-Methods / Max-Age / Allow-Private-Network. Other requests
 * get Allow-Origin, Allow-Credentials and Expose-Headers in the header filter, on every response
 * including errors (not when Origin is absent and allow_origin_absent is off).
 *
 * Allow-Origin: `*` for no origins or `["*"]`; a single literal origin as configured; else the
 * normalised request origin when an entry matches: literal entries compare normalised
 * `scheme://host[:port]` (default ports dropped), regex entries (anything outside
 * `[A-Za-z0-9.:/-]`) are anchored at both ends and tested against the host, or against the
 * normalised origin when the entry contains `:`. Vary: Origin whenever it is not `*`.
 * All joining and regex compiling happens in prepare; request origins are normalised once and
 * cached.
 */
import type { PluginContext, PluginHandler } from '../types.ts'

export interface CorsConfig {
  origins?: string[] | null
  headers?: string[] | null
  exposed_headers?: string[] | null
  methods?: string[] | null
  max_age?: number | null
  credentials: boolean
  private_network: boolean
  preflight_continue: boolean
  allow_origin_absent?: boolean
}

interface Entry {
  readonly star: boolean
  readonly regex: RegExp | null
  readonly domain: string
  readonly byHost: boolean
}

interface Prepared {
  readonly allowAll: boolean
  /** A single literal origin, sent as configured. */
  readonly single: string | null
  readonly entries: readonly Entry[]
  readonly credentials: boolean
  readonly allowHeaders: string | null
  readonly exposeHeaders: string | null
  readonly methods: string
  readonly maxAge: string | null
  readonly privateNetwork: boolean
  readonly preflightContinue: boolean
  readonly allowOriginAbsent: boolean
}

const LITERAL = /^[A-Za-z0-9.:/-]+$/
const DEFAULT_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT'
const SKIP = 'cors:preflight'
const ACAO = 'access-control-allow-origin'

interface Normalized { readonly domain: string; readonly host: string }

/** socket.url.parse-based normalize_origin. */
export function normalizeOrigin (origin: string): Normalized {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?/.exec(origin)
  if (m === null || m[2] === '') return { domain: origin, host: origin }
  const scheme = m[1]!
  const host = m[2]!
  let port = m[3] !== undefined && m[3] !== '' ? m[3] : null
  if ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443')) port = null
  return { domain: `${scheme}://${host}${port === null ? '' : `:${port}`}`, host }
}

const cache = new Map<string, Normalized>()
function normalized (origin: string): Normalized {
  let n = cache.get(origin)
  if (n === undefined) {
    if (cache.size >= 10_000) cache.clear()
    n = normalizeOrigin(origin)
    cache.set(origin, n)
  }
  return n
}

function prepareEntry (raw: string): Entry {
  if (raw === '*') return { star: true, regex: null, domain: '', byHost: false }
  const byHost = !raw.includes(':')
  if (LITERAL.test(raw)) return { star: false, regex: null, domain: normalizeOrigin(raw).domain, byHost }
  let e = raw
  if (!e.endsWith('$')) e += '$'
  if (e.startsWith('^')) e = e.slice(1)
  return { star: false, regex: new RegExp(`^(?:${e})`), domain: '', byHost }
}

function joined (list: string[] | null | undefined): string | null {
  return list != null && list.length > 0 ? list.join(',') : null
}

function prepare (c: CorsConfig): Prepared {
  const origins = c.origins ?? []
  const allowAll = origins.length === 0 || (origins.length === 1 && origins[0] === '*')
  return {
    allowAll,
    single: origins.length === 1 && LITERAL.test(origins[0]!) ? origins[0]! : null,
    entries: allowAll ? [] : origins.map(prepareEntry),
    credentials: c.credentials === true,
    allowHeaders: joined(c.headers),
    exposeHeaders: joined(c.exposed_headers),
    methods: joined(c.methods) ?? DEFAULT_METHODS,
    maxAge: typeof c.max_age === 'number' ? String(c.max_age) : null,
    privateNetwork: c.private_network === true,
    preflightContinue: c.preflight_continue === true,
    allowOriginAbsent: c.allow_origin_absent !== false,
  }
}

function vary (ctx: PluginContext, headerFilter: boolean): void {
  if (headerFilter) ctx.addResponseHeader('vary', 'Origin')
  else ctx.setResponseHeader('vary', 'Origin')
}

/** configure_origin: true when Allow-Origin is `*`. */
function configureOrigin (ctx: PluginContext, c: Prepared, headerFilter: boolean, origin: string | undefined): boolean {
  if (c.allowAll) {
    ctx.setResponseHeader(ACAO, '*')
    return true
  }
  vary(ctx, headerFilter)
  if (c.single !== null) {
    ctx.setResponseHeader(ACAO, c.single)
    return false
  }
  if (origin !== undefined && origin !== '') {
    const req = normalized(origin)
    for (const e of c.entries) {
      if (e.star) {
        ctx.setResponseHeader(ACAO, '*')
        return true
      }
      const found = e.regex !== null ? e.regex.test(e.byHost ? req.host : req.domain) : req.domain === e.domain
      if (found) {
        ctx.setResponseHeader(ACAO, req.domain)
        return false
      }
    }
  }
  ctx.clearResponseHeader(ACAO)
  return false
}

function configureCredentials (ctx: PluginContext, c: Prepared, allowAll: boolean, headerFilter: boolean, origin: string | undefined): void {
  if (!c.credentials) return
  if (!allowAll) {
    ctx.setResponseHeader('access-control-allow-credentials', 'true')
    return
  }
  if (origin !== undefined && origin !== '') {
    vary(ctx, headerFilter)
    ctx.setResponseHeader(ACAO, origin)
    ctx.setResponseHeader('access-control-allow-credentials', 'true')
  }
}

export const handler: PluginHandler<CorsConfig, Prepared> = {
  name: 'cors',
  priority: 2000,
  prepare,
  access (ctx, c) {
    if (ctx.method !== 'OPTIONS') return
    const origin = ctx.getHeader('origin')
    if (origin === undefined || origin === '' || ctx.getHeader('access-control-request-method') === undefined) return
    ctx.shared.set(SKIP, true)
    if (c.preflightContinue) return
    const allowAll = configureOrigin(ctx, c, false, origin)
    configureCredentials(ctx, c, allowAll, false, origin)
    if (c.allowHeaders !== null) {
      ctx.setResponseHeader('access-control-allow-headers', c.allowHeaders)
    } else {
      const acrh = ctx.getHeader('access-control-request-headers')
      if (acrh !== undefined) ctx.setResponseHeader('access-control-allow-headers', acrh)
      else ctx.clearResponseHeader('access-control-allow-headers')
    }
    ctx.setResponseHeader('access-control-allow-methods', c.methods)
    if (c.maxAge !== null) ctx.setResponseHeader('access-control-max-age', c.maxAge)
    if (c.privateNetwork && ctx.getHeader('access-control-request-private-network') === 'true') {
      ctx.setResponseHeader('access-control-allow-private-network', 'true')
    }
    ctx.exit(200)
  },
  headerFilter (ctx, c) {
    // Only a preflight sets the flag, so other methods skip the lookup (and the map allocation).
    if (ctx.method === 'OPTIONS' && ctx.shared.get(SKIP) === true) return
    const origin = ctx.getHeader('origin')
    if ((origin === undefined || origin === '') && !c.allowOriginAbsent) return
    const allowAll = configureOrigin(ctx, c, true, origin)
    configureCredentials(ctx, c, allowAll, true, origin)
    if (c.exposeHeaders !== null) ctx.setResponseHeader('access-control-expose-headers', c.exposeHeaders)
  },
}
