/**
 * The Admin API server on node:http (the primary's; not hot, so boring and defensive).
 *
 * One request: read the body (size limit) -> route (404, trailing slash) -> OPTIONS/405 ->
 * decode query and body (415, JSON, forms, 1000 arguments) -> handler -> Kong's headers
 * (Server, X-Kong-Admin-Latency, CORS). Every failure becomes a Kong-shaped answer; a thrown
 * bug is a logged 500 and the server keeps serving.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { splitList, type Config } from '../config/load.ts'
import type { Listener } from '../config/listen.ts'
import { SERVER_TOKEN } from '../common/meta.ts'
import type { Pool } from '../db/pool.ts'
import { decodeArgs } from './args.ts'
import { BodyError, interpretBody, parseArgs, readBody } from './body.ts'
import { entityRoutes, type EndpointContext } from './endpoints.ts'
import { enabledPlugins } from '../plugins/schemas.ts'
import { proxyCacheRoutes, type CacheAsk, type ProxyCachePluginRow } from '../plugins/proxy-cache/api.ts'
import type { ProxyCacheResult } from '../plugins/proxy-cache/messages.ts'
import { certificateRoutes } from './routes/certificates.ts'
import { consumerRoutes } from './routes/consumers.ts'
import { pluginRoutes } from './routes/plugins.ts'
import { tagRoutes } from './routes/tags.ts'
import { upstreamRoutes } from './routes/upstreams.ts'
import { upstreamHealthRoutes } from './routes/upstreams-health.ts'
import { debugRoutes, localLogLevel, type LogLevelAdmin } from './routes/debug.ts'
import { cacheRoutes } from './routes/cache.ts'
import { dnsRoutes, type DnsStatsSource } from './routes/dns.ts'
import type { HealthAdmin } from '../primary/health/node.ts'
import { configRoutes, dblessRoutes, rawConfigBody, type DeclarativeAdmin } from './routes/config.ts' // declarative
import { inferArgs } from './infer.ts'
import { kongRoutes, type StatusInfo } from './kong-routes.ts'
import { NOT_FOUND, METHOD_NOT_ALLOWED, errorReply, type LogFn, type Reply } from './respond.ts'
import { allowHeader, matchRoute, overrideRoutes, route, type Call, type Method, type Route } from './router.ts'
import { CONTENT_TYPE as METRICS_CONTENT_TYPE } from '../metrics/text.ts'

export interface AdminContext {
  config: Config
  pool: Pool
  nodeId: string
  hostname: string
  /** GET /status pieces the primary knows: */
  status(): Promise<{ server: Record<string, number>; database: { reachable: boolean }; memory?: unknown; workers?: unknown; configuration_hash?: string }>
  /** extra fields for GET / (pids etc.) */
  info(): Record<string, unknown>
  /** Where errors go (default: stderr). */
  log?: LogFn
  // ---- declarative: DB-less mode (primary/dbless.ts): reads from memory, writes refused, POST /config
  declarative?: DeclarativeAdmin
  /**
   * proxy-cache's /proxy-cache endpoints (plugins/proxy-cache/api.ts), when proxy-cache is an
   * enabled plugin: one request to every serving worker of the current generation (the primary's
   * Supervisor.proxyCache relay; a reload swaps generations, so this is resolved per call).
   */
  proxyCache?: (req: CacheAsk) => Promise<ProxyCacheResult[]>
  /** The node's upstream health registry (primary/health): /upstreams/{u}/health and manual posts. */
  health?: HealthAdmin
  /** The node's dynamic log level (primary/log-level.ts) for /debug; none: one kept by the Admin API alone. */
  logLevel?: LogLevelAdmin
  /**
   * The node's Prometheus text (primary/status-server.ts metricsText): `GET /metrics` on the Admin
   * API too, as Kong's prometheus plugin serves it (kong/plugins/prometheus/api.lua), when
   * prometheus is an enabled plugin.
   */
  metricsText?: () => Promise<string>
  /** The node's DNS statistics for `GET /status/dns` (primary/dns-stats.ts); none: an empty set. */
  dnsStats?: DnsStatsSource
}

const METHODS = new Set<string>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])

function defaultLog (level: string, message: string): void {
  process.stderr.write(`[admin] ${level}: ${message}\n`)
}

/**
 * Which of Kong's admin headers the `headers` setting enables (kong/init.lua admin_header_filter),
 * and the origins `admin_gui_url` allows (api_helpers.lua cors_filter; none: any).
 */
export interface HeaderFlags { server: boolean; latency: boolean; origins: readonly string[] }

function headerFlags (config: Config): HeaderFlags {
  const h = config.headers
  return {
    server: h.has('server_tokens') || h.has('server'),
    latency: h.has('latency_tokens') || h.has('x-kong-admin-latency'),
    origins: splitList(config.raw.admin_gui_url ?? '').map(urlOrigin),
  }
}

