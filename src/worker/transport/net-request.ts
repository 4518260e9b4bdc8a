/**
 * The request side of the `net` transport: validation and preformatting of the head at dispatch
 * time (undici's rules, so both transports reject the same requests with the same codes), and the
 * writer that streams a request body with socket backpressure.
 *
 * Head: `METHOD SP path SP HTTP/1.1 CRLF`, `host` (the target's when the caller gave none), the
 * caller's fields in order; the connection adds `connection: keep-alive|close` and the framing
 * (`content-length`, or `transfer-encoding: chunked` for a stream of unknown length) when it
 * writes. A buffered body up to ONE_WRITE_LIMIT goes out in the same buffer as the head: one
 * write, one syscall per request.
 *
 * `reset` (connection: close, no reuse) as undici: when asked, when the caller sends
 * `connection: close`, and for HEAD unless `reset: false` is given (servers that send a body
 * anyway); the connection also sets it for keepalive_max_requests and a pool size of 0.
 *
 * Rejected like undici (UND_ERR_INVALID_ARG unless noted): a method that is not a token, a path
 * not starting with `/` or holding bytes outside 0x21-0xFF, a field name that is not a token, a
 * value with CR, LF, NUL or another CTL or a char above 0xFF, `transfer-encoding`, `keep-alive`,
 * `upgrade`, `connection` other than a token list, two `host` or `content-length` fields, a
 * `content-length` that is not digits or differs from a buffered body
 * (UND_ERR_REQ_CONTENT_LENGTH_MISMATCH), `expect` and CONNECT (UND_ERR_NOT_SUPPORTED).
 */
import type { Readable } from 'node:stream'
import { invalidArgument, notSupported, requestAborted, requestLengthMismatch } from './errors.ts'
import type { TransportRequest } from './types.ts'

/** Bodies up to this size are copied behind the head and written with it. */
export const ONE_WRITE_LIMIT = 16 * 1024
/** undici's default headersTimeout / bodyTimeout. */
const DEFAULT_TIMEOUT = 300_000

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const INVALID_VALUE_RE = /[^\t\x20-\x7e\x80-\xff]/
const INVALID_PATH_RE = /[^\u0021-\u00ff]/
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PURGE'])
const EXPECTS_PAYLOAD = new Set(['PUT', 'POST', 'PATCH', 'QUERY', 'PROPFIND', 'PROPPATCH'])

/** Field names already checked (names repeat: checked once per thread, bounded). */
const validNames = new Set<string>()
const VALID_NAMES_MAX = 4096

function validName (name: string): boolean {
  if (validNames.has(name)) return true
  if (!TOKEN_RE.test(name)) return false
  if (validNames.size < VALID_NAMES_MAX) validNames.add(name)
  return true
}

/** What dispatch() derives from a TransportRequest; the Exchange holds it. */
export interface PreparedRequest {
  method: string
  isHead: boolean
  /** Request line and fields, each with its CRLF; no connection or framing field. */
  head: string
  /** Framing field(s) and the empty line that ends the head. */
  framing: string
  body: Buffer | null
  stream: Readable | AsyncIterable<Uint8Array> | null
  chunked: boolean
  /** Content-Length of a streamed body; -1 when chunked. */
  declaredLength: number
  headersTimeout: number
  bodyTimeout: number
  writeTimeout: number
  reset: boolean
}

function timeout (v: number | undefined, name: string, fallback: number): number {
  if (v == null) return fallback
  if (!Number.isFinite(v) || v < 0) throw invalidArgument(`invalid ${name}`)
  return v
}

