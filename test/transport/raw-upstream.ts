/**
 * A raw TCP upstream for the transport conformance suite: every accepted connection runs a script
 * that reads requests and writes exact bytes (no HTTP library in the way), so hostile and broken
 * upstreams can be played byte for byte: garbage, splits at any boundary, resets, hangs.
 *
 *   const up = await RawUpstream.start(async (c) => {
 *     const req = await c.readRequest()
 *     await c.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
 *   })
 *
 * The script runs once per connection; it may loop over `readRequest()` to serve keep-alive
 * requests (it resolves null at EOF). Requests are parsed leniently (this is the test's side):
 * head up to CRLF CRLF, then a Content-Length or chunked body, hashed and optionally kept.
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'

export interface RawRequest {
  /** Index of the connection it arrived on. */
  conn: number
  method: string
  path: string
  version: string
  /** [name (lowercased), value] in arrival order. */
  headers: Array<[string, string]>
  /** The body when it is at most `keepLimit` bytes, else null (length and hash are always set). */
  body: Buffer | null
  bodyLength: number
  sha256: string
  /** The head exactly as received. */
  rawHead: string
}

export type Script = (conn: RawConn) => Promise<void> | void

/** One accepted connection, read through a small queue so the script can await bytes. */
export class RawConn {
  readonly socket: Socket
  /** 0-based order of acceptance on this upstream. */
  readonly index: number
  readonly upstream: RawUpstream
  #buf: Buffer = Buffer.alloc(0)
  #ended = false
  #wake: (() => void) | null = null
  /** Resolves when the peer's side is gone (EOF, reset or our own close). */
  readonly closed: Promise<void>

