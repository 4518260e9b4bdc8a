/**
 * A strict HTTP/1.1 response parser for the `net` transport: pure (no I/O, no callbacks), pull
 * style. The connection feeds it bytes with `execute(buf, i, end)`; each call consumes input up to
 * the next event and returns the new position with `event` set:
 *
 *   EV_HEAD   a complete head: `status`, `reason`, `headers` (1xx interim heads included)
 *   EV_BODY   body bytes at buf[bodyStart, bodyEnd) (framing removed: chunk sizes, CRLFs)
 *   EV_END    the message is complete (`trailers` set when the chunked body had any)
 *   EV_ERROR  `errorCode` / `errorMessage`; the parser stays in error
 *   EV_NONE   the input is used up (or the message is done and the rest is not ours)
 *
 * and `finish()` at EOF turns the state into EV_END (read-until-close bodies) or EV_ERROR.
 * The parser never keeps a reference into a buffer it was given: a head or trailer section split
 * across reads is copied into its own accumulation buffer, so callers may pass one reusable read
 * buffer for every connection of the thread.
 *
 * Why hand-written and not llhttp: llhttp is only reachable from JavaScript through undici's wasm
 * build (undici's callbacks, its header arrays and a copy into wasm memory per read: most of the
 * ~7 us undici costs per request) or through Node's internal `HTTPParser` binding (not public,
 * gone from `process.binding` in newer Nodes). llhttp stays the reference for strictness: this
 * parser was compared with undici 7.30's llhttp on every case of the conformance suite and is at
 * least as strict on each response-side rule of reference/uws-edge.md, and stricter where llhttp
 * is lenient:
 *
 *   rule                                   llhttp (undici 7)             here
 *   Content-Length twice (equal or not),   error (undici's own length    error (HPE_UNEXPECTED_CONTENT_LENGTH)
 *     or a list `2, 2`                      check)
 *   Content-Length and Transfer-Encoding   error                         error, unless the response has no body
 *   Content-Length not 1*DIGIT, overflow   error                         error (above 2^53-1 too)
 *   bare LF, bare CR, obs-fold, space      error                         error (head, chunk lines, trailers)
 *     before `:`, CTL in a value
 *   invalid chunk size / extension,        error                         error; a chunk line is capped at 4 KiB
 *     missing CRLF after chunk data
 *   chunk size overflow                    error above 2^64              error above 2^53-1
 *   early EOF in head or body              error                         error
 *   reset during a read-until-close body   complete (undici ends the     error (ECONNRESET: a reset is not
 *                                          body at ECONNRESET)           the end of the body)
 *   status not 3 digits, version 1.2       error                         error
 *   status 0xx                             passed on, then an assertion  error (HPE_INVALID_STATUS)
 *                                          fails inside undici
 *   version HTTP/0.9 or HTTP/2.0           accepted                      error (only HTTP/1.0 and 1.1)
 *   CTL in the reason phrase               accepted                      error
 *   trailing whitespace in a field value   kept                          removed (RFC 9112 5: OWS)
 *   100 Continue (never asked for)         error (undici: bad response)  surfaced as a 1xx (RFC 9110 15.2:
 *                                                                        a client MUST parse unexpected 1xx)
 *   204/304 with Content-Length            error (undici's length        no body, complete (RFC 9112 6.3)
 *                                          check)
 *   101 without an upgrade request         UND_ERR_SOCKET (the proxy     HPE_UNEXPECTED_UPGRADE (502, no
 *                                          retries it)                   retry: the upstream answered)
 *
 * Framing (RFC 9112 6.3): HEAD responses, 1xx, 204 and 304 have no body whatever their fields say;
 * then Transfer-Encoding whose final coding is `chunked` (with extensions and trailers); any other
 * Transfer-Encoding reads until close; then Content-Length; else read until close. A 101 is a
 * protocol error (nothing here asks for an upgrade). `keepAlive` tells whether the connection may
 * carry another request: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `Connection:
 * keep-alive`, never after a read-until-close body. Sizes: a head or trailer section is at most
 * `maxHeaderSize` bytes (undici's default 16 KiB; UND_ERR_HEADERS_OVERFLOW beyond).
 */
import type { IncomingHttpHeaders } from 'node:http'

export const EV_NONE = 0
export const EV_HEAD = 1
export const EV_BODY = 2
export const EV_END = 3
export const EV_ERROR = 4