/** `scheme://authority` of a URL, as Kong derives admin_gui_origin (a path is dropped). */
function urlOrigin (url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*)/.exec(url)
  return m === null ? url : m[1]!
}

/**
 * Access-Control-Allow-Origin: the request's Origin, or `*` without one; with `admin_gui_url`
 * set, the Origin only when it is one of its origins, else the first of them.
 */
function allowOrigin (req: IncomingMessage, flags: HeaderFlags): string {
  const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined
  if (flags.origins.length === 0) return origin ?? '*'
  return origin !== undefined && flags.origins.includes(origin) ? origin : flags.origins[0]!
}

function send (req: IncomingMessage, res: ServerResponse, flags: HeaderFlags, started: bigint, reply: Reply, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  const headers: Record<string, string | number> = {}
  if (flags.server) headers.Server = SERVER_TOKEN
  if (flags.latency) headers['X-Kong-Admin-Latency'] = String(Number((process.hrtime.bigint() - started) / 1_000_000n))
  headers['Access-Control-Allow-Origin'] = allowOrigin(req, flags)
  headers['Access-Control-Allow-Credentials'] = 'true'
  Object.assign(headers, extra, reply.headers)
  let payload: Buffer | undefined
  if (reply.body !== undefined && reply.status !== 204) {
    if (typeof reply.body === 'string') {
      payload = Buffer.from(reply.body)
      if (headers['Content-Type'] === undefined) headers['Content-Type'] = 'text/plain; charset=utf-8'
    } else {
      payload = Buffer.from(JSON.stringify(reply.body))
      headers['Content-Type'] = 'application/json; charset=utf-8'
    }
  }
  // no Content-Length on a 204 (RFC 9110 8.6)
  if (reply.status !== 204) headers['Content-Length'] = payload?.length ?? 0
  res.writeHead(reply.status, headers)
  res.end(payload)
}

function splitUrl (url: string): { path: string; query: string } {
  const q = url.indexOf('?')
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) }
}

async function dispatch (routes: readonly Route[], req: IncomingMessage, res: ServerResponse, limit: number, flags: HeaderFlags, started: bigint): Promise<void> {
  const method = req.method ?? 'GET'
  let buf: Buffer
  try {
    buf = await readBody(req, limit)
  } catch (err) {
    if (err instanceof BodyError) {
      // Unread body bytes would be parsed as the next request: close after answering.
      send(req, res, flags, started, { status: err.status, body: err.payload }, { Connection: 'close' })
      return
    }
    throw err
  }
  const { path, query } = splitUrl(req.url ?? '/')
  const match = matchRoute(routes, path)
  if (match === null) { send(req, res, flags, started, NOT_FOUND); return }
  const r = match.route
  if (method === 'OPTIONS') {
    const allow = allowHeader(r)
    const acrh = req.headers['access-control-request-headers']
    send(req, res, flags, started, { status: 204 }, {
      Allow: allow,
      'Access-Control-Allow-Methods': allow,
      'Access-Control-Allow-Headers': typeof acrh === 'string' ? acrh : 'Content-Type',
    })
    return
  }
  const m = (method === 'HEAD' ? 'GET' : method) as Method
  const handler = METHODS.has(m) ? r.handlers[m] : undefined
  if (handler === undefined) { send(req, res, flags, started, METHOD_NOT_ALLOWED); return }

  const rawArgs = parseArgs(Buffer.from(query, 'latin1'))
  // ---- declarative: /config takes JSON and YAML bodies undecoded (parsed off the primary thread)
  const raw = r.rawBody === true && m === 'POST' ? rawConfigBody(req) : null
  const body = raw !== null ? { kind: 'none' as const } : interpretBody(req, m, buf)
  const call: Call = {
    method: m,
    params: match.params,
    query: decodeArgs(rawArgs, m),
    rawQuery: decodeArgs(rawArgs, m),
    body: Object.create(null),
    bodyKind: body.kind,
  }
  if (raw !== null) call.raw = { bytes: buf, json: raw.json } // declarative
  if (r.schema !== undefined) inferArgs(call.query, r.schema)
  if (body.kind === 'json') call.body = body.value
  else if (body.kind === 'args') {
    call.body = decodeArgs(body.args, m)
    if (r.schema !== undefined) inferArgs(call.body, r.schema)
  }
  send(req, res, flags, started, await handler(call))
}

/** The request handler, and whether a raw path names an endpoint (for requests node cannot parse). */
export interface AdminHandler {
  (req: IncomingMessage, res: ServerResponse): void
  knows (path: string): boolean
}

