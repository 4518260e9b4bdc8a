/**
 * Kong's Status API (`status_listen`, default 127.0.0.1:8007; kong/status/*, kong.md 1.7) on the
 * primary, plus the node's metrics store:
 *
 *   GET  /status        Kong's /status body (memory, server, database) plus a `sluice` section
 *   GET  /status/ready  200 {"message":"ready"} when the node has a configuration and every worker
 *                       serves it; 503 {"message": why} otherwise (starting, draining, a worker
 *                       being replaced)
 *   POST /status/ready  status=draining: from now on 503 {"message":"draining"} (what `kong drain`
 *                       and `sluice drain` / `sluice quit -w` do), 204
 *   GET  /metrics       Prometheus text (metrics/exposition.ts)
 *   GET  /status/dns    the node's DNS statistics with new_dns_client on, else 501
 *                       (kong/api/routes/dns.lua; admin/routes/dns.ts, primary/dns-stats.ts)
 *   GET  /upstreams/{u}/targets, /targets/all, /targets/{t}, /health: DB-less mode only, the
 *                       Admin API's read-only upstream routes (kong/status/init.lua;
 *                       admin/routes/status-upstreams.ts), handed over by `routes`
 *
 * Unlike Kong in traditional mode, readiness does not require the database: workers keep serving
 * the last snapshot through a PostgreSQL outage (ARCHITECTURE.md), and a probe that failed then
 * would take every node out of its load balancer at once. `kong_datastore_reachable` and
 * /status report the database.
 *
 * The metrics store listens to the `metrics-delta` event of every Supervisor generation it is
 * attached to (the one at start, and each one a reload creates); scrapes only read it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Config } from '../config/load.ts'
import type { Pool } from '../db/pool.ts'
import { escapeNginx, LineWriter, log, parseAccessLog, timeLocal } from '../common/log.ts'
import { SLUICE_VERSION } from '../common/meta.ts'
import { renderMetrics, type NodeInfo } from '../metrics/exposition.ts'
import { MetricsStore } from '../metrics/store.ts'
import { CONTENT_TYPE } from '../metrics/text.ts'
import { dnsStatusReply, type DnsStatsSource } from '../admin/routes/dns.ts'
import { answerStatusRoute } from '../admin/routes/status-upstreams.ts'
import type { Reply } from '../admin/respond.ts'
import type { Route } from '../admin/router.ts'
import type { Supervisor, WorkerState } from './workers.ts'

export interface StatusSource {
  nodeId: string
  pool: Pool | null
  /** The current worker generation (reload swaps it). */
  supervisor (): Supervisor
  /** The snapshot the node serves, null before the first one is built. */
  snapshot (): { version: number; hash: string } | null
  /** GET /status/dns: the node's DNS statistics (primary/dns-stats.ts); none: an empty set. */
  dnsStats?: DnsStatsSource
  /**
   * More routes served after the Status API's own (DB-less mode: the read-only upstream routes,
   * admin/routes/status-upstreams.ts); read per request, since they exist once the Admin API's
   * store does.
   */
  routes? (): readonly Route[]
}

export interface ReloadCounts { ok: number; failed: number; last: null | { at: string; ok: boolean; message: string } }

export interface StatusServer {
  /** Bound ports (empty when status_listen is off). */
  readonly ports: number[]
  readonly metrics: MetricsStore
  readonly reloads: ReloadCounts
  /** Subscribes the metrics store to a Supervisor's deltas (each generation, before it starts). */
  attach (s: Supervisor): void
  detach (s: Supervisor): void
  noteReload (ok: boolean, message: string): void
  /** /status/ready answers 503 "draining" from now on. */
  drain (): void
  readonly draining: boolean
  ready (): { ok: boolean; message: string }
  metricsText (): Promise<string>
  close (): Promise<void>
}

const JSON_TYPE = 'application/json; charset=utf-8'

/** kong/tools/string.lua bytes_to_str. */
export function bytesToStr (bytes: number, unit = '', scale = 2): string {
  const u = unit.toLowerCase()
  if (u === '' || u === 'b') return String(Math.trunc(bytes))
  if (!Number.isFinite(scale) || scale < 0) throw new Error('scale must be equal or greater than 0')
  if (u === 'k') return `${(bytes / 2 ** 10).toFixed(scale)} KiB`
  if (u === 'm') return `${(bytes / 2 ** 20).toFixed(scale)} MiB`
  if (u === 'g') return `${(bytes / 2 ** 30).toFixed(scale)} GiB`
  throw new Error(`invalid unit '${unit}' (expected 'k/K', 'm/M', or 'g/G')`)
}

