/**
 * Shared pieces of the plugin-log-*.test.ts and plugin-proxy-cache*.test.ts files:
 *
 * - `gateway()`: real worker threads (src/worker/main.ts, or a test entry that adds a message
 *   hook) serving a hand-built snapshot, with the workers' stderr captured so tests can wait for a
 *   logged line (`waitForLog`), and `post()` to send them messages;
 * - collectors: an HTTP server whose behaviour can be switched (ok / 500 / hang), a TCP line
 *   server, a UDP socket, and a waiter for lines in a file; each resolves when data arrives.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createTcpServer, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { createSocket } from 'node:dgram'
import { readFile, watch } from 'node:fs/promises'
import { Worker } from 'node:worker_threads'
import type { TestContext } from 'node:test'
import { encodeSnapshot } from '../../src/common/codec.ts'
import { PROTOCOL_VERSION, type WorkerData } from '../../src/common/protocol.ts'
import type { RouteRow, ServiceRow, Snapshot } from '../../src/common/snapshot.ts'
import { loadConfig } from '../../src/config/load.ts'
import { freePort } from '../helpers/ports.ts'
import { withEntities } from '../helpers/kong-rows.ts'
import { startEcho, type Upstream } from '../helpers/upstream.ts'
import { WORKER_ENTRY, WORKER_EXEC_ARGV, route, service, snapshot } from '../helpers/worker-harness.ts'

type Row = Record<string, unknown> & { id: string }

// ---- gateway ----

export interface Gateway {
  url: string
  port: number
  workers: Worker[]
  /** Everything the workers wrote to stderr so far. */
  readonly stderr: string
  /** Resolves with the first stderr line matching `re` (already written or to come). */
  waitForLog (re: RegExp): Promise<string>
  /** Resolves with the next message of `type` from each worker. */
  answers<T> (type: string, count?: number): Promise<T[]>
  post (msg: unknown): void
  publish (snap: Snapshot): Promise<void>
  stop (): Promise<void>
}

export interface GatewayOptions {
  snapshot: Snapshot
  workers?: number
  /** Worker entry (default src/worker/main.ts). */
  entry?: URL
  logLevel?: string
}

export async function gateway (t: TestContext, opts: GatewayOptions): Promise<Gateway> {
  const port = await freePort()
  const config = loadConfig({ env: {}, overrides: { proxy_listen: `127.0.0.1:${port}`, log_level: opts.logLevel ?? 'warn' } })
  const n = opts.workers ?? 1
  const workers: Worker[] = []
  let stderr = ''
  const logWaiters: Array<{ re: RegExp; resolve: (l: string) => void }> = []
  const msgWaiters: Array<{ type: string; resolve: (m: unknown) => void }> = []
  const onLine = (chunk: Buffer): void => {
    stderr += chunk.toString()
    if (process.env.SLUICE_TEST_SHOW_LOG !== undefined) process.stderr.write(chunk)
    for (let i = logWaiters.length - 1; i >= 0; i--) {
      const w = logWaiters[i]!
      const m = stderr.split('\n').find((l) => w.re.test(l))
      if (m !== undefined) { logWaiters.splice(i, 1); w.resolve(m) }
    }
  }
  const ready: Promise<unknown>[] = []
  for (let i = 0; i < n; i++) {
    const data: WorkerData = { protocol: PROTOCOL_VERSION, workerId: i, config }
    const w = new Worker(opts.entry ?? WORKER_ENTRY, { workerData: data, execArgv: WORKER_EXEC_ARGV, stderr: true })
    w.stderr.on('data', onLine)
    w.on('message', (m: { type: string }) => {
      for (let k = 0; k < msgWaiters.length; k++) {
        if (msgWaiters[k]!.type === m.type) { msgWaiters.splice(k, 1)[0]!.resolve(m); return }
      }
    })
    ready.push(new Promise((resolve) => { msgWaiters.push({ type: 'ready', resolve }) }))
    workers.push(w)
  }
  const bytes = encodeSnapshot(opts.snapshot)
  for (const w of workers) w.postMessage({ type: 'snapshot', version: opts.snapshot.version, bytes })
  await Promise.all(ready)
  let stopped = false
  const g: Gateway = {
    url: `http://127.0.0.1:${port}`,
    port,
    workers,
    get stderr () { return stderr },
    waitForLog (re) {
      const m = stderr.split('\n').find((l) => re.test(l))
      if (m !== undefined) return Promise.resolve(m)
      return new Promise((resolve) => { logWaiters.push({ re, resolve }) })
    },
    answers<T> (type: string, count = n) {
      const all: Promise<T>[] = []
      for (let i = 0; i < count; i++) all.push(new Promise((resolve) => { msgWaiters.push({ type, resolve: resolve as (m: unknown) => void }) }))
      return Promise.all(all)
    },
    post (msg) { for (const w of workers) w.postMessage(msg) },
    async publish (snap) {
      const acks = g.answers('snapshot-ack')
      const b = encodeSnapshot(snap)
      for (const w of workers) w.postMessage({ type: 'snapshot', version: snap.version, bytes: b })
      await acks
    },
    async stop () {
      if (stopped) return
      stopped = true
      const exits = workers.map((w) => once(w, 'exit'))
      for (const w of workers) w.postMessage({ type: 'shutdown', graceMs: 2000 })
      await Promise.all(exits)
    },
  }
  t.after(() => g.stop())
  return g
}

