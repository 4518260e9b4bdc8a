/**
 * A raw recording upstream on node:net: it sees exactly the bytes Sluice sends, splits them into
 * requests with a strict HTTP/1.1 parser of its own (RFC 9112: CRLF line ends, one request line
 * `METHOD SP origin-form SP HTTP/1.1`, token field names, no obs-fold, exactly one framing: a single
 * digits-only Content-Length, or `Transfer-Encoding: chunked` alone with strictly formed chunks), and
 * records every violation it finds. A test asserts `violations` is empty and `requests` holds exactly
 * the well-framed requests it expected, so anything smuggled or mis-framed shows up.
 *
 * Answers are scripted per request: `respond(req)` returns the raw bytes to write (and whether to
 * close afterwards), so a test can make the upstream misbehave at the byte level (interim 1xx,
 * differing Content-Lengths, invalid chunks, early close, garbage). The default answer is a
 * 200 with a small JSON body naming the request.
 */
import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'

export interface RawRequest {
  /** Connection number (1-based, in accept order). */
  conn: number
  method: string
  target: string
  /** Field lines as received: [name as sent, value trimmed]. */
  headers: Array<[string, string]>
  /** Decoded body. */
  body: Buffer
  /** 'length', 'chunked' or 'none'. */
  framing: 'length' | 'chunked' | 'none'
  /** Trailer fields of a chunked body. */
  trailers: Array<[string, string]>
  /** The exact bytes of this request on the wire. */
  raw: Buffer
}

export interface Answer {
  /** Bytes to write; a string is sent as latin1. Null: write nothing. */
  data: string | Buffer | null
  /** Close (FIN) after writing. */
  close?: boolean
  /** Reset (RST) instead of a FIN. */
  reset?: boolean
  /** Write in several pieces, this many ms apart (split at these offsets). */
  splitAt?: number[]
  splitDelayMs?: number
  /** Wait this long before answering. */
  delayMs?: number
}

export type Responder = (req: RawRequest) => Answer | null | undefined

