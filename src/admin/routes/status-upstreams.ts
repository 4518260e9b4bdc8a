/**
 * The read-only upstream routes of Kong's Status API in DB-less mode (kong/status/init.lua: the
 * GET methods of kong/api/routes/upstreams.lua, attached only when `database = off`):
 *
 *   GET /upstreams/{u}/targets          the active targets page (newest first, numeric offset)
 *   GET /upstreams/{u}/targets/all      every target, paged by id
 *   GET /upstreams/{u}/targets/{t}      one target, by id or `host:port`
 *   GET /upstreams/{u}/health           targets with the node's health (`?balancer_health=1`)
 *
 * HEAD answers as GET, OPTIONS lists `GET, HEAD, OPTIONS`, any other method on these paths is 405
 * (no writes: POST/PUT/PATCH/DELETE), and the manual health posts are not routes here (404), as on
 * Kong's Status API. `/upstreams` and `/upstreams/{u}` themselves are not in that module (they
 * are generated from the DAO for the Admin API only), so the Status API does not serve them.
 *
 * The handlers are the Admin API's own in DB-less mode: routes/upstreams.ts rewritten by
 * routes/config.ts dblessRoutes to read the served configuration, and routes/upstreams-health.ts
 * with the node's health registry; the answers are the Admin API's, byte for byte.
 */
import type { Pool } from '../../db/pool.ts'
import type { HealthAdmin } from '../../primary/health/node.ts'
import { decodeArgs } from '../args.ts'
import { parseArgs } from '../body.ts'
import type { EndpointContext } from '../endpoints.ts'
import { inferArgs } from '../infer.ts'
import { errorReply, METHOD_NOT_ALLOWED, type LogFn, type Reply } from '../respond.ts'
import { allowHeader, matchRoute, overrideRoutes, route, type Call, type Route } from '../router.ts'
import { dblessRoutes, type DeclarativeAdmin } from './config.ts'
import { upstreamRoutes } from './upstreams.ts'
import { upstreamHealthRoutes } from './upstreams-health.ts'

export interface StatusUpstreamsContext {
  /** The DB-less node's served configuration (primary/dbless.ts). */
  declarative: DeclarativeAdmin
  /** The node's health registry; null: every target HEALTHCHECKS_OFF. */
  health: HealthAdmin | null
  nodeId: string
  /** The DB-less node's pool object (every query refused); no handler here queries it. */
  pool: Pool
}

/** The GET handlers of the Admin API's DB-less upstream routes that Kong's Status API serves. */
export function statusUpstreamRoutes (c: StatusUpstreamsContext): Route[] {
  const ec: EndpointContext = { pool: c.pool, nodeId: c.nodeId, enabledPlugins: new Set() }
  const fromMemory = dblessRoutes(upstreamRoutes(ec), c.declarative, c.nodeId)
  const all = overrideRoutes(fromMemory, upstreamHealthRoutes(ec, c.health, () => c.declarative.store()))
  const out: Route[] = []
  for (const r of all) {
    const get = r.handlers.GET
    if (get !== undefined) out.push(route(r.template, { GET: get }, r.schema))
  }
  return out
}

export interface StatusRouteRequest {
  method: string
  /** The raw request target (`/upstreams/a%20b/targets?size=2`). */
  url: string
  /** Access-Control-Request-Headers, echoed by OPTIONS. */
  requestHeaders?: string
}

/**
 * The answer of `routes` to one request, or null when no route matches the path (the caller's
 * 404). Query arguments are decoded as the Admin API decodes them; a GET body is ignored.
 */
export async function answerStatusRoute (routes: readonly Route[], req: StatusRouteRequest, log: LogFn): Promise<Reply | null> {
  const q = req.url.indexOf('?')
  const path = q < 0 ? req.url : req.url.slice(0, q)
  const query = q < 0 ? '' : req.url.slice(q + 1)
  const match = matchRoute(routes, path)
  if (match === null) return null
  const r = match.route
  if (req.method === 'OPTIONS') {
    const allow = allowHeader(r)
    return { status: 204, headers: { Allow: allow, 'Access-Control-Allow-Methods': allow, 'Access-Control-Allow-Headers': req.requestHeaders ?? 'Content-Type' } }
  }
  const handler = r.handlers.GET
  if ((req.method !== 'GET' && req.method !== 'HEAD') || handler === undefined) return METHOD_NOT_ALLOWED
  try {
    const raw = parseArgs(Buffer.from(query, 'latin1'))
    const call: Call = {
      method: 'GET',
      params: match.params,
      query: decodeArgs(raw, 'GET'),
      rawQuery: decodeArgs(raw, 'GET'),
      body: Object.create(null) as Record<string, unknown>,
      bodyKind: 'none',
    }
    if (r.schema !== undefined) inferArgs(call.query, r.schema)
    return await handler(call)
  } catch (err) {
    return errorReply(err, log, `${req.method} ${req.url}`)
  }
}