  constructor (socket: Socket, index: number, upstream: RawUpstream) {
    this.socket = socket
    this.index = index
    this.upstream = upstream
    socket.on('data', (d: Buffer) => {
      this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d])
      this.#notify()
    })
    socket.on('end', () => { this.#ended = true; this.#notify() })
    socket.on('error', () => { this.#ended = true; this.#notify() })
    this.closed = new Promise((resolve) => {
      socket.on('close', () => { this.#ended = true; this.#notify(); resolve() })
    })
  }

  #notify (): void {
    const w = this.#wake
    this.#wake = null
    w?.()
  }

  async #more (): Promise<boolean> {
    if (this.#ended) return false
    await new Promise<void>((resolve) => { this.#wake = resolve })
    return true
  }

  /** Reads one line ending in CRLF (or LF); null at EOF. */
  async #line (): Promise<string | null> {
    for (;;) {
      const i = this.#buf.indexOf(10)
      if (i >= 0) {
        const line = this.#buf.subarray(0, i).toString('latin1').replace(/\r$/, '')
        this.#buf = this.#buf.subarray(i + 1)
        return line
      }
      if (!(await this.#more())) return null
    }
  }

  async #take (n: number, sink: (b: Buffer) => void): Promise<boolean> {
    let left = n
    while (left > 0) {
      if (this.#buf.length === 0 && !(await this.#more())) return false
      const k = Math.min(left, this.#buf.length)
      if (k === 0) continue
      sink(this.#buf.subarray(0, k))
      this.#buf = this.#buf.subarray(k)
      left -= k
    }
    return true
  }

  /** The next request on this connection, or null when the client closed first. */
  async readRequest (keepLimit = 1 << 20): Promise<RawRequest | null> {
    let start = await this.#line()
    while (start === '') start = await this.#line()
    if (start === null) return null
    const [method = '', path = '', version = ''] = start.split(' ')
    const headers: Array<[string, string]> = []
    let rawHead = `${start}\r\n`
    for (;;) {
      const line = await this.#line()
      if (line === null) return null
      rawHead += `${line}\r\n`
      if (line === '') break
      const c = line.indexOf(':')
      headers.push([line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim()])
    }
    const hash = createHash('sha256')
    const kept: Buffer[] = []
    let bodyLength = 0
    const sink = (b: Buffer): void => {
      hash.update(b)
      if (bodyLength + b.length <= keepLimit) kept.push(Buffer.from(b))
      bodyLength += b.length
    }
    const te = headers.find(([n]) => n === 'transfer-encoding')?.[1]
    const cl = headers.find(([n]) => n === 'content-length')?.[1]
    if (te !== undefined && /chunked/i.test(te)) {
      for (;;) {
        const sizeLine = await this.#line()
        if (sizeLine === null) return null
        const size = parseInt(sizeLine, 16)
        if (size === 0) {
          while ((await this.#line()) !== '') { /* trailers */ }
          break
        }
        if (!(await this.#take(size, sink))) return null
        await this.#line()
      }
    } else if (cl !== undefined) {
      if (!(await this.#take(Number(cl), sink))) return null
    }
    const req: RawRequest = {
      conn: this.index,
      method, path, version, headers, rawHead, bodyLength,
      body: bodyLength <= keepLimit ? Buffer.concat(kept) : null,
      sha256: hash.digest('hex'),
    }
    this.upstream.requests.push(req)
    return req
  }

  /** Writes bytes and resolves once the socket accepted them (after 'drain' when it was full). */
  async write (data: string | Buffer): Promise<void> {
    if (this.socket.destroyed) return
    const ok = this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
    if (!ok) await Promise.race([once(this.socket, 'drain'), this.closed])
  }

  /** Writes each byte group with a pause between: splits a response at chosen offsets. */
  async writeSplit (data: string | Buffer, offsets: readonly number[], gapMs = 2): Promise<void> {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data
    let prev = 0
    for (const o of [...offsets, b.length]) {
      if (o > prev) {
        await this.write(b.subarray(prev, o))
        await sleep(gapMs)
      }
      prev = o
    }
  }

  /** Half-closes after the data (FIN). */
  async end (data?: string | Buffer): Promise<void> {
    if (data !== undefined) await this.write(data)
    this.socket.end()
  }

  /** Sends a TCP RST. */
  reset (): void {
    if (!this.socket.destroyed) this.socket.resetAndDestroy()
  }

  destroy (): void {
    this.socket.destroy()
  }

  pauseReading (): void { this.socket.pause() }
  resumeReading (): void { this.socket.resume() }
}

export class RawUpstream {
  readonly server: Server
  readonly port: number
  readonly origin: string
  readonly conns: RawConn[] = []
  readonly requests: RawRequest[] = []
  script: Script

  private constructor (server: Server, port: number, script: Script) {
    this.server = server
    this.port = port
    this.origin = `http://127.0.0.1:${port}`
    this.script = script
  }

  static async start (script: Script): Promise<RawUpstream> {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const up = new RawUpstream(server, (server.address() as { port: number }).port, script)
    server.on('connection', (s: Socket) => {
      s.setNoDelay(true)
      const c = new RawConn(s, up.conns.length, up)
      up.conns.push(c)
      Promise.resolve().then(() => up.script(c)).catch(() => { c.destroy() })
    })
    return up
  }

  /** Accepted connections so far. */
  get connections (): number { return this.conns.length }

  async close (): Promise<void> {
    for (const c of this.conns) c.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A port where the kernel refuses connections (bound, then closed). */
export async function refusedPort (): Promise<number> {
  const s = createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

/**
 * A listener whose accept queue is full: connects to it hang in SYN-SENT until they time out (the
 * kernel drops SYNs to a full queue). The listener lives in a worker thread whose event loop is
 * blocked, so nothing accepts; two fillers occupy the queue (backlog 1 holds two).
 */
export async function blackhole (): Promise<{ port: number; close (): Promise<void> }> {
  const { Worker } = await import('node:worker_threads')
  const { connect } = await import('node:net')
  const sab = new SharedArrayBuffer(4)
  const w = new Worker(`
    const net = require('node:net')
    const { parentPort, workerData } = require('node:worker_threads')
    const s = net.createServer()
    s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      parentPort.postMessage(s.address().port)
      Atomics.wait(new Int32Array(workerData), 0, 0)
    })`, { eval: true, workerData: sab })
  const port = await new Promise<number>((resolve) => w.once('message', resolve))
  const fillers: Socket[] = []
  for (let i = 0; i < 2; i++) {
    const s = connect(port, '127.0.0.1')
    s.on('error', () => {})
    fillers.push(s)
    await once(s, 'connect')
  }
  return {
    port,
    async close () {
      for (const s of fillers) s.destroy()
      const a = new Int32Array(sab)
      Atomics.store(a, 0, 1)
      Atomics.notify(a, 0)
      await w.terminate()
    },
  }
}
