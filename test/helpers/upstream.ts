/**
 * Real upstream servers on loopback for proxy tests (undici's habit: fakes on listen(0)).
 *
 * - echo: answers what it received (method, url, raw headers, body size, sha256, small bodies as
 *   text), plus a few scripted paths under `/_/` (status codes, chunked, 103, hop-by-hop headers);
 * - big: streams N bytes with or without Content-Length, and swallows uploads, reporting their
 *   size and sha256; honours backpressure both ways;
 * - slow: hangs, stalls mid-body, or resets mid-body, and reports when the proxy closes on it;
 * - resetting: a raw TCP server that accepts and destroys every connection, counting them.
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net'

export interface Received {
  method: string
  url: string
  /** Raw header pairs as received, names lowercased, in order. */
  rawHeaders: Array<[string, string]>
  /** name -> value (repeated headers joined with ', '). */
  headers: Record<string, string>
  bodyLength: number
  bodySha256: string
  body: string
}

export interface Upstream {
  port: number
  url: string
  /** Requests seen, in arrival order. */
  received: Received[]
  close (): Promise<void>
}

async function listen (server: Server | TcpServer): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as { port: number }).port
}

async function closeServer (server: Server | TcpServer, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

function track (server: Server | TcpServer): Set<Socket> {
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  return sockets
}

function readBody (req: IncomingMessage, pauseMs = 0, count?: (n: number) => void): Promise<{ length: number; sha: string; text: string }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    let length = 0
    let nextPause = 1 << 20
    const small: Buffer[] = []
    req.on('data', (c: Buffer) => {
      h.update(c)
      length += c.length
      count?.(c.length)
      if (length <= 64 * 1024) small.push(c)
      if (pauseMs > 0 && length >= nextPause) {
        nextPause += 1 << 20
        req.pause()
        setTimeout(() => req.resume(), pauseMs)
      }
    })
    req.on('end', () => resolve({ length, sha: h.digest('hex'), text: length <= 64 * 1024 ? Buffer.concat(small).toString() : '' }))
    req.on('error', reject)
  })
}

function record (req: IncomingMessage, body: { length: number; sha: string; text: string }): Received {
  const rawHeaders: Array<[string, string]> = []
  const headers: Record<string, string> = {}
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i]!.toLowerCase()
    const v = req.rawHeaders[i + 1]!
    rawHeaders.push([k, v])
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`
  }
  return { method: req.method ?? '', url: req.url ?? '', rawHeaders, headers, bodyLength: body.length, bodySha256: body.sha, body: body.text }
}

/** Echo server. Scripted paths: `/_/status/<code>`, `/_/chunked`, `/_/early-hints`, `/_/hop`, `/_/server`. */
export async function startEcho (): Promise<Upstream> {
  const received: Received[] = []
  const server = createServer((req, res) => {
    readBody(req).then((body) => {
      const r = record(req, body)
      received.push(r)
      const path = (req.url ?? '').split('?')[0]!
      const json = JSON.stringify(r)
      if (path.startsWith('/_/status/')) {
        const code = Number(path.slice('/_/status/'.length))
        res.writeHead(code, code === 304 ? { etag: '"x"' } : {})
        res.end()
      } else if (path === '/_/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.write('one,')
        setImmediate(() => { res.write('two,'); setImmediate(() => res.end('three')) })
      } else if (path === '/_/early-hints') {
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' })
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) })
        res.end(json)
      } else if (path === '/_/hop') {
        res.writeHead(200, {
          connection: 'X-Hop', 'x-hop': 'secret', 'keep-alive': 'timeout=5', trailer: 'Expires', 'x-kept': 'yes',
          'content-type': 'text/plain',
        })
        res.end('hop')
      } else if (path === '/_/server') {
        res.writeHead(200, { server: 'upstream/1.0', via: '1.1 upstream-proxy', 'content-type': 'text/plain' })
        res.end('srv')
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) })
        res.end(json)
      }
    }).catch(() => res.destroy())
  })
  const sockets = track(server)
  const port = await listen(server)
  return { port, url: `http://127.0.0.1:${port}`, received, close: () => closeServer(server, sockets) }
}

export interface BigUpstream extends Upstream {
  size: number
  sha256: string
  /** Body bytes handed to the socket by downloads, all requests together. */
  readonly written: number
  /** Body bytes read from uploads, all requests together. */
  readonly read: number
}

const BLOCK = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789')

function writeBlocks (res: ServerResponse, size: number, count: (n: number) => void): void {
  let left = size
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, BLOCK.length)
      left -= n
      count(n)
      if (!res.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
        res.once('drain', pump)
        return
      }
    }
    res.end()
  }
  pump()
}