export async function startStatusServer (config: Config, source: StatusSource): Promise<StatusServer> {
  const store = new MetricsStore()
  const reloads: ReloadCounts = { ok: 0, failed: 0, last: null }
  const listeners = new Map<Supervisor, (w: WorkerState, delta: unknown) => void>()
  let draining = false

  // One database probe per second at most, shared by concurrent scrapes.
  let dbProbe: { at: number; result: Promise<boolean> } | null = null
  const dbReachable = (): Promise<boolean> => {
    const pool = source.pool
    if (pool === null) return Promise.resolve(true)
    const now = Date.now()
    if (dbProbe !== null && now - dbProbe.at < 1000) return dbProbe.result
    const result = pool.query('select 1').then(() => true, () => false)
    dbProbe = { at: now, result }
    return result
  }

  const ready = (): { ok: boolean; message: string } => {
    if (draining) return { ok: false, message: 'draining' }
    if (source.snapshot() === null) return { ok: false, message: 'no configuration available' }
    const ws = [...source.supervisor().workers.values()]
    if (ws.length === 0) return { ok: false, message: 'no configuration available (no worker started yet)' }
    const serving = ws.filter((w) => w.state === 'serving').length
    if (serving === ws.length) return { ok: true, message: 'ready' }
    if (ws.every((w) => w.state === 'draining')) return { ok: false, message: 'draining' }
    return { ok: false, message: `router builds not yet complete, router ready in ${serving} of ${ws.length} workers` }
  }

  const nodeInfo = async (): Promise<NodeInfo> => ({
    nodeId: source.nodeId,
    version: SLUICE_VERSION,
    datastoreReachable: await dbReachable(),
    snapshotVersion: source.snapshot()?.version ?? 0,
    workers: source.supervisor().summary(),
    reloads,
    ready: ready().ok,
  })

  const metricsText = async (): Promise<string> => renderMetrics(store, await nodeInfo())

  const statusBody = async (unit: string, scale: number): Promise<unknown> => {
    const workers = source.supervisor().summary()
    const total = workers.reduce((a, w) => a + w.requests, 0)
    const active = workers.reduce((a, w) => a + w.connections, 0)
    const heaps = new Map([...store.workers.values()].map((g) => [g.threadId, g.heapUsed]))
    const snap = source.snapshot()
    return {
      memory: {
        workers_lua_vms: workers.map((w) => ({ http_allocated_gc: bytesToStr(heaps.get(w.thread_id) ?? 0, unit, scale), pid: w.thread_id })),
        lua_shared_dicts: {},
      },
      server: {
        connections_accepted: total, connections_active: active, connections_handled: total,
        connections_reading: 0, connections_writing: active, connections_waiting: 0, total_requests: total,
      },
      database: { reachable: await dbReachable() },
      configuration_hash: snap?.hash ?? '00000000000000000000000000000000',
      sluice: {
        version: SLUICE_VERSION,
        node_id: source.nodeId,
        snapshot_version: snap?.version ?? 0,
        ready: ready(),
        reloads,
        workers,
      },
    }
  }

  const accessLog = (() => {
    try {
      const s = parseAccessLog('status_access_log', config.raw.status_access_log ?? 'off', config.prefix)
      return s.target.kind === 'off' ? null : new LineWriter(s.target)
    } catch (err) {
      log.warn((err as Error).message)
      return null
    }
  })()

  const send = (req: IncomingMessage, res: ServerResponse, status: number, type: string | null, body: string, extra?: Record<string, string>): void => {
    const headers: Record<string, string | number> = { 'Content-Length': Buffer.byteLength(body), Server: `sluice/${SLUICE_VERSION}` }
    if (type !== null) headers['Content-Type'] = type
    if (extra !== undefined) Object.assign(headers, extra)
    res.writeHead(status, headers)
    res.end(req.method === 'HEAD' ? undefined : body)
    if (accessLog !== null) {
      const ua = req.headers['user-agent']
      const referer = req.headers.referer
      accessLog.write(`${req.socket.remoteAddress ?? '-'} - - [${timeLocal(Date.now())}] "${escapeNginx(`${req.method} ${req.url} HTTP/${req.httpVersion}`)}" ${status} ${Buffer.byteLength(body)} ` +
        `"${referer === undefined ? '-' : escapeNginx(referer)}" "${ua === undefined ? '-' : escapeNginx(ua)}"\n`)
    }
  }
  const json = (req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void => {
    send(req, res, status, JSON_TYPE, JSON.stringify(value))
  }
  /** An Admin API-style Reply (admin/respond.ts): JSON, text, or no body. */
  const reply = (req: IncomingMessage, res: ServerResponse, r: Reply): void => {
    if (r.body === undefined || r.status === 204) send(req, res, r.status, null, '', r.headers)
    else if (typeof r.body === 'string') send(req, res, r.status, 'text/plain; charset=utf-8', r.body, r.headers)
    else send(req, res, r.status, JSON_TYPE, JSON.stringify(r.body), r.headers)
  }
  const routeLog = (level: 'error' | 'warn' | 'info', message: string): void => { log[level](`status API ${message}`) }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://status')
    const path = url.pathname.replace(/\/+$/, '') || '/'
    const get = req.method === 'GET' || req.method === 'HEAD'
    if (path === '/status/ready') {
      if (get) {
        const r = ready()
        json(req, res, r.ok ? 200 : 503, { message: r.message })
        return
      }
      if (req.method === 'POST') {
        const body = await readBody(req)
        const status = url.searchParams.get('status') ?? paramOf(body, req.headers['content-type'])
        if (status === 'draining') {
          if (!draining) log.notice('status API: draining (/status/ready answers 503 from now on)')
          draining = true
          send(req, res, 204, null, '')
        } else json(req, res, 400, { message: 'Bad request' })
        return
      }
      json(req, res, 405, { message: 'Method not allowed' })
      return
    }
    if (path === '/status') {
      if (!get) { json(req, res, 405, { message: 'Method not allowed' }); return }
      const unit = url.searchParams.get('unit') ?? 'm'
      const scaleText = url.searchParams.get('scale')
      const scale = scaleText === null ? 2 : Number(scaleText)
      try { bytesToStr(0, unit, scale) } catch (err) { json(req, res, 400, { message: (err as Error).message }); return }
      json(req, res, 200, await statusBody(unit, scale))
      return
    }
    if (path === '/metrics') {
      if (!get) { json(req, res, 405, { message: 'Method not allowed' }); return }
      send(req, res, 200, CONTENT_TYPE, await metricsText())
      return
    }
    if (path === '/status/dns') {
      if (!get) { json(req, res, 405, { message: 'Method not allowed' }); return }
      reply(req, res, await dnsStatusReply(config, source.dnsStats ?? null))
      return
    }
    const routes = source.routes?.() ?? []
    if (routes.length > 0) {
      const acrh = req.headers['access-control-request-headers']
      const r = await answerStatusRoute(routes, { method: req.method ?? 'GET', url: req.url ?? '/', requestHeaders: typeof acrh === 'string' ? acrh : undefined }, routeLog)
      if (r !== null) { reply(req, res, r); return }
    }
    json(req, res, 404, { message: 'Not found' })
  }

  const servers: Server[] = []
  const ports: number[] = []
  const closeAll = async (): Promise<void> => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections() })))
  }
  try {
    for (const l of config.statusListen) {
      if (l.ssl) { log.warn(`status_listen ${l.host}:${l.port} ssl: TLS is not served by the Status API yet; skipped`); continue }
      const server = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          log.error(`status API ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`)
          if (!res.headersSent) json(req, res, 500, { message: 'An unexpected error occurred' })
          else res.destroy()
        })
      })
      server.keepAliveTimeout = 5000
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: l.host, port: l.port, backlog: l.backlog ?? 511 }, () => { server.off('error', reject); resolve() })
      })
      servers.push(server)
      ports.push((server.address() as { port: number }).port)
    }
  } catch (err) {
    await closeAll()
    accessLog?.closeSync()
    throw new Error(`status_listen: ${(err as Error).message}`)
  }
  if (ports.length > 0) log.info(`Status API on ${config.statusListen.filter((l) => !l.ssl).map((l, i) => `${l.host}:${ports[i]}`).join(', ')}`)

  return {
    ports,
    metrics: store,
    reloads,
    attach (s) {
      if (listeners.has(s)) return
      const fn = (w: WorkerState, delta: unknown): void => { store.ingest({ id: w.id, threadId: w.threadId }, delta) }
      listeners.set(s, fn)
      s.on('metrics-delta', fn)
    },
    detach (s) {
      const fn = listeners.get(s)
      if (fn === undefined) return
      listeners.delete(s)
      s.off('metrics-delta', fn)
    },
    noteReload (ok, message) {
      if (ok) reloads.ok++
      else reloads.failed++
      reloads.last = { at: new Date().toISOString(), ok, message }
    },
    drain () { draining = true },
    get draining () { return draining },
    ready,
    metricsText,
    async close () {
      for (const [s, fn] of listeners) s.off('metrics-delta', fn)
      listeners.clear()
      await closeAll()
      accessLog?.closeSync()
    },
  }
}

function readBody (req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => { if (data.length < 4096) data += c })
    req.on('end', () => resolve(data))
    req.on('error', () => resolve(data))
  })
}

/** `status` from a form or JSON body. */
function paramOf (body: string, contentType: string | undefined): string | null {
  if (body === '') return null
  if (contentType?.includes('json') === true) {
    try { const v = (JSON.parse(body) as { status?: unknown }).status; return typeof v === 'string' ? v : null } catch { return null }
  }
  return new URLSearchParams(body).get('status')
}