// States.
const S_HEAD = 0
const S_LENGTH = 1
const S_CHUNK_SIZE = 2
const S_CHUNK_EXT_NAME = 3
const S_CHUNK_EXT_VALUE_START = 4
const S_CHUNK_EXT_TOKEN = 5
const S_CHUNK_EXT_QUOTED = 6
const S_CHUNK_EXT_ESCAPE = 7
const S_CHUNK_EXT_AFTER_QUOTE = 8
const S_CHUNK_SIZE_LF = 9
const S_CHUNK_DATA = 10
const S_CHUNK_DATA_CR = 11
const S_CHUNK_DATA_LF = 12
const S_TRAILERS = 13
const S_UNTIL_CLOSE = 14
const S_END_PENDING = 15
const S_DONE = 16
const S_ERROR = 17

const CR = 13
const LF = 10
const SP = 32
const HTAB = 9
const COLON = 58

/** Longest chunk-size line (size, extensions, CRLF). */
const MAX_CHUNK_LINE = 4096
/** Chunk sizes above this cannot be represented exactly. */
const MAX_SAFE_DIV16 = Math.floor(Number.MAX_SAFE_INTEGER / 16)

/** RFC 9110 tchar. */
const TOKEN = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1
for (let c = 48; c <= 57; c++) TOKEN[c] = 1
for (let c = 65; c <= 90; c++) TOKEN[c] = 1
for (let c = 97; c <= 122; c++) TOKEN[c] = 1

/** Hex digit values, -1 for anything else. */
const HEX = new Int8Array(256).fill(-1)
for (let c = 48; c <= 57; c++) HEX[c] = c - 48
for (let c = 65; c <= 70; c++) HEX[c] = c - 55
for (let c = 97; c <= 102; c++) HEX[c] = c - 87

/** ASCII lower-casing of a byte. */
const LOWER = new Uint8Array(256)
for (let c = 0; c < 256; c++) LOWER[c] = c >= 65 && c <= 90 ? c + 32 : c

function nameHash (name: string): number {
  let h = 0
  for (let k = 0; k < name.length; k++) h = (Math.imul(h, 31) + name.charCodeAt(k)) | 0
  return h
}

/** Common response field names, by the hash #parseBlock computes: no slice, no toLowerCase. */
const KNOWN_NAMES = new Map<number, string>()
for (const n of [
  'content-type', 'content-length', 'date', 'server', 'connection', 'keep-alive', 'transfer-encoding',
  'cache-control', 'etag', 'last-modified', 'expires', 'vary', 'set-cookie', 'location', 'content-encoding',
  'accept-ranges', 'age', 'pragma', 'via', 'link', 'trailer', 'content-disposition', 'content-language',
  'content-range', 'retry-after', 'www-authenticate', 'alt-svc', 'access-control-allow-origin',
  'access-control-allow-credentials', 'access-control-allow-headers', 'access-control-allow-methods',
  'access-control-expose-headers', 'strict-transport-security', 'x-content-type-options', 'x-frame-options',
  'x-xss-protection', 'content-security-policy', 'referrer-policy', 'x-request-id', 'x-powered-by', 'x-cache',
]) {
  const h = nameHash(n)
  if (!KNOWN_NAMES.has(h)) KNOWN_NAMES.set(h, n)
}

/** The interned name for b[start, end) when it is a known one (compared case-insensitively). */
function knownName (hash: number, b: Buffer, start: number, end: number): string | undefined {
  const n = KNOWN_NAMES.get(hash)
  if (n === undefined || n.length !== end - start) return undefined
  for (let k = 0; k < n.length; k++) if (LOWER[b[start + k]!] !== n.charCodeAt(k)) return undefined
  return n
}

/** A field-value / reason byte that is not allowed: CTLs other than HTAB, and DEL. */
function isCtl (c: number): boolean {
  return (c < 0x20 && c !== HTAB) || c === 0x7f
}

/** quoted-string qdtext (RFC 9110 5.6.4). */
function isQdText (c: number): boolean {
  return c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80
}

interface Latin1 { latin1Slice (start: number, end: number): string }

/** Buffer's own latin1 slicer, without toString()'s argument handling. */
function latin1 (b: Buffer, start: number, end: number): string {
  return (b as unknown as Latin1).latin1Slice(start, end)
}

