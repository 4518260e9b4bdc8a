/**
 * A bare uWebSockets.js front end proxying through one upstream transport of the seam
 * (src/worker/transport): the same front-end code for `undici` and `net`, so the two differ only in
 * the transport. Same process layout as Sluice's workers: N worker threads, each with its own uWS
 * App on the same port (SO_REUSEPORT) and its own transport instance.
 *
 *   node --import tsx native-bench/transport-proxy.ts --port 8080 --upstream 127.0.0.1:9100
 *        --transport undici|net [--workers 2] [--connections 0]
 *
 * `--workers 0` serves on the main thread (one thread, for --cpu-prof).
 *
 * Per request: copy method, URL, query and headers (minus hop-by-hop) from uWS, dispatch with a
 * handler object (the new handler API, as proxy.ts), buffer the response body (13-byte responses
 * here) and write status, headers and body in one cork when the upstream ends. No routing, no
 * plugins, no Kong headers. Upstream failure: 502. Prints `transport-proxy listening ...` and
 * sends 'ready' over IPC when forked.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http'
import uWS from 'uWebSockets.js'
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js'
import { createTransport, parseTransportKind } from '../src/worker/transport/index.ts'
import type { Transport, TransportController, TransportHandler, TransportKind } from '../src/worker/transport/types.ts'

interface Options {
  host: string
  port: number
  upstreamHost: string
  upstreamPort: number
  transport: TransportKind
  workers: number
  connections: number
}

function parseOptions (argv: readonly string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const port = Number(get('port'))
  const upstream = get('upstream') ?? ''
  const colon = upstream.lastIndexOf(':')
  if (!Number.isInteger(port) || port <= 0 || colon < 0) {
    process.stderr.write('usage: transport-proxy.ts --port N --upstream host:port --transport undici|net [--workers N] [--connections N]\n')
    process.exit(2)
  }
  return {
    host: get('host') ?? '127.0.0.1',
    port,
    upstreamHost: upstream.slice(0, colon),
    upstreamPort: Number(upstream.slice(colon + 1)),
    transport: parseTransportKind(get('transport')),
    workers: Math.max(0, Number(get('workers') ?? 1)),
    connections: Math.max(0, Number(get('connections') ?? 0)),
  }
}

// ---------------------------------------------------------------------------------------------
// main thread

function startWorkers (o: Options): void {
  const loader = new URL('./lib/ts-loader.mjs', import.meta.url).href
  const workers: Worker[] = []
  let ready = 0
  let stopping = false
  for (let i = 0; i < o.workers; i++) {
    const w = new Worker(new URL(import.meta.url), { workerData: o, execArgv: ['--import', loader], name: `transport-proxy-${i}` })
    workers.push(w)
    w.on('message', (m: unknown) => {
      if (m !== 'ready' || ++ready !== o.workers) return
      process.stdout.write(`transport-proxy listening on ${o.port} (${o.workers} workers, ${o.transport})\n`)
      process.send?.('ready')
    })
    w.on('error', (err) => { process.stderr.write(`transport-proxy worker ${i}: ${err.stack ?? String(err)}\n`); process.exit(1) })
    w.on('exit', (code) => { if (!stopping) { process.stderr.write(`transport-proxy worker ${i} exited with ${code}\n`); process.exit(1) } })
  }
  const stop = (): void => {
    if (stopping) return
    stopping = true
    for (const w of workers) w.postMessage('stop')
    Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve)))).then(() => process.exit(0), () => process.exit(1))
    setTimeout(() => process.exit(0), 3000).unref()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

// ---------------------------------------------------------------------------------------------
// worker thread

const SKIP_REQUEST = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'expect', 'content-length'])
const SKIP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date', 'uwebsockets'])
const METHODS: Record<string, string> = { get: 'GET', post: 'POST', put: 'PUT', delete: 'DELETE', patch: 'PATCH', head: 'HEAD', options: 'OPTIONS' }
const STATUS_LINES: string[] = []
function statusLine (status: number): string {
  return (STATUS_LINES[status] ??= `${status} ${STATUS_CODES[status] ?? ''}`)
}

let transport: Transport

class Exchange implements TransportHandler {
  readonly res: HttpResponse
  method = 'GET'
  path = '/'
  readonly headers: string[] = []
  body: Buffer | null = null
  controller: TransportController | null = null
  aborted = false
  status = 0
  resHeaders: IncomingHttpHeaders | null = null
  chunk: Buffer | null = null
  chunks: Buffer[] | null = null
  readonly onAborted: () => void

  constructor (res: HttpResponse) {
    this.res = res
    this.onAborted = () => {
      this.aborted = true
      const c = this.controller
      if (c !== null && !c.aborted) c.abort(ABORTED)
    }
  }

  onRequestStart (c: TransportController): void {
    this.controller = c
    if (this.aborted) c.abort(ABORTED)
  }

  onResponseStart (_c: TransportController, status: number, headers: IncomingHttpHeaders): void {
    if (status < 200) return
    this.status = status
    this.resHeaders = headers
  }

  onResponseData (_c: TransportController, chunk: Buffer): void {
    if (this.chunk === null) this.chunk = chunk
    else (this.chunks ??= [this.chunk]).push(chunk)
  }

  onResponseEnd (): void {
    if (this.aborted) return
    corked = this
    this.res.cork(writeResponse)
    corked = null
  }

  onResponseError (): void {
    if (this.aborted) return
    this.aborted = true
    corked = this
    this.res.cork(writeBadGateway)
    corked = null
  }
}

const ABORTED = new Error('client aborted')
let corked: Exchange | null = null

function writeResponse (): void {
  const x = corked!
  const res = x.res
  res.writeStatus(statusLine(x.status))
  const h = x.resHeaders
  if (h !== null) {
    for (const name in h) {
      if (SKIP_RESPONSE.has(name)) continue
      const v = h[name]
      if (typeof v === 'string') res.writeHeader(name, v)
      else if (v !== undefined) for (const one of v) res.writeHeader(name, one)
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

function send (x: Exchange): void {
  transport.dispatch({ method: x.method, path: x.path, headers: x.headers, body: x.body, headersTimeout: 60_000, bodyTimeout: 60_000, reset: false }, x)
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
  if (!hasBody) { send(x); return }
  const parts: Buffer[] = []
  res.onData((ab, last) => {
    parts.push(Buffer.from(ab.slice(0)))
    if (!last) return
    x.body = Buffer.concat(parts)
    if (!x.aborted) send(x)
  })
}

function serve (o: Options): void {
  transport = createTransport(o.transport, {
    protocol: 'http',
    host: o.upstreamHost,
    port: o.upstreamPort,
    origin: `http://${o.upstreamHost}:${o.upstreamPort}`,
    connectTimeout: 10_000,
    tlsVerify: false,
  }, { keepalivePoolSize: 512, keepaliveMaxRequests: 10_000, keepaliveIdleTimeoutMs: 60_000, maxConnections: o.connections })
  const app = uWS.App() as TemplatedApp & { close (): void }
  app.any('/*', onRequest)
  app.listen(o.host, o.port, (token) => {
    if (token === false) { process.stderr.write(`transport-proxy: cannot listen on ${o.host}:${o.port}\n`); process.exit(1) }
    if (parentPort !== null) {
      parentPort.postMessage('ready')
      return
    }
    process.stdout.write(`transport-proxy listening on ${o.port} (main thread, ${o.transport})\n`)
    process.send?.('ready')
  })
  const stop = (): void => {
    app.close()
    transport.destroy().finally(() => process.exit(0))
  }
  if (parentPort !== null) parentPort.on('message', (m: unknown) => { if (m === 'stop') stop() })
  else {
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  }
}

if (!isMainThread) serve(workerData as Options)
else {
  const o = parseOptions(process.argv.slice(2))
  if (o.workers === 0) serve(o)
  else startWorkers(o)
}