// ---- collectors ----

export interface LoggedRequest {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  body: string
}

export type CollectorMode = 'ok' | 'fail' | 'hang'

export interface HttpCollector {
  port: number
  url: string
  /** Requests answered 2xx, in arrival order. */
  accepted: LoggedRequest[]
  /** Every request that arrived (including failed and hung ones). */
  attempts: LoggedRequest[]
  mode: CollectorMode
  /** With mode 'fail': how many requests to fail before answering 200 again (-1: all). */
  failures: number
  /** Resolves once `n` requests have been accepted in total. */
  accepted$ (n: number): Promise<LoggedRequest[]>
  /** Resolves once `n` requests have arrived in total. */
  attempts$ (n: number): Promise<LoggedRequest[]>
  /** Answers every hung request with 200. */
  releaseHung (): void
  close (): Promise<void>
}

function waiterList<T> (list: T[]): { wait (n: number): Promise<T[]>; notify (): void } {
  const waiters: Array<{ n: number; resolve: (v: T[]) => void }> = []
  return {
    wait (n) {
      if (list.length >= n) return Promise.resolve(list.slice(0, n))
      return new Promise((resolve) => { waiters.push({ n, resolve }) })
    },
    notify () {
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (list.length >= waiters[i]!.n) { const w = waiters.splice(i, 1)[0]!; w.resolve(list.slice(0, w.n)) }
      }
    },
  }
}