/** The request handler: never throws, never leaves a request unanswered. */
export function createAdminHandler (ctx: AdminContext): AdminHandler {
  const log = ctx.log ?? defaultLog
  const limit = ctx.config.adminMaxBodySize
  const flags = headerFlags(ctx.config)
  const routes: Route[] = []
  const ec: EndpointContext = { pool: ctx.pool, nodeId: ctx.nodeId, enabledPlugins: new Set(enabledPlugins(ctx.config.plugins)) }
  routes.push(...kongRoutes({
    ...ctx,
    enabledPlugins: ec.enabledPlugins,
    status: async () => await ctx.status() as StatusInfo,
    templates: () => routes.map((x) => x.template),
  }))
  const generated = entityRoutes(ec)
  routes.push(...overrideRoutes(generated, [
    ...consumerRoutes(ec, generated),
    ...pluginRoutes(ec, generated),
    ...certificateRoutes(ec, generated),
    ...upstreamRoutes(ec),
    ...tagRoutes(ec),
  ]))
  routes.push(...cacheRoutes(), ...debugRoutes({ dbless: ctx.config.database === 'off', logLevel: ctx.logLevel ?? localLogLevel(ctx.config), log }))
  routes.push(...dnsRoutes(ctx.config, ctx.dnsStats ?? null))
  // ---- BEGIN declarative: /config; in DB-less mode, entity endpoints read memory and refuse writes (routes/config.ts)
  routes.push(...configRoutes(ctx.declarative ?? null))
  if (ctx.declarative !== undefined) routes.splice(0, routes.length, ...dblessRoutes(routes, ctx.declarative, ctx.nodeId))
  // ---- END declarative
  // upstream health: after the DB-less rewrite (reads from either store; posts allowed in both modes)
  const decl = ctx.declarative
  routes.splice(0, routes.length, ...overrideRoutes(routes, upstreamHealthRoutes(ec, ctx.health ?? null, decl === undefined ? null : () => decl.store())))
  const metricsText = ctx.metricsText
  if (metricsText !== undefined && ec.enabledPlugins.has('prometheus')) {
    routes.push(route('/metrics', {
      GET: async (): Promise<Reply> => ({ status: 200, body: await metricsText(), headers: { 'Content-Type': METRICS_CONTENT_TYPE } }),
    }))
  }
  const ask = ctx.proxyCache
  if (ask !== undefined && ec.enabledPlugins.has('proxy-cache')) {
    routes.push(...proxyCacheRoutes({ plugins: () => proxyCacheRows(ctx), plugin: (id) => proxyCacheRow(ctx, id), ask }))
  }
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint()
    dispatch(routes, req, res, limit, flags, started).catch((err: unknown) => {
      const reply = errorReply(err, log, `${req.method ?? '?'} ${req.url ?? '?'}`)
      try { send(req, res, flags, started, reply) } catch { res.destroy() }
    })
  }
  return Object.assign(handler, { knows: (path: string) => matchRoute(routes, splitUrl(path).path) !== null })
}

function pluginRow (r: Record<string, unknown>): ProxyCachePluginRow {
  return { id: String(r.id), name: String(r.name), config: (r.config ?? null) as Record<string, unknown> | null }
}

/** Every proxy-cache plugin row (from memory in DB-less mode). */
async function proxyCacheRows (ctx: AdminContext): Promise<ProxyCachePluginRow[]> {
  if (ctx.declarative !== undefined) return ctx.declarative.store().all('plugins').filter((r) => r.name === 'proxy-cache').map(pluginRow)
  const r = await ctx.pool.query<Record<string, unknown>>("select id, name, config from plugins where name = 'proxy-cache'")
  return r.rows.map(pluginRow)
}

/** The plugin row with this id, whatever its name. */
async function proxyCacheRow (ctx: AdminContext, id: string): Promise<ProxyCachePluginRow | null> {
  if (ctx.declarative !== undefined) {
    const row = ctx.declarative.store().selectById('plugins', id)
    return row === null ? null : pluginRow(row)
  }
  const r = await ctx.pool.query<Record<string, unknown>>('select id, name, config from plugins where id = $1', [id])
  return r.rows.length === 0 ? null : pluginRow(r.rows[0]!)
}

/**
 * A method node's parser does not know (`GEEEET`): nginx takes any upper-case token, so Kong
 * routes it and answers 405 Method not allowed on an endpoint, 404 Not found elsewhere.
 */
const UNKNOWN_METHOD = /^[A-Z_-]{1,32} (\/[^ \r\n]*) HTTP\/1\.[01]\r?\n/

