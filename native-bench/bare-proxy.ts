/**
 * The stack's baseline: the least a uWebSockets.js + undici proxy does, with the same two packages
 * Sluice runs on (imported from the root node_modules). One route (everything), no plugins, no
 * routing, no Kong headers. Sluice's own work is measured as its distance from this.
 *
 *   node --import tsx native-bench/bare-proxy.ts --port 8080 --upstream http://127.0.0.1:9100
 *        [--workers 2] [--client stack|pool] [--connections 64] [--host 127.0.0.1]
 *
 * - N worker threads, each with its own uWS App listening on the same port (uWS sets SO_REUSEPORT on
 *   Linux, as Sluice's workers rely on); the main thread only starts them.
 * - Upstream: `stack` (default) keeps one undici `Client` per upstream connection and the idle ones
 *   on a LIFO stack (what Sluice's worker does, +2-4 % over Pool in reference/proxy-levers.md);
 *   `pool` calls `Pool.dispatch` with `--connections` connections. Keep-alive, pipelining 1.
 * - undici's legacy handler API (`onConnect`/`onHeaders`/`onData`/`onComplete`/`onError`): raw
 *   header buffers, no per-response header object.
 * - Forwards method, path + query, the client's headers minus hop-by-hop ones, and a buffered
 *   request body; answers with the upstream's status, headers (minus hop-by-hop, Date and uWS's
 *   mark: uWS writes its own) and body. The response body is buffered until the upstream finishes
 *   (13-byte bodies here): this is not a streaming proxy. Upstream failure: 502.
 * - Prints `bare-proxy listening on <port> (<n> workers)` and sends 'ready' over IPC when forked.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { STATUS_CODES } from 'node:http'
import uWS from 'uWebSockets.js'
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { Client, Pool, type Dispatcher } from 'undici'

interface Options {
  host: string
  port: number
  upstream: string
  workers: number
  client: 'stack' | 'pool'
  connections: number
}

function parseOptions (argv: readonly string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const port = Number(get('port'))
  const upstream = get('upstream')
  if (!Number.isInteger(port) || port <= 0 || upstream === undefined) {
    process.stderr.write('usage: bare-proxy.ts --port N --upstream http://host:port [--workers N] [--client stack|pool] [--connections N]\n')
    process.exit(2)
  }
  const client = get('client') ?? 'stack'
  if (client !== 'stack' && client !== 'pool') throw new Error(`--client: stack or pool, not ${client}`)
  return {
    host: get('host') ?? '127.0.0.1',
    port,
    upstream,
    workers: Math.max(1, Number(get('workers') ?? 1)),
    client,
    connections: Math.max(1, Number(get('connections') ?? 64)),
  }
}

// ---------------------------------------------------------------------------------------------
// main thread: start the workers, report ready, stop them on SIGTERM

function startWorkers (o: Options): void {
  const loader = new URL('./lib/ts-loader.mjs', import.meta.url).href
  const workers: Worker[] = []
  let ready = 0
  let stopping = false
  for (let i = 0; i < o.workers; i++) {
    const w = new Worker(new URL(import.meta.url), { workerData: o, execArgv: ['--import', loader], name: `bare-proxy-${i}` })
    workers.push(w)
    w.on('message', (m: unknown) => {
      if (m !== 'ready' || ++ready !== o.workers) return
      process.stdout.write(`bare-proxy listening on ${o.port} (${o.workers} workers, ${o.client})\n`)
      process.send?.('ready')
    })
    w.on('error', (err) => { process.stderr.write(`bare-proxy worker ${i}: ${err.stack ?? String(err)}\n`); process.exit(1) })
    w.on('exit', (code) => { if (!stopping) { process.stderr.write(`bare-proxy worker ${i} exited with ${code}\n`); process.exit(1) } })
  }
  const stop = (): void => {
    if (stopping) return
    stopping = true
    // Each worker closes its App (an open uWS socket at thread exit aborts the process) and exits.
    for (const w of workers) w.postMessage('stop')
    Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve)))).then(() => process.exit(0), () => process.exit(1))
    setTimeout(() => process.exit(0), 3000).unref()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

// ---------------------------------------------------------------------------------------------
// worker thread: the proxy

/** Request headers not forwarded (hop-by-hop; undici frames the body itself). */
const SKIP_REQUEST = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'expect'])

/** Response headers not forwarded: hop-by-hop, and those uWS writes itself. */
function skipResponseHeader (name: Buffer): boolean {
  switch (name.length) {
    case 4: return name.toString('latin1').toLowerCase() === 'date'
    case 10: { const n = name.toString('latin1').toLowerCase(); return n === 'connection' || n === 'keep-alive' }
    case 11: return name.toString('latin1').toLowerCase() === 'uwebsockets'
    case 14: return name.toString('latin1').toLowerCase() === 'content-length'
    case 17: return name.toString('latin1').toLowerCase() === 'transfer-encoding'
    default: return false
  }
}

const STATUS_LINES: string[] = []
function statusLine (status: number): string {
  return (STATUS_LINES[status] ??= `${status} ${STATUS_CODES[status] ?? ''}`)
}

const METHODS: Record<string, string> = { get: 'GET', post: 'POST', put: 'PUT', delete: 'DELETE', patch: 'PATCH', head: 'HEAD', options: 'OPTIONS' }

