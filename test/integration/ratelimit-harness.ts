/**
 * Shared pieces of the ratelimit-*.test.ts files: a fast upstream (200 `ok`, and the
 * response-ratelimiting header from `?limit=`), whole gateways (primary + 2 real workers) on a
 * real PostgreSQL database, Admin API calls, and a load helper that spreads requests over many
 * connections (so every worker of a gateway takes its share, SO_REUSEPORT).
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { Pool } from 'undici'
import type { TestContext } from 'node:test'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

export interface RlUpstream { port: number; hits: number; close (): Promise<void> }

/** 200 `ok`; `?limit=videos=1` is sent back as `X-Kong-Limit: videos=1`. */
export async function startUpstream (): Promise<RlUpstream> {
  const state = { hits: 0 }
  const server: Server = createServer((req, res) => {
    state.hits++
    const q = req.url?.indexOf('?') ?? -1
    const limit = q >= 0 ? new URLSearchParams(req.url!.slice(q + 1)).get('limit') : null
    const headers: Record<string, string> = { 'content-type': 'text/plain', 'content-length': '2' }
    if (limit !== null) headers['x-kong-limit'] = limit
    const remaining = req.headers['x-ratelimit-remaining-videos']
    if (typeof remaining === 'string') headers['x-seen-remaining-videos'] = remaining
    res.writeHead(200, headers)
    res.end('ok')
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  return {
    port,
    get hits () { return state.hits },
    async close () {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const stacks = new WeakMap<TestContext, Array<() => Promise<void>>>()

/** Cleanup in reverse order of setup (gateways stop before their database is dropped). */
export function defer (t: TestContext, fn: () => Promise<void>): void {
  let stack = stacks.get(t)
  if (stack === undefined) {
    const s: Array<() => Promise<void>> = []
    stack = s
    stacks.set(t, s)
    t.after(async () => { for (const f of s.reverse()) await f().catch(() => {}) })
  }
  stack.push(fn)
}

export async function testDb (t: TestContext): Promise<TestDb> {
  const db = await createTestDb()
  defer(t, () => db.drop())
  return db
}

export async function upstream (t: TestContext): Promise<RlUpstream> {
  const up = await startUpstream()
  defer(t, () => up.close())
  return up
}

export async function node (t: TestContext, db: TestDb, overrides: Record<string, string> = {}): Promise<Gateway> {
  const gw = await startGateway(db.settings, overrides)
  defer(t, () => gw.stop())
  return gw
}

export async function admin (gw: Gateway, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gw.admin}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? null : JSON.parse(text) }
}

/** A service to `upstreamPort`, a route on `path`, and a plugin on the route. Returns their ids. */
export async function routeWithPlugin (gw: Gateway, upstreamPort: number, path: string, plugin: { name: string; config: Record<string, unknown> }): Promise<{ service: string; route: string; plugin: string }> {
  const svc = await admin(gw, 'POST', '/services', { host: '127.0.0.1', port: upstreamPort })
  if (svc.status !== 201) throw new Error(`service: ${svc.status} ${JSON.stringify(svc.json)}`)
  const rt = await admin(gw, 'POST', `/services/${svc.json.id as string}/routes`, { paths: [path] })
  if (rt.status !== 201) throw new Error(`route: ${rt.status} ${JSON.stringify(rt.json)}`)
  const pl = await admin(gw, 'POST', `/routes/${rt.json.id as string}/plugins`, plugin)
  if (pl.status !== 201) throw new Error(`plugin: ${pl.status} ${JSON.stringify(pl.json)}`)
  return { service: svc.json.id, route: rt.json.id, plugin: pl.json.id }
}

/**
 * Waits until the gateway's workers run the plugin on `path`: a probe request (with its own
 * identifier, so it counts against nothing the test measures) until `ok(response)`; by default
 * until a rate-limit header shows.
 */
export async function ready (gw: Gateway, path: string, headers: Record<string, string> = {}, ok: (r: Shot) => boolean = hasRateLimitHeader): Promise<void> {
  await gw.primary.sync()
  const end = Date.now() + 10_000
  for (;;) {
    const r = await get(gw, path, headers)
    if (ok(r)) return
    if (Date.now() > end) throw new Error(`${path}: the plugin never showed (${r.status} ${JSON.stringify(r.headers)})`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export function hasRateLimitHeader (r: Shot): boolean {
  return Object.keys(r.headers).some((k) => k.startsWith('x-ratelimit-limit-') || k === 'ratelimit-limit')
}

export interface Shot { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request. */
export async function get (gw: Gateway | string, path: string, headers: Record<string, string> = {}): Promise<Shot> {
  const base = typeof gw === 'string' ? gw : gw.proxy
  const res = await fetch(`${base}${path}`, { headers })
  const out: Record<string, string> = {}
  res.headers.forEach((v, k) => { out[k] = v })
  return { status: res.status, headers: out, body: await res.text() }
}

/**
 * `n` requests over `connections` keep-alive connections, all in flight together as far as the
 * connections allow. Returns the status of each.
 */
export async function fire (base: string, path: string, n: number, connections: number, headers: Record<string, string> = {}): Promise<number[]> {
  const pool = new Pool(base, { connections, pipelining: 1 })
  try {
    const statuses = await Promise.all(Array.from({ length: n }, async () => {
      const res = await pool.request({ path, method: 'GET', headers })
      await res.body.dump()
      return res.statusCode
    }))
    return statuses
  } finally {
    await pool.close()
  }
}

export function count (statuses: readonly number[], status: number): number {
  return statuses.filter((s) => s === status).length
}

/** Resolves when `fn` returns true (polled every 20 ms), or rejects after `ms`. */
export async function until (fn: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** If a window of `periodMs` ends within 2 s, waits for the next one: a short test then fits in one window. */
export async function clearOfEdge (periodMs = 60_000): Promise<void> {
  const left = periodMs - (Date.now() % periodMs)
  if (left < 2000) await new Promise((resolve) => setTimeout(resolve, left + 20))
}