/**
 * Big bodies: GET `/big` (Content-Length) and `/big-chunked`; POST anything: swallowed, measured.
 * `readPauseMs`: uploads are read slowly (a pause after every MiB), so a proxy that does not push
 * back on its client would have to buffer.
 */
export async function startBig (size: number, opts: { readPauseMs?: number } = {}): Promise<BigUpstream> {
  const received: Received[] = []
  const h = createHash('sha256')
  for (let left = size; left > 0; left -= BLOCK.length) h.update(left >= BLOCK.length ? BLOCK : BLOCK.subarray(0, left))
  const sha256 = h.digest('hex')
  let written = 0
  let read = 0
  const server = createServer((req, res) => {
    if (req.method === 'POST' || req.method === 'PUT') {
      readBody(req, opts.readPauseMs ?? 0, (n) => { read += n }).then((body) => {
        const r = record(req, body)
        received.push(r)
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ bytes: body.length, sha256: body.sha }))
      }).catch(() => res.destroy())
      return
    }
    received.push(record(req, { length: 0, sha: '', text: '' }))
    if (req.url === '/big-chunked') res.writeHead(200, { 'content-type': 'application/octet-stream' })
    else res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) })
    writeBlocks(res, size, (n) => { written += n })
  })
  const sockets = track(server)
  const port = await listen(server)
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    size,
    sha256,
    get written () { return written },
    get read () { return read },
    close: () => closeServer(server, sockets),
  }
}

export interface SlowUpstream extends Upstream {
  /** Resolves when the proxy closes the connection of the next request to `path`. */
  closed (path: string): Promise<void>
  /** Resolves when a request to `path` arrives. */
  arrived (path: string): Promise<void>
  /** Releases held requests (`/hold`). */
  release (): void
}

/**
 * `/hang*`: never answers. `/stall`: headers plus 64 KiB of a 10 MiB body, then nothing. `/reset`:
 * headers, 64 KiB of a 1 MiB body, then a TCP reset. `/hold`: answers 200 `held` on release().
 * `/stream`: an endless body, written as fast as the proxy reads.
 */
export async function startSlow (): Promise<SlowUpstream> {
  const received: Received[] = []
  const closeWaiters = new Map<string, Array<() => void>>()
  const arriveWaiters = new Map<string, Array<() => void>>()
  const held: ServerResponse[] = []
  const notify = (m: Map<string, Array<() => void>>, path: string): void => {
    const list = m.get(path)
    if (list === undefined) return
    m.delete(path)
    for (const f of list) f()
  }
  const wait = (m: Map<string, Array<() => void>>, path: string): Promise<void> =>
    new Promise((resolve) => { const l = m.get(path) ?? []; l.push(resolve); m.set(path, l) })
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!
    received.push(record(req, { length: 0, sha: '', text: '' }))
    res.on('close', () => { if (!res.writableFinished) notify(closeWaiters, path) })
    notify(arriveWaiters, path)
    req.resume()
    if (path.startsWith('/hang')) return
    switch (path) {
      case '/stall':
        res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) })
        res.write(BLOCK)
        return
      case '/reset':
        res.writeHead(200, { 'content-length': String(1024 * 1024) })
        res.write(BLOCK, () => { setImmediate(() => req.socket.resetAndDestroy()) })
        return
      case '/hold':
        held.push(res)
        return
      case '/stream': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        const pump = (): void => {
          while (!res.destroyed && res.write(BLOCK)) { /* fill */ }
          if (!res.destroyed) res.once('drain', pump)
        }
        pump()
        return
      }
      default:
        res.end('slow')
    }
  })
  const sockets = track(server)
  const port = await listen(server)
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    closed: (path) => wait(closeWaiters, path),
    arrived: (path) => wait(arriveWaiters, path),
    release: () => { for (const r of held.splice(0)) { r.writeHead(200, { 'content-type': 'text/plain' }); r.end('held') } },
    close: () => closeServer(server, sockets),
  }
}

export interface ResettingUpstream {
  port: number
  /** Connections accepted (and destroyed) so far. */
  readonly connections: number
  close (): Promise<void>
}

/** Accepts every connection and resets it at once: each try of the proxy is one connection. */
export async function startResetting (): Promise<ResettingUpstream> {
  let connections = 0
  const server = createTcpServer((s) => {
    connections++
    s.on('error', () => {})
    s.resetAndDestroy()
  })
  const sockets = track(server)
  const port = await listen(server)
  return {
    port,
    get connections () { return connections },
    close: () => closeServer(server, sockets),
  }
}