interface Upstream {
  dispatch (x: Exchange): void
  /** The final callback of an exchange: its connection goes back. */
  release (x: Exchange): void
  close (): Promise<void>
}

/** One undici Client per upstream connection; idle ones on a LIFO stack. */
class ClientStack implements Upstream {
  readonly #origin: string
  readonly #idle: Client[] = []
  readonly #all = new Set<Client>()

  constructor (origin: string) {
    this.#origin = origin
  }

  dispatch (x: Exchange): void {
    let c = this.#idle.pop()
    if (c === undefined) {
      c = new Client(this.#origin, { pipelining: 1, keepAliveTimeout: 60_000 })
      this.#all.add(c)
    }
    x.client = c
    c.dispatch(x.options(), x)
  }

  release (x: Exchange): void {
    const c = x.client
    if (c !== null) { x.client = null; this.#idle.push(c) }
  }

  async close (): Promise<void> {
    await Promise.all([...this.#all].map((c) => c.destroy().catch(() => {})))
  }
}

class PoolUpstream implements Upstream {
  readonly #pool: Pool
  constructor (origin: string, connections: number) {
    this.#pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 })
  }

  dispatch (x: Exchange): void { this.#pool.dispatch(x.options(), x) }
  release (): void {}
  async close (): Promise<void> { await this.#pool.destroy().catch(() => {}) }
}

let upstream: Upstream

/** One proxied request: what was copied from uWS, and undici's (legacy) handler for its response. */
class Exchange implements Dispatcher.DispatchHandler {
  readonly res: HttpResponse
  method = 'GET'
  path = '/'
  readonly headers: string[] = []
  body: Buffer | null = null
  client: Client | null = null
  aborted = false
  abortUpstream: ((err?: Error) => void) | null = null
  status = 0
  rawHeaders: Buffer[] | null = null
  chunk: Buffer | null = null
  chunks: Buffer[] | null = null
  readonly onAborted: () => void

  constructor (res: HttpResponse) {
    this.res = res
    this.onAborted = () => {
      this.aborted = true
      this.abortUpstream?.()
    }
  }

  options (): Dispatcher.DispatchOptions {
    return { path: this.path, method: this.method, headers: this.headers, body: this.body }
  }

  onConnect (abort: (err?: Error) => void): void {
    this.abortUpstream = abort
    if (this.aborted) abort()
  }

  onHeaders (status: number, rawHeaders: Buffer[]): boolean {
    this.status = status
    this.rawHeaders = rawHeaders
    return true
  }

  onData (chunk: Buffer): boolean {
    if (this.chunk === null) this.chunk = chunk
    else (this.chunks ??= [this.chunk]).push(chunk)
    return true
  }

  onComplete (): void {
    upstream.release(this)
    if (this.aborted) return
    corked = this
    this.res.cork(writeResponse)
    corked = null
  }

  onError (): void {
    upstream.release(this)
    if (this.aborted) return
    this.aborted = true
    corked = this
    this.res.cork(writeBadGateway)
    corked = null
  }
}

let corked: Exchange | null = null

function writeResponse (): void {
  const x = corked!
  const res = x.res
  res.writeStatus(statusLine(x.status))
  const raw = x.rawHeaders
  if (raw !== null) {
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!
      if (!skipResponseHeader(name)) res.writeHeader(name, raw[i + 1]!)
    }
  }
  const body = x.chunks !== null ? Buffer.concat(x.chunks) : x.chunk
  if (body === null) res.end()
  else res.end(body)
}

function writeBadGateway (): void {
  corked!.res.writeStatus('502 Bad Gateway').end('upstream error')
}

let copying: string[] = []
function copyHeader (k: string, v: string): void {
  if (!SKIP_REQUEST.has(k)) copying.push(k, v)
}

function onRequest (res: HttpResponse, req: HttpRequest): void {
  const x = new Exchange(res)
  res.onAborted(x.onAborted)
  const m = req.getMethod()
  x.method = METHODS[m] ?? m.toUpperCase()
  const q = req.getQuery() as string | undefined
  x.path = q === undefined || q === '' ? req.getUrl() : `${req.getUrl()}?${q}`
  copying = x.headers
  req.forEach(copyHeader)
  copying = []
  const hasBody = req.getHeader('content-length') !== '' || req.getHeader('transfer-encoding') !== ''
  if (!hasBody) { upstream.dispatch(x); return }
  const parts: Buffer[] = []
  res.onData((ab, last) => {
    parts.push(Buffer.from(ab.slice(0))) // the ArrayBuffer is only valid during this callback
    if (!last) return
    x.body = Buffer.concat(parts)
    if (!x.aborted) upstream.dispatch(x)
  })
}

function serve (o: Options): void {
  upstream = o.client === 'pool' ? new PoolUpstream(o.upstream, o.connections) : new ClientStack(o.upstream)
  const app = uWS.App() as TemplatedApp & { close (): void }
  app.any('/*', onRequest)
  app.listen(o.host, o.port, (token) => {
    if (token === false) { process.stderr.write(`bare-proxy: cannot listen on ${o.host}:${o.port}\n`); process.exit(1) }
    parentPort!.postMessage('ready')
  })
  parentPort!.on('message', (m: unknown) => {
    if (m !== 'stop') return
    app.close()
    upstream.close().finally(() => process.exit(0))
  })
}

if (isMainThread) startWorkers(parseOptions(process.argv.slice(2)))
else serve(workerData as Options)