function isDigits (s: string): boolean {
  if (s.length === 0 || s.length > 16) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/**
 * Validates `req` and fills `out`; throws undici's error for an invalid request. `defaultHost`
 * is the Host value used when the caller sends none.
 */
export function prepareRequest (out: PreparedRequest, req: TransportRequest, defaultHost: string): void {
  const method = req.method
  if (typeof method !== 'string') throw invalidArgument('method must be a string')
  if (!KNOWN_METHODS.has(method)) {
    if (method === 'CONNECT') throw notSupported('CONNECT is not supported by the net transport')
    if (!TOKEN_RE.test(method)) throw invalidArgument('invalid request method')
  }
  const path = req.path
  if (typeof path !== 'string') throw invalidArgument('path must be a string')
  if (path.charCodeAt(0) !== 47 && !path.startsWith('http://') && !path.startsWith('https://')) {
    throw invalidArgument('path must be an absolute URL or start with a slash')
  }
  if (INVALID_PATH_RE.test(path)) throw invalidArgument('invalid request path')

  // undici closes after HEAD unless told otherwise (servers that send a body anyway).
  let reset = req.reset === true || (req.reset == null && method === 'HEAD')
  let hasHost = false
  let declared = -1
  let fields = ''
  const h = req.headers
  if (h != null) {
    if (!Array.isArray(h) || (h.length & 1) !== 0) throw invalidArgument('headers array must be even')
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]
      let value: unknown = h[i + 1]
      if (typeof name !== 'string' || !validName(name)) throw invalidArgument('invalid header key')
      if (typeof value !== 'string') {
        if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') value = `${value}`
        else if (value === null) value = ''
        else throw invalidArgument(`invalid ${name} header`)
      }
      const v = value as string
      if (INVALID_VALUE_RE.test(v)) throw invalidArgument(`invalid ${name} header`)
      switch (name.length) {
        case 4:
          if (name.toLowerCase() === 'host') {
            if (hasHost) throw invalidArgument('duplicate host header')
            hasHost = true
          }
          break
        case 6:
          if (name.toLowerCase() === 'expect') throw notSupported('expect header not supported')
          break
        case 7:
          if (name.toLowerCase() === 'upgrade') throw invalidArgument('invalid upgrade header')
          break
        case 10: {
          const n = name.toLowerCase()
          if (n === 'keep-alive') throw invalidArgument('invalid keep-alive header')
          if (n === 'connection') {
            for (const t of v.toLowerCase().split(',')) {
              const k = t.trim()
              if (!TOKEN_RE.test(k)) throw invalidArgument('invalid connection header')
              if (k === 'close') reset = true
            }
            continue
          }
          break
        }
        case 14:
          if (name.toLowerCase() === 'content-length') {
            if (declared >= 0) throw invalidArgument('duplicate content-length header')
            if (!isDigits(v)) throw invalidArgument('invalid content-length header')
            declared = Number(v)
            continue
          }
          break
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') throw invalidArgument('invalid transfer-encoding header')
          break
      }
      fields += `${name}: ${v}\r\n`
    }
  }
  out.method = method
  out.isHead = method === 'HEAD'
  out.head = hasHost ? `${method} ${path} HTTP/1.1\r\n${fields}` : `${method} ${path} HTTP/1.1\r\nhost: ${defaultHost}\r\n${fields}`
  out.headersTimeout = timeout(req.headersTimeout, 'headersTimeout', DEFAULT_TIMEOUT)
  out.bodyTimeout = timeout(req.bodyTimeout, 'bodyTimeout', DEFAULT_TIMEOUT)
  out.writeTimeout = timeout(req.writeTimeout, 'writeTimeout', 0)
  out.reset = reset
  out.body = null
  out.stream = null
  out.chunked = false
  out.declaredLength = -1

  let body = req.body as unknown
  if (typeof body === 'string') body = Buffer.from(body)
  if (body == null || (body instanceof Uint8Array && body.length === 0)) {
    out.framing = EXPECTS_PAYLOAD.has(method) ? 'content-length: 0\r\n\r\n' : '\r\n'
    return
  }
  if (body instanceof Uint8Array) {
    const n = body.length
    if (declared >= 0 && declared !== n) throw requestLengthMismatch()
    out.body = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, n)
    out.framing = `content-length: ${n}\r\n\r\n`
    return
  }
  if (isReadable(body) || isAsyncIterable(body)) {
    out.stream = body as Readable | AsyncIterable<Uint8Array>
    if (declared >= 0) {
      out.declaredLength = declared
      out.framing = `content-length: ${declared}\r\n\r\n`
    } else {
      out.chunked = true
      out.framing = 'transfer-encoding: chunked\r\n\r\n'
    }
    return
  }
  throw invalidArgument('body must be a Buffer, a Readable stream or an async iterable')
}

function isReadable (b: unknown): b is Readable {
  return typeof (b as Readable).on === 'function' && typeof (b as Readable).pause === 'function' && typeof (b as Readable).resume === 'function'
}