const EMPTY: IncomingHttpHeaders = Object.freeze(Object.create(null) as IncomingHttpHeaders)
/**
 * Prototype of every parsed header object: nothing inherited (`__proto__` or `constructor` are
 * ordinary fields), yet the objects stay in V8's fast mode. Object.create(null) makes dictionary-mode
 * objects, which cost about 4x as much to fill and enumerate (response-writer.ts iterates them).
 */
const HEADERS_PROTO: object = Object.freeze(Object.create(null) as object)

export class ResponseParser {
  readonly maxHeaderSize: number

  // Outputs.
  event: number
  status: number
  reason: string
  headers: IncomingHttpHeaders
  trailers: IncomingHttpHeaders
  /** The connection may be reused after this message (valid from EV_HEAD of a final status). */
  keepAlive: boolean
  /** Server `Keep-Alive: timeout=N` in milliseconds, or -1. */
  keepAliveTimeout: number
  bodyStart: number
  bodyEnd: number
  errorCode: string
  errorMessage: string

  // Message state.
  state: number
  isHead: boolean
  remaining: number
  /** Bytes of the current chunk-size line (size + extensions). */
  lineLen: number
  extNameLen: number
  sawDigit: boolean

  // Head / trailer accumulation when a block spans reads.
  acc: Buffer | null
  accLen: number
  /** Bytes of the block scanned so far (also the overflow counter). */
  blockLen: number
  /** Bytes of the current line scanned so far, CR included. */
  scanLine: number
  scanCR: boolean

  // Fields seen in the head being parsed.
  contentLength: number
  hasContentLength: boolean
  hasTransferEncoding: boolean
  chunked: boolean
  connClose: boolean
  connKeepAlive: boolean
  http10: boolean

  constructor (maxHeaderSize = 16384) {
    this.maxHeaderSize = maxHeaderSize
    this.event = EV_NONE
    this.status = 0
    this.reason = ''
    this.headers = EMPTY
    this.trailers = EMPTY
    this.keepAlive = false
    this.keepAliveTimeout = -1
    this.bodyStart = 0
    this.bodyEnd = 0
    this.errorCode = ''
    this.errorMessage = ''
    this.state = S_DONE
    this.isHead = false
    this.remaining = 0
    this.lineLen = 0
    this.extNameLen = 0
    this.sawDigit = false
    this.acc = null
    this.accLen = 0
    this.blockLen = 0
    this.scanLine = 0
    this.scanCR = false
    this.contentLength = -1
    this.hasContentLength = false
    this.hasTransferEncoding = false
    this.chunked = false
    this.connClose = false
    this.connKeepAlive = false
    this.http10 = false
  }

  /** Prepares for the response to one request (`isHead`: the request was HEAD). */
  reset (isHead: boolean): void {
    this.isHead = isHead
    this.state = S_HEAD
    this.event = EV_NONE
    this.status = 0
    this.reason = ''
    this.headers = EMPTY
    this.trailers = EMPTY
    this.keepAlive = false
    this.keepAliveTimeout = -1
    this.errorCode = ''
    this.errorMessage = ''
    this.#startBlock()
  }

  /** True while no byte of the response has arrived (an EOF here is "closed before answering"). */
  get idle (): boolean {
    return this.state === S_HEAD && this.blockLen === 0 && this.status === 0
  }

  get done (): boolean {
    return this.state === S_DONE
  }