function unknownMethodStatus (err: Error & { code?: string; rawPacket?: unknown }, knows: (path: string) => boolean): 404 | 405 | null {
  if (err.code !== 'HPE_INVALID_METHOD' || !Buffer.isBuffer(err.rawPacket)) return null
  const m = UNKNOWN_METHOD.exec(err.rawPacket.subarray(0, 8192).toString('latin1'))
  if (m === null) return null
  return knows(m[1]!) ? 405 : 404
}

/**
 * A request whose target has bytes >= 0x80 (`/consumers?tags=\xff`): nginx passes them on and
 * Kong answers as for their percent-encoded form ("invalid filter syntax", "invalid utf-8"),
 * but node's parser refuses the request. A complete request without a body is rebuilt with
 * those bytes percent-encoded and `Connection: close`; anything else stays a 400.
 */
function rebuiltRequest (err: Error & { code?: string; rawPacket?: unknown }): Buffer | null {
  if (err.code !== 'HPE_INVALID_URL' || !Buffer.isBuffer(err.rawPacket)) return null
  const raw = err.rawPacket
  const end = raw.indexOf('\r\n\r\n')
  if (end < 0 || end + 4 !== raw.length || end > 16 * 1024) return null
  const head = raw.subarray(0, end).toString('latin1')
  const lineEnd = head.indexOf('\r\n')
  const m = /^([A-Z]{1,16}) ([^ \r\n\x00-\x1f\x7f]+) (HTTP\/1\.[01])$/.exec(lineEnd < 0 ? head : head.slice(0, lineEnd))
  if (m === null || !/[\x80-\xff]/.test(m[2]!)) return null
  const headers = lineEnd < 0 ? [] : head.slice(lineEnd + 2).split('\r\n')
  if (headers.some((h) => /^(transfer-encoding|content-length)\s*:/i.test(h) && !/^content-length\s*:\s*0\s*$/i.test(h))) return null
  const target = m[2]!.replace(/[\x80-\xff]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
  const kept = headers.filter((h) => !/^connection\s*:/i.test(h))
  return Buffer.from(`${m[1]!} ${target} ${m[3]!}\r\n${kept.map((h) => h + '\r\n').join('')}Connection: close\r\n\r\n`, 'latin1')
}

/** Runs a rebuilt request through the server on a stream whose output goes to the socket. */
function replay (server: Server, socket: Socket, bytes: Buffer): void {
  const stream = new Duplex({
    read () {},
    write (chunk: Buffer, _enc, cb) { socket.write(chunk, cb) },
    final (cb) { socket.end(); this.push(null); cb() },
  })
  stream.on('error', () => { socket.destroy() })
  socket.on('error', () => { stream.destroy() })
  socket.on('close', () => { stream.destroy() })
  server.emit('connection', stream)
  stream.push(bytes)
}

/** A request node's parser refused: Kong's JSON answer (400, 431, or 404/405 for an unknown method), then close. */
function onClientError (err: Error & { code?: string; rawPacket?: unknown }, socket: Socket, knows: (path: string) => boolean, server: Server): void {
  if (!socket.writable) { socket.destroy(); return }
  const rebuilt = rebuiltRequest(err)
  if (rebuilt !== null) { replay(server, socket, rebuilt); return }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW'
  const unknown = unknownMethodStatus(err, knows)
  const [status, message] = unknown === 405
    ? ['405 Method Not Allowed', 'Method not allowed']
    : unknown === 404
      ? ['404 Not Found', 'Not found']
      : tooLarge ? ['431 Request Header Fields Too Large', 'Request header or cookie too large'] : ['400 Bad Request', 'Bad request']
  const body = JSON.stringify({ message })
  socket.end(`HTTP/1.1 ${status}\r\n` +
    `Server: ${SERVER_TOKEN}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n\r\n${body}`)
}

export async function startAdmin (ctx: AdminContext, listeners: Listener[]): Promise<{ ports: number[]; close(): Promise<void> }> {
  const handler = createAdminHandler(ctx)
  const servers: Server[] = []
  const ports: number[] = []
  const sockets = new Set<Socket>()
  const close = async (): Promise<void> => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve())
      s.closeIdleConnections()
    })))
    for (const s of sockets) s.destroy()
  }
  try {
    for (const l of listeners) {
      if (l.ssl) continue // TLS admin listeners come with certificates support
      const server = createServer({ requestTimeout: 60_000, headersTimeout: 30_000 }, handler)
      server.on('clientError', (err: Error & { code?: string }, socket: Socket) => { onClientError(err, socket, handler.knows, server) })
      server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: l.host, port: l.port, backlog: l.backlog ?? 511 }, () => { server.off('error', reject); resolve() })
      })
      servers.push(server)
      const addr = server.address()
      ports.push(typeof addr === 'object' && addr !== null ? addr.port : l.port)
    }
  } catch (err) {
    await close()
    throw err
  }
  return { ports, close }
}