function isAsyncIterable (b: unknown): b is AsyncIterable<Uint8Array> {
  return typeof (b as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function'
}

/** What a BodyWriter needs from its connection and exchange. */
export interface BodySink {
  /** Writes bytes; false when the socket's buffer is full (wait for onDrain). */
  write (chunk: Buffer | string): boolean
  cork (): void
  uncork (): void
  /**
   * Below the high-water mark once the writes went out: write() says false for any chunk above
   * it even when the kernel took it all at once, and that alone is no reason to wait.
   */
  drained (): boolean
  /** The socket buffer is full (write timer) or drained. */
  blocked (): void
  /** The last body byte is out. */
  bodyDone (): void
  /** The body source failed or the length did not match: the exchange fails. */
  bodyFailed (err: Error): void
}

/**
 * Streams a request body: Readable streams by 'data' events (paused while the socket is full,
 * resumed on 'drain'), async iterables by a loop that awaits 'drain'. Chunked encoding when no
 * Content-Length was declared, else the byte count is checked against it (undici's
 * RequestContentLengthMismatchError either way round).
 */
export class BodyWriter {
  readonly sink: BodySink
  readonly chunked: boolean
  readonly declared: number
  readonly source: Readable | AsyncIterable<Uint8Array>
  readable: Readable | null
  written: number
  stopped: boolean
  ended: boolean
  drainWaiter: (() => void) | null

  constructor (sink: BodySink, source: Readable | AsyncIterable<Uint8Array>, chunked: boolean, declared: number) {
    this.sink = sink
    this.source = source
    this.chunked = chunked
    this.declared = declared
    this.readable = null
    this.written = 0
    this.stopped = false
    this.ended = false
    this.drainWaiter = null
  }

  start (): void {
    const s = this.source
    if (isReadable(s)) {
      this.readable = s
      if (s.readableEnded) { this.#finish(); return }
      if (s.destroyed) { this.#fail(requestAborted()); return }
      s.on('data', this.#onData)
      s.on('end', this.#onEnd)
      s.on('error', this.#onError)
      s.on('close', this.#onClose)
      s.resume()
    } else {
      void this.#pump(s)
    }
  }

  /** The socket drained: take more. */
  onDrain (): void {
    if (this.stopped) return
    if (this.readable !== null) this.readable.resume()
    const w = this.drainWaiter
    if (w !== null) { this.drainWaiter = null; w() }
  }

  /** The exchange ended (either way): no more writes, listeners off. */
  stop (): void {
    if (this.stopped) return
    this.stopped = true
    const r = this.readable
    if (r !== null) {
      r.off('data', this.#onData)
      r.off('end', this.#onEnd)
      r.off('close', this.#onClose)
      // 'error' stays subscribed: a stream erroring later must not crash the thread.
      r.on('error', ignore)
      r.off('error', this.#onError)
    }
    const w = this.drainWaiter
    if (w !== null) { this.drainWaiter = null; w() }
  }

  /** Writes one chunk; false when the socket is full. */
  #write (chunk: Uint8Array | string): boolean {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)
    const n = b.length
    if (n === 0) return true
    this.written += n
    if (!this.chunked) {
      if (this.written > this.declared) { this.#fail(requestLengthMismatch()); return true }
      // A false write() still has its 'drain' due (needDrain is set) when bytes stay queued.
      return this.sink.write(b) || this.sink.drained()
    }
    const s = this.sink
    s.cork()
    s.write(`${n.toString(16)}\r\n`)
    s.write(b)
    const ok = s.write('\r\n')
    s.uncork()
    return ok || s.drained()
  }

  readonly #onData = (chunk: Uint8Array | string): void => {
    if (this.stopped) return
    if (!this.#write(chunk) && !this.stopped) {
      this.readable!.pause()
      this.sink.blocked()
    }
  }

  readonly #onEnd = (): void => { this.#finish() }

  readonly #onError = (err: Error): void => { this.#fail(err) }

  /** Closed without 'end' (destroyed): the body is incomplete. */
  readonly #onClose = (): void => {
    if (!this.ended) this.#fail(requestAborted())
  }

  async #pump (it: AsyncIterable<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of it) {
        if (this.stopped) return
        if (!this.#write(chunk)) {
          if (this.stopped) return
          this.sink.blocked()
          await new Promise<void>((resolve) => { this.drainWaiter = resolve })
          if (this.stopped) return
        }
      }
      this.#finish()
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)))
    }
  }

  #finish (): void {
    if (this.stopped || this.ended) return
    this.ended = true
    if (this.chunked) this.sink.write('0\r\n\r\n')
    else if (this.written !== this.declared) { this.#fail(requestLengthMismatch()); return }
    this.stop()
    this.sink.bodyDone()
  }

  #fail (err: Error): void {
    if (this.stopped) return
    this.stop()
    this.sink.bodyFailed(err)
  }
}

function ignore (): void {}