  #startBlock (): void {
    this.accLen = 0
    this.blockLen = 0
    this.scanLine = 0
    this.scanCR = false
  }

  #fail (code: string, message: string): number {
    this.state = S_ERROR
    this.event = EV_ERROR
    this.errorCode = code
    this.errorMessage = message
    return -1
  }

  /** Consumes input up to the next event; see the header comment. */
  execute (b: Buffer, i: number, end: number): number {
    this.event = EV_NONE
    for (;;) {
      switch (this.state) {
        case S_HEAD:
        case S_TRAILERS: {
          if (i >= end) return i
          const r = this.#block(b, i, end)
          if (r < 0) return end
          if (this.event !== EV_NONE) return r
          i = r // leading empty line skipped: go on
          continue
        }
        case S_LENGTH:
        case S_CHUNK_DATA: {
          if (i >= end) return i
          const avail = end - i
          const n = avail < this.remaining ? avail : this.remaining
          this.bodyStart = i
          this.bodyEnd = i + n
          this.remaining -= n
          if (this.remaining === 0) this.state = this.state === S_LENGTH ? S_END_PENDING : S_CHUNK_DATA_CR
          this.event = EV_BODY
          return i + n
        }
        case S_UNTIL_CLOSE:
          if (i >= end) return i
          this.bodyStart = i
          this.bodyEnd = end
          this.event = EV_BODY
          return end
        case S_END_PENDING:
          this.state = S_DONE
          this.event = EV_END
          return i
        case S_DONE:
          return i
        case S_ERROR:
          this.event = EV_ERROR
          return i
        default: {
          if (i >= end) return i
          const r = this.#chunkLine(b, i, end)
          if (r < 0) return i
          i = r
          if (this.event !== EV_NONE) return i
          continue
        }
      }
    }
  }

  /** At EOF: the end of a read-until-close body, or an error for anything unfinished. */
  finish (): void {
    switch (this.state) {
      case S_UNTIL_CLOSE:
      case S_END_PENDING:
        this.state = S_DONE
        this.event = EV_END
        return
      case S_DONE:
        this.event = EV_NONE
        return
      case S_ERROR:
        this.event = EV_ERROR
        return
      default:
        this.#fail('HPE_INVALID_EOF_STATE', 'Invalid EOF state: the response ended early')
    }
  }

  // -------------------------------------------------------------------------------------------
  // Head and trailer blocks

  /**
   * Finds the end of the head (or trailer section) starting at b[i]. Returns the position after
   * the block with the event set, the position after a skipped leading empty line (event NONE),
   * or -1 when the input ran out (bytes kept in `acc`) or on error (event ERROR).
   */
  #block (b: Buffer, i: number, end: number): number {
    const start = i
    const limit = this.maxHeaderSize - this.blockLen
    const stop = end - start > limit ? start + limit : end
    // indexOf must not run into the bytes after `stop` (a shared read buffer holds stale ones).
    const v = stop < b.length ? b.subarray(0, stop) : b
    // Where the current line began; before `start` when it began in an earlier read.
    let lineStart = start - this.scanLine
    for (;;) {
      const lf = v.indexOf(LF, i)
      if (lf < 0) break
      if (lf > start ? b[lf - 1] !== CR : !this.scanCR) {
        this.#fail('HPE_LF_EXPECTED', 'Missing expected CR before LF')
        return -1
      }
      if (lf - lineStart === 1) {
        // An empty line.
        if (this.blockLen + (lf - start) === 1 && this.state === S_HEAD) {
          // CRLF before the status line (llhttp skips these too).
          this.#startBlock()
          return lf + 1
        }
        const blockEnd = lf + 1
        this.blockLen += blockEnd - start
        if (this.accLen === 0) {
          this.#parseBlock(b, start, blockEnd)
        } else {
          this.#append(b, start, blockEnd)
          this.#parseBlock(this.acc!, 0, this.accLen)
        }
        return this.event === EV_ERROR ? -1 : blockEnd
      }
      lineStart = lf + 1
      i = lf + 1
    }
    if (stop < end) {
      this.#fail('HPE_HEADER_OVERFLOW', 'Header overflow')
      return -1
    }
    this.scanLine = end - lineStart
    this.scanCR = end > start ? b[end - 1] === CR : this.scanCR
    this.blockLen += end - start
    this.#append(b, start, end)
    return -1
  }

  #append (b: Buffer, start: number, end: number): void {
    const n = end - start
    let acc = this.acc
    if (acc === null || acc.length < this.accLen + n) {
      const grown = Buffer.allocUnsafe(Math.max(1024, (this.accLen + n) * 2))
      if (acc !== null && this.accLen > 0) acc.copy(grown, 0, 0, this.accLen)
      acc = grown
      this.acc = acc
    }
    b.copy(acc, this.accLen, start, end)
    this.accLen += n
  }

  /** Parses a complete block b[start, end) (it ends in CRLF CRLF; every LF has its CR). */
  #parseBlock (b: Buffer, start: number, end: number): void {
    const trailers = this.state === S_TRAILERS
    let i = start
    if (!trailers) {
      i = this.#statusLine(b, start, end)
      if (i < 0) return
      this.contentLength = -1
      this.hasContentLength = false
      this.hasTransferEncoding = false
      this.chunked = false
      this.connClose = false
      this.connKeepAlive = false
      this.keepAliveTimeout = -1
    }
    let obj: IncomingHttpHeaders | null = null
    // Each field line: name ":" OWS value OWS CRLF. `end - 2` is the CR of the final empty line.
    const last = end - 2
    while (i < last) {
      let j = i
      let c = b[j]!
      if (c === SP || c === HTAB) { this.#fail('HPE_UNEXPECTED_SPACE', 'Unexpected whitespace at the start of a field line (obs-fold)'); return }
      // Name: a token; hashed lower-case on the way, so that common names need no new string.
      let hash = 0
      while (TOKEN[c] === 1) {
        hash = (Math.imul(hash, 31) + LOWER[c]!) | 0
        c = b[++j]!
      }
      if (j === i || c !== COLON) { this.#fail('HPE_INVALID_HEADER_TOKEN', 'Invalid header field name'); return }
      const name = knownName(hash, b, i, j) ?? latin1(b, i, j).toLowerCase()
      j++
      // Value: skip leading OWS; remember the end of the last non-OWS byte.
      while (b[j] === SP || b[j] === HTAB) j++
      const vs = j
      let ve = j
      for (;;) {
        c = b[j]!
        if (c > SP) {
          if (c === 0x7f) { this.#fail('HPE_INVALID_HEADER_VALUE', 'Invalid character in a header value'); return }
          ve = ++j
          continue
        }
        if (c === CR) break
        if (c !== SP && c !== HTAB) { this.#fail('HPE_INVALID_HEADER_VALUE', 'Invalid character in a header value'); return }
        j++
      }
      if (b[j + 1] !== LF) { this.#fail('HPE_CR_EXPECTED', 'Bare CR in a header field'); return }
      const value = ve > vs ? latin1(b, vs, ve) : ''
      if (!trailers && !this.#special(name, value)) return
      if (obj === null) obj = Object.create(HEADERS_PROTO) as IncomingHttpHeaders
      const prev = obj[name]
      if (prev === undefined) obj[name] = value
      else if (typeof prev === 'string') obj[name] = [prev, value]
      else prev.push(value)
      i = j + 2
    }
    if (trailers) {
      this.trailers = obj ?? EMPTY
      this.state = S_DONE
      this.event = EV_END
      return
    }
    this.headers = obj ?? EMPTY
    this.#framing()
  }

  /** Parses `HTTP/1.x SP 3DIGIT [SP reason] CRLF`; returns the position after it, or -1. */
  #statusLine (b: Buffer, i: number, end: number): number {
    if (end - i < 14 || b[i] !== 72 || b[i + 1] !== 84 || b[i + 2] !== 84 || b[i + 3] !== 80 || b[i + 4] !== 47) {
      return this.#fail('HPE_INVALID_CONSTANT', 'Expected HTTP/')
    }
    if (b[i + 5] !== 49 || b[i + 6] !== 46 || (b[i + 7] !== 49 && b[i + 7] !== 48)) {
      return this.#fail('HPE_INVALID_VERSION', 'Invalid HTTP version (HTTP/1.0 or HTTP/1.1 expected)')
    }
    this.http10 = b[i + 7] === 48
    if (b[i + 8] !== SP) return this.#fail('HPE_INVALID_STATUS', 'Expected a space after the version')
    const d0 = b[i + 9]! - 48
    const d1 = b[i + 10]! - 48
    const d2 = b[i + 11]! - 48
    if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) {
      return this.#fail('HPE_INVALID_STATUS', 'Invalid status code')
    }
    this.status = d0 * 100 + d1 * 10 + d2
    let j = i + 12
    let c = b[j]!
    if (c === SP) {
      const rs = ++j
      for (;;) {
        c = b[j]!
        if (c === CR) break
        if (isCtl(c)) return this.#fail('HPE_INVALID_STATUS', 'Invalid character in the reason phrase')
        j++
      }
      this.reason = j > rs ? reasonText(b, rs, j) : ''
    } else if (c === CR) {
      this.reason = ''
    } else {
      return this.#fail('HPE_INVALID_STATUS', 'Invalid status code')
    }
    if (b[j + 1] !== LF) return this.#fail('HPE_CR_EXPECTED', 'Bare CR in the status line')
    return j + 2
  }

  /** Framing fields of the head; false after an error. */
  #special (name: string, value: string): boolean {
    switch (name.length) {
      case 14:
        if (name !== 'content-length') return true
        if (this.hasContentLength) { this.#fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'Duplicate Content-Length'); return false }
        this.hasContentLength = true
        this.contentLength = parseLength(value)
        if (this.contentLength < 0) { this.#fail('HPE_INVALID_CONTENT_LENGTH', 'Invalid Content-Length'); return false }
        return true
      case 17:
        if (name !== 'transfer-encoding') return true
        // The final coding of the combined list decides; a later field overrides an earlier one.
        this.hasTransferEncoding = true
        this.chunked = lastTokenIs(value, 'chunked')
        return true
      case 10:
        if (name === 'connection') {
          const v = value.toLowerCase()
          if (v === 'close') this.connClose = true
          else if (v === 'keep-alive') this.connKeepAlive = true
          else if (v.includes(',')) {
            for (const t of v.split(',')) {
              const k = t.trim()
              if (k === 'close') this.connClose = true
              else if (k === 'keep-alive') this.connKeepAlive = true
            }
          }
        } else if (name === 'keep-alive') {
          const m = /(?:^|[\s,])timeout\s*=\s*(\d+)/i.exec(value)
          if (m !== null) this.keepAliveTimeout = Number(m[1]) * 1000
        }
        return true
      default:
        return true
    }
  }

  /** Chooses the body framing once the head is parsed. */
  #framing (): void {
    const status = this.status
    this.event = EV_HEAD
    if (status < 200) {
      if (status === 101) {
        // undici raises SocketError "bad upgrade" (UND_ERR_SOCKET, which the proxy retries); the
        // upstream did answer, so here it is a protocol error (502, not retried, as nginx).
        this.#fail('HPE_UNEXPECTED_UPGRADE', 'Unexpected 101 Switching Protocols: no upgrade was requested')
        return
      }
      // Interim: the final response follows on the same connection.
      this.state = S_HEAD
      this.#startBlock()
      return
    }
    this.keepAlive = this.http10 ? (this.connKeepAlive && !this.connClose) : !this.connClose
    if (this.isHead || status === 204 || status === 304) {
      this.state = S_END_PENDING
      return
    }
    if (this.hasTransferEncoding) {
      if (this.hasContentLength) {
        this.#fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'Content-Length together with Transfer-Encoding')
        return
      }
      if (this.chunked) {
        this.#startChunk()
        return
      }
      this.state = S_UNTIL_CLOSE
      this.keepAlive = false
      return
    }
    if (this.hasContentLength) {
      this.remaining = this.contentLength
      this.state = this.contentLength === 0 ? S_END_PENDING : S_LENGTH
      return
    }
    this.state = S_UNTIL_CLOSE
    this.keepAlive = false
  }

  // -------------------------------------------------------------------------------------------
  // Chunked framing

  #startChunk (): void {
    this.state = S_CHUNK_SIZE
    this.remaining = 0
    this.lineLen = 0
    this.sawDigit = false
  }

  /**
   * Chunk-size lines, extensions and the CRLF after chunk data, byte by byte (state survives any
   * split). Returns the position reached (event set when a chunk's data or the trailers begin),
   * or -1 on error.
   */
  #chunkLine (b: Buffer, i: number, end: number): number {
    let state = this.state
    for (; i < end; i++) {
      const c = b[i]!
      if (state <= S_CHUNK_SIZE_LF && ++this.lineLen > MAX_CHUNK_LINE) {
        this.#fail('HPE_INVALID_CHUNK_SIZE', 'Chunk size line too long')
        return -1
      }
      switch (state) {
        case S_CHUNK_SIZE: {
          const h = HEX[c]!
          if (h >= 0) {
            if (this.remaining > MAX_SAFE_DIV16) { this.#fail('HPE_INVALID_CHUNK_SIZE', 'Chunk size overflow'); return -1 }
            this.remaining = this.remaining * 16 + h
            this.sawDigit = true
            continue
          }
          if (!this.sawDigit) { this.#fail('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size'); return -1 }
          if (c === CR) { state = S_CHUNK_SIZE_LF; continue }
          if (c === 59 /* ; */) { state = S_CHUNK_EXT_NAME; this.extNameLen = 0; continue }
          this.#fail('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size')
          return -1
        }
        case S_CHUNK_EXT_NAME:
          if (TOKEN[c] === 1) { this.extNameLen++; continue }
          if (this.extNameLen > 0) {
            if (c === 61 /* = */) { state = S_CHUNK_EXT_VALUE_START; continue }
            if (c === 59) { this.extNameLen = 0; continue }
            if (c === CR) { state = S_CHUNK_SIZE_LF; continue }
          }
          this.#fail('HPE_STRICT', 'Invalid character in chunk extensions')
          return -1
        case S_CHUNK_EXT_VALUE_START:
          if (c === 34 /* " */) { state = S_CHUNK_EXT_QUOTED; continue }
          if (TOKEN[c] === 1) { state = S_CHUNK_EXT_TOKEN; continue }
          this.#fail('HPE_STRICT', 'Invalid character in chunk extensions value')
          return -1
        case S_CHUNK_EXT_TOKEN:
          if (TOKEN[c] === 1) continue
          if (c === 59) { state = S_CHUNK_EXT_NAME; this.extNameLen = 0; continue }
          if (c === CR) { state = S_CHUNK_SIZE_LF; continue }
          this.#fail('HPE_STRICT', 'Invalid character in chunk extensions value')
          return -1
        case S_CHUNK_EXT_QUOTED:
          if (c === 34) { state = S_CHUNK_EXT_AFTER_QUOTE; continue }
          if (c === 92 /* \ */) { state = S_CHUNK_EXT_ESCAPE; continue }
          if (isQdText(c)) continue
          this.#fail('HPE_STRICT', 'Invalid character in a quoted chunk extension')
          return -1
        case S_CHUNK_EXT_ESCAPE:
          if (c === HTAB || (c >= 0x20 && c !== 0x7f)) { state = S_CHUNK_EXT_QUOTED; continue }
          this.#fail('HPE_STRICT', 'Invalid escape in a quoted chunk extension')
          return -1
        case S_CHUNK_EXT_AFTER_QUOTE:
          if (c === 59) { state = S_CHUNK_EXT_NAME; this.extNameLen = 0; continue }
          if (c === CR) { state = S_CHUNK_SIZE_LF; continue }
          this.#fail('HPE_STRICT', 'Invalid character after a quoted chunk extension')
          return -1
        case S_CHUNK_SIZE_LF:
          if (c !== LF) { this.#fail('HPE_LF_EXPECTED', 'Expected LF after chunk size'); return -1 }
          this.lineLen = 0
          if (this.remaining === 0) {
            this.state = S_TRAILERS
            this.#startBlock()
            return i + 1
          }
          this.state = S_CHUNK_DATA
          return i + 1
        case S_CHUNK_DATA_CR:
          if (c !== CR) { this.#fail('HPE_CR_EXPECTED', 'Expected CRLF after chunk data'); return -1 }
          state = S_CHUNK_DATA_LF
          continue
        case S_CHUNK_DATA_LF:
          if (c !== LF) { this.#fail('HPE_LF_EXPECTED', 'Expected LF after chunk data'); return -1 }
          this.state = S_CHUNK_SIZE
          this.remaining = 0
          this.lineLen = 0
          this.sawDigit = false
          state = S_CHUNK_SIZE
          continue
        default:
          this.#fail('HPE_INTERNAL', `unexpected parser state ${state}`)
          return -1
      }
    }
    this.state = state
    return i
  }
}

/** 1*DIGIT up to 2^53-1 (OWS already trimmed); -1 when invalid. */
function parseLength (v: string): number {
  const n = v.length
  if (n === 0 || n > 16) return -1
  let x = 0
  for (let i = 0; i < n; i++) {
    const d = v.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    x = x * 10 + d
  }
  return x > Number.MAX_SAFE_INTEGER ? -1 : x
}

/** The last comma-separated token of `v` equals `token` (case-insensitive, OWS ignored). */
function lastTokenIs (v: string, token: string): boolean {
  const comma = v.lastIndexOf(',')
  const t = (comma < 0 ? v : v.slice(comma + 1)).trim()
  return t.length === token.length && t.toLowerCase() === token
}

let lastReasonBytes = 0
let lastReason = ''

/** The reason phrase; "OK" (the common one) is not sliced again every response. */
function reasonText (b: Buffer, start: number, end: number): string {
  if (end - start === 2) {
    const k = (b[start]! << 8) | b[start + 1]!
    if (k === lastReasonBytes) return lastReason
    lastReasonBytes = k
    lastReason = latin1(b, start, end)
    return lastReason
  }
  return latin1(b, start, end)
}