export interface RawUpstream {
  port: number
  /** Well-framed requests, in arrival order. */
  requests: RawRequest[]
  /** Everything this upstream found wrong with what it received (empty when all was well-formed). */
  violations: string[]
  /** Connections accepted so far. */
  readonly connections: number
  /** Connections that have closed so far (either side). */
  readonly closed: number
  /** Raw bytes received, per connection number. */
  bytes: Map<number, Buffer>
  /** Replaces the responder (default: `okResponder`). */
  respond (fn: Responder): void
  /** Resolves when `n` requests in total have arrived. */
  waitRequests (n: number, timeoutMs?: number): Promise<void>
  /** Forgets requests, violations and bytes (connections keep counting). */
  reset (): void
  close (): Promise<void>
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** 200 with a JSON body naming the request (method, target, body length). */
export function okAnswer (req: RawRequest, extraHeaders = ''): Answer {
  const body = JSON.stringify({ method: req.method, target: req.target, bodyLength: req.body.length })
  return { data: `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}` }
}

export const okResponder: Responder = (req) => okAnswer(req)

interface ParseResult { req: Omit<RawRequest, 'conn' | 'raw'>; used: number }

/**
 * Parses one request from `buf` strictly. Returns null when more bytes are needed; throws a string
 * (the violation) when the bytes are not a valid request.
 */
function parseRequest (buf: Buffer): ParseResult | null {
  const end = buf.indexOf('\r\n\r\n')
  if (end < 0) {
    if (buf.includes(0x0a) && !/\r\n/.test(buf.toString('latin1'))) throw 'bare LF in the request head'
    if (buf.length > 64 * 1024) throw 'request head over 64 KiB'
    return null
  }
  const head = buf.subarray(0, end).toString('latin1')
  const lines = head.split('\r\n')
  for (const l of lines) {
    if (l.includes('\n') || l.includes('\r')) throw `bare CR or LF in line ${JSON.stringify(l)}`
  }
  const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\/[^ ]*|\*) HTTP\/1\.1$/.exec(lines[0]!)
  if (m === null) throw `bad request line ${JSON.stringify(lines[0])}`
  const headers: Array<[string, string]> = []
  for (const l of lines.slice(1)) {
    if (l.startsWith(' ') || l.startsWith('\t')) throw `obs-fold line ${JSON.stringify(l)}`
    const colon = l.indexOf(':')
    if (colon <= 0) throw `field line without a name ${JSON.stringify(l)}`
    const name = l.slice(0, colon)
    if (!TOKEN.test(name)) throw `bad field name ${JSON.stringify(name)}`
    const value = l.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')
    if (/[\0-\x08\x0a-\x1f\x7f]/.test(value)) throw `control byte in field ${name}`
    headers.push([name, value])
  }
  const lower = (n: string): Array<[string, string]> => headers.filter(([k]) => k.toLowerCase() === n)
  const cl = lower('content-length')
  const te = lower('transfer-encoding')
  const hosts = lower('host')
  if (hosts.length !== 1) throw `${hosts.length} Host fields`
  if (lower('connection').some(([, v]) => v.toLowerCase().split(',').some((t) => t.trim() === 'transfer-encoding'))) throw 'Connection names a framing field'
  let start = end + 4
  if (cl.length > 0 && te.length > 0) throw 'both Content-Length and Transfer-Encoding'
  if (cl.length > 1) throw `${cl.length} Content-Length fields`
  if (te.length > 1) throw `${te.length} Transfer-Encoding fields`
  if (cl.length === 1) {
    const v = cl[0]![1]
    if (!/^\d{1,15}$/.test(v)) throw `bad Content-Length ${JSON.stringify(v)}`
    const n = Number(v)
    if (buf.length < start + n) return null
    return { req: { method: m[1]!, target: m[2]!, headers, body: Buffer.from(buf.subarray(start, start + n)), framing: 'length', trailers: [] }, used: start + n }
  }
  if (te.length === 1) {
    if (te[0]![1].toLowerCase() !== 'chunked') throw `Transfer-Encoding ${JSON.stringify(te[0]![1])}`
    const parts: Buffer[] = []
    const trailers: Array<[string, string]> = []
    for (;;) {
      const eol = buf.indexOf('\r\n', start)
      if (eol < 0) {
        if (buf.length - start > 1024) throw 'chunk size line over 1 KiB'
        return null
      }
      const line = buf.subarray(start, eol).toString('latin1')
      const sm = /^([0-9A-Fa-f]{1,16})((?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"[^"\r\n]*"))?)*)[ \t]*$/.exec(line)
      if (sm === null) throw `bad chunk size line ${JSON.stringify(line)}`
      const size = parseInt(sm[1]!, 16)
      start = eol + 2
      if (size === 0) {
        // Trailer section, then CRLF.
        for (;;) {
          const tl = buf.indexOf('\r\n', start)
          if (tl < 0) return null
          const t = buf.subarray(start, tl).toString('latin1')
          start = tl + 2
          if (t === '') break
          const c = t.indexOf(':')
          if (c <= 0 || !TOKEN.test(t.slice(0, c))) throw `bad trailer line ${JSON.stringify(t)}`
          trailers.push([t.slice(0, c), t.slice(c + 1).trim()])
        }
        return { req: { method: m[1]!, target: m[2]!, headers, body: Buffer.concat(parts), framing: 'chunked', trailers }, used: start }
      }
      if (buf.length < start + size + 2) return null
      parts.push(Buffer.from(buf.subarray(start, start + size)))
      if (buf[start + size] !== 0x0d || buf[start + size + 1] !== 0x0a) throw 'chunk data not followed by CRLF'
      start += size + 2
    }
  }
  return { req: { method: m[1]!, target: m[2]!, headers, body: Buffer.alloc(0), framing: 'none', trailers: [] }, used: start }
}

export async function startRawUpstream (responder: Responder = okResponder): Promise<RawUpstream> {
  let respond = responder
  const requests: RawRequest[] = []
  const violations: string[] = []
  const bytes = new Map<number, Buffer>()
  const sockets = new Set<Socket>()
  let connections = 0
  let closed = 0
  const waiters: Array<{ n: number; resolve: () => void }> = []
  const notify = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (requests.length >= waiters[i]!.n) { waiters[i]!.resolve(); waiters.splice(i, 1) }
    }
  }

  const server: Server = createServer((s) => {
    const conn = ++connections
    sockets.add(s)
    s.on('close', () => { sockets.delete(s); closed++ })
    s.on('error', () => {})
    let buf = Buffer.alloc(0)
    let broken = false
    // Answers go out in request order even when one is delayed.
    let queue: Promise<void> = Promise.resolve()
    s.on('data', (d: Buffer) => {
      bytes.set(conn, Buffer.concat([bytes.get(conn) ?? Buffer.alloc(0), d]))
      if (broken) { violations.push(`conn ${conn}: ${d.length} more bytes after a violation`); return }
      buf = Buffer.concat([buf, d])
      for (;;) {
        let r: ParseResult | null
        try {
          r = parseRequest(buf)
        } catch (err) {
          violations.push(`conn ${conn}: ${String(err)}`)
          broken = true
          s.destroy()
          return
        }
        if (r === null) return
        const req: RawRequest = { conn, ...r.req, raw: Buffer.from(buf.subarray(0, r.used)) }
        buf = buf.subarray(r.used)
        requests.push(req)
        notify()
        const answer = respond(req) ?? null
        queue = queue.then(() => write(s, answer))
      }
    })
  })

  async function write (s: Socket, a: Answer | null): Promise<void> {
    if (a === null || s.destroyed) return
    if (a.delayMs !== undefined) await new Promise((r) => setTimeout(r, a.delayMs))
    if (s.destroyed) return
    if (a.data !== null) {
      const data = typeof a.data === 'string' ? Buffer.from(a.data, 'latin1') : a.data
      const cuts = [0, ...(a.splitAt ?? []), data.length]
      for (let i = 0; i < cuts.length - 1; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, a.splitDelayMs ?? 20))
        if (s.destroyed) return
        s.write(data.subarray(cuts[i]!, cuts[i + 1]!))
      }
    }
    if (a.reset === true) s.resetAndDestroy()
    else if (a.close === true) s.end()
  }

  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  return {
    port,
    requests,
    violations,
    get connections () { return connections },
    get closed () { return closed },
    bytes,
    respond (fn) { respond = fn },
    waitRequests (n, timeoutMs = 5000) {
      if (requests.length >= n) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const w = { n, resolve }
        waiters.push(w)
        setTimeout(() => {
          const i = waiters.indexOf(w)
          if (i >= 0) { waiters.splice(i, 1); reject(new Error(`raw upstream: ${requests.length} requests after ${timeoutMs} ms, wanted ${n}`)) }
        }, timeoutMs).unref()
      })
    },
    reset () { requests.length = 0; violations.length = 0; bytes.clear() },
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