/** An HTTP (or, with `tls`, HTTPS) log collector on `port` (default: any free port). */
export async function httpCollector (t: TestContext, port = 0, tls?: { key: string; cert: string }): Promise<HttpCollector> {
  const accepted: LoggedRequest[] = []
  const attempts: LoggedRequest[] = []
  const acc = waiterList(accepted)
  const att = waiterList(attempts)
  const hung: ServerResponse[] = []
  const c: HttpCollector = {
    port: 0,
    url: '',
    accepted,
    attempts,
    mode: 'ok',
    failures: -1,
    accepted$: (n) => acc.wait(n),
    attempts$: (n) => att.wait(n),
    releaseHung () { for (const r of hung.splice(0)) if (!r.destroyed) r.end('ok') },
    close: async () => {},
  }
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const parts: Buffer[] = []
    req.on('data', (d: Buffer) => parts.push(d))
    req.on('end', () => {
      const r: LoggedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(parts).toString() }
      attempts.push(r)
      att.notify()
      if (c.mode === 'hang') { hung.push(res); return }
      if (c.mode === 'fail' && c.failures !== 0) {
        if (c.failures > 0) c.failures--
        res.statusCode = 500
        res.end('collector down')
        return
      }
      accepted.push(r)
      acc.notify()
      res.end('ok')
    })
  }
  const server = tls === undefined ? createServer(onRequest) : createHttpsServer(tls, onRequest)
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  c.port = (server.address() as { port: number }).port
  c.url = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${c.port}`
  c.close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.after(() => c.close())
  return c
}

export interface LineCollector {
  port: number
  lines: string[]
  /** Connections accepted so far. */
  readonly connections: number
  next (n: number): Promise<string[]>
  /** Closes the accepted connections, keeps listening (resolves once they are closed). */
  dropConnections (): Promise<void>
  close (): Promise<void>
}

/** A TCP (or, with `tls`, TLS) server collecting `\n`-terminated lines. */
export async function tcpCollector (t: TestContext, tls?: { key: string; cert: string }): Promise<LineCollector & { servernames: string[] }> {
  const lines: string[] = []
  const servernames: string[] = []
  const w = waiterList(lines)
  let connections = 0
  const sockets = new Set<Socket>()
  const handle = (s: Socket): void => {
    connections++
    const sni = (s as { servername?: string | false }).servername
    if (typeof sni === 'string') servernames.push(sni)
    let buf = ''
    s.setEncoding('utf8')
    s.on('data', (d: string) => {
      buf += d
      let i
      while ((i = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1) }
      w.notify()
    })
    s.on('error', () => {})
  }
  const server = tls === undefined ? createTcpServer(handle) : createTlsServer(tls, handle)
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const c = {
    port: (server.address() as { port: number }).port,
    lines,
    servernames,
    get connections () { return connections },
    next: (n: number) => w.wait(n),
    dropConnections: async () => {
      const closing = [...sockets].map((s) => once(s, 'close'))
      for (const s of sockets) s.end()
      await Promise.all(closing)
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  t.after(() => c.close())
  return c
}

/** A UDP socket collecting datagrams. */
export async function udpCollector (t: TestContext): Promise<LineCollector> {
  const lines: string[] = []
  const w = waiterList(lines)
  const s = createSocket('udp4')
  s.on('message', (m) => { lines.push(m.toString()); w.notify() })
  s.bind(0, '127.0.0.1')
  await once(s, 'listening')
  const c: LineCollector = {
    port: s.address().port,
    lines,
    connections: 0,
    next: (n) => w.wait(n),
    dropConnections: async () => {},
    close: () => new Promise<void>((resolve) => { try { s.close(() => resolve()) } catch { resolve() } }),
  }
  t.after(() => c.close())
  return c
}

/** Resolves with the file's lines once it has at least `n` (watching the file's directory). */
export async function fileLines (path: string, n: number, timeoutMs = 5000): Promise<string[]> {
  const dir = path.slice(0, path.lastIndexOf('/'))
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(), timeoutMs)
  const read = async (): Promise<string[] | null> => {
    try {
      const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '')
      return lines.length >= n ? lines : null
    } catch { return null }
  }
  try {
    const watcher = watch(dir, { signal: ac.signal })
    const first = await read()
    if (first !== null) return first
    for await (const _ of watcher) {
      const got = await read()
      if (got !== null) return got
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err
  } finally {
    clearTimeout(timer)
    ac.abort()
  }
  const last = await read()
  if (last !== null) return last
  throw new Error(`${path}: fewer than ${n} lines after ${timeoutMs} ms`)
}

// ---- a gateway in front of the echo upstream ----

export interface EchoGateway {
  gw: Gateway
  echo: Upstream
  svc: ServiceRow
  routes: RouteRow[]
  /** A new snapshot version of the same services and routes with other plugin rows. */
  snapshotWith (plugins: Row[], entities?: Record<string, Row[]>): Snapshot
}

export interface EchoGatewayOptions {
  routes?: Array<Partial<RouteRow>>
  plugins: (routes: RouteRow[], svc: ServiceRow) => Row[]
  entities?: Record<string, Row[]>
  workers?: number
  entry?: URL
  logLevel?: string
}

/** Echo upstream + worker threads serving `routes` (default one route `/`) with the plugin rows. */
export async function echoGateway (t: TestContext, opts: EchoGatewayOptions): Promise<EchoGateway> {
  const echo = await startEcho()
  t.after(() => echo.close())
  const svc = service({ host: '127.0.0.1', port: echo.port })
  const routes = (opts.routes ?? [{ paths: ['/'] }]).map((r) => route(r, svc))
  const snapshotWith = (plugins: Row[], entities = opts.entities ?? {}): Snapshot =>
    withEntities(snapshot([svc], routes), { plugins, ...entities })
  const gw = await gateway(t, {
    snapshot: snapshotWith(opts.plugins(routes, svc)),
    workers: opts.workers,
    entry: opts.entry,
    logLevel: opts.logLevel,
  })
  return { gw, echo, svc, routes, snapshotWith }
}

// ---- a scripted upstream for proxy-cache ----

export interface ScriptedUpstream {
  port: number
  /** Requests received so far. */
  readonly hits: number
  close (): Promise<void>
}

/**
 * Answers from the query: `status`, `ct` (Content-Type, `none` for none), `cc` (Cache-Control),
 * `expires`, `h` (extra `name:value` headers, repeatable), `chunked` (no Content-Length). The
 * body is `<path> #<n>` with n counting requests, so a cached answer is recognisable.
 */
export async function scriptedUpstream (t: TestContext): Promise<ScriptedUpstream> {
  let hits = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      hits++
      const u = new URL(req.url ?? '/', 'http://x')
      const q = u.searchParams
      const body = `${u.pathname} #${hits}`
      const headers: Array<[string, string]> = []
      const ct = q.get('ct') ?? 'text/plain'
      if (ct !== 'none') headers.push(['content-type', ct])
      if (q.has('cc')) headers.push(['cache-control', q.get('cc')!])
      if (q.has('expires')) headers.push(['expires', q.get('expires')!])
      for (const h of q.getAll('h')) { const i = h.indexOf(':'); headers.push([h.slice(0, i), h.slice(i + 1)]) }
      const flat: string[] = []
      for (const [k, v] of headers) flat.push(k, v)
      if (!q.has('chunked')) flat.push('content-length', String(Buffer.byteLength(body)))
      res.writeHead(Number(q.get('status') ?? 200), flat)
      if (q.has('chunked') || q.has('split')) {
        // split: a Content-Length body in two writes (two body-filter calls, the second the last).
        res.write(body.slice(0, 3))
        setImmediate(() => res.end(body.slice(3)))
      } else {
        res.end(body)
      }
    })
  })
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const u: ScriptedUpstream = {
    port: (server.address() as { port: number }).port,
    get hits () { return hits },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  t.after(() => u.close())
  return u
}
