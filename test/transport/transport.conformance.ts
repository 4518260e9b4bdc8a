/**
 * The transport conformance suite (hono's router-conformance idea applied to upstream transports):
 * the same cases run against every implementation of the seam (src/worker/transport/types.ts),
 * each against a raw TCP upstream that plays exact bytes (raw-upstream.ts). A transport stays
 * only if it passes all of them; a behaviour it cannot do is a failing case, never a skip.
 *
 *   runConformance('net', (target, options) => new NetTransport(target, options))
 *
 * Cases: framing (length, chunked with extensions and trailers, read-until-close, HEAD/204/304,
 * 1xx), strictness (reference/uws-edge.md response side: differing lengths, invalid chunks,
 * obs-fold, bare LF/CR, garbage), early close and resets, timeouts (headers, body, connect,
 * write), responses split at every byte boundary, 1 MB and 50 MB bodies with a slow reader
 * (bounded memory), request bodies (buffered, streamed with backpressure, chunked, errors),
 * request validation, keep-alive reuse and non-reuse, aborts, close/destroy. Every case also
 * checks the callback grammar (recorder.ts).
 *
 * Expectations follow the RFCs (9110, 9112) where the two transports could differ; where undici
 * itself does not meet one, the case fails for undici rather than being weakened. Known undici
 * 7.30 failures (the `net` transport passes all cases):
 *   - an unsolicited 100 Continue: undici fails the request (SocketError "bad response",
 *     UND_ERR_SOCKET, which the proxy retries), RFC 9110 15.2 says a client MUST parse it;
 *   - 204 and 304 with a Content-Length: undici's own length check fails a response that has no
 *     body by definition (RFC 9112 6.3; a 304 may carry the 200's length, RFC 9110 8.6);
 *   - a reset during a read-until-close body: undici reports the body complete (its
 *     onHttpSocketError turns ECONNRESET into message-complete), a truncated body passed as whole.
 * Timing: `run()` returns one macrotask after the terminal callback (undici's Pool takes a
 * connection back only then), as requests reach the proxy from separate events.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { after, describe, it as nodeIt, type TestContext } from 'node:test'
import { classifyTransportError, errorCode, type ErrorClass } from '../../src/worker/transport/errors.ts'
import type { Transport, TransportPoolOptions, TransportRequest, TransportTarget } from '../../src/worker/transport/types.ts'
import { blackhole, RawUpstream, refusedPort, sleep, type RawConn, type Script } from './raw-upstream.ts'
import { Recorder, type RecorderOptions } from './recorder.ts'

export type TransportFactory = (target: TransportTarget, options: TransportPoolOptions) => Transport

const POOL: TransportPoolOptions = { keepalivePoolSize: 16, keepaliveMaxRequests: 0, keepaliveIdleTimeoutMs: 10_000 }

function targetFor (port: number, connectTimeout = 2000): TransportTarget {
  return { protocol: 'http', host: '127.0.0.1', port, origin: `http://127.0.0.1:${port}`, connectTimeout, tlsVerify: false }
}

const GET: TransportRequest = { method: 'GET', path: '/', headers: ['host', 'upstream.test'] }

/** Serves every request on the connection with the same bytes (keep-alive loop). */
function serve (bytes: string | Buffer): Script {
  return async (c) => {
    while ((await c.readRequest()) !== null) await c.write(bytes)
  }
}

/** Reads one request, answers with `bytes`, then closes (FIN). */
function answerAndClose (bytes: string | Buffer, delayMs = 10): Script {
  return async (c) => {
    if ((await c.readRequest()) === null) return
    await c.write(bytes)
    await sleep(delayMs)
    await c.end()
  }
}

/** Reads one request, answers with `bytes`, then resets (RST). */
function answerAndReset (bytes: string | Buffer, delayMs = 10): Script {
  return async (c) => {
    if ((await c.readRequest()) === null) return
    await c.write(bytes)
    await sleep(delayMs)
    c.reset()
  }
}

/** Reads one request and never answers. */
const hang: Script = async (c) => { await c.readRequest() }

/** The last request arrived on another connection than the one before it. */
function assertNotReused (up: RawUpstream): void {
  const n = up.requests.length
  assert.ok(n >= 2, `${n} requests seen`)
  assert.notEqual(up.requests[n - 1]!.conn, up.requests[n - 2]!.conn, 'the connection was reused')
}

function assertGrammar (r: Recorder): void {
  assert.deepEqual(r.violations, [], `callback grammar: ${r.violations.join('; ')}`)
  assert.equal(r.terminal, 1, 'exactly one terminal callback')
}

function assertOk (r: Recorder, status: number, body?: string): void {
  assertGrammar(r)
  assert.equal(r.error, null, `unexpected error: ${r.error?.stack ?? ''}`)
  assert.equal(r.ended, true)
  assert.equal(r.status, status)
  if (body !== undefined) assert.equal(r.text, body)
}

/** The exchange failed: an error, never onResponseEnd (a truncated body is not a complete one). */
function assertFailed (r: Recorder, cls?: ErrorClass): void {
  assertGrammar(r)
  assert.equal(r.ended, false, `expected an error, got a complete response (events: ${r.events.join(', ')})`)
  assert.notEqual(r.error, null)
  if (cls !== undefined) {
    assert.equal(classifyTransportError(r.error), cls, `error ${errorCode(r.error)} (${r.error?.message ?? ''}) should classify as ${cls}`)
  }
}

/** Failed before any final head reached the handler (the proxy may still answer 502/504). */
function assertFailedBeforeHead (r: Recorder, cls?: ErrorClass): void {
  assertFailed(r, cls)
  assert.equal(r.status, 0, `a final head was delivered before the error (events: ${r.events.join(', ')})`)
}

let gcFn: (() => void) | null = null
function gc (): void {
  if (gcFn === null) {
    setFlagsFromString('--expose-gc')
    gcFn = runInNewContext('gc') as () => void
  }
  gcFn()
}

export interface ConformanceOptions {
  /**
   * Cases this transport is known to fail, with the reason (undici's own behaviour). They still
   * run with the same assertions and show as failing TODOs (the project's convention for known
   * failures, as in test/integration/edge-*.test.ts); one that starts passing shows as a passing
   * TODO. A name that matches no case is an error.
   */
  knownFailures?: Readonly<Record<string, string>>
}

export function runConformance (name: string, factory: TransportFactory, options: ConformanceOptions = {}): void {
  const known = new Map(Object.entries(options.knownFailures ?? {}))
  const it = (title: string, fn: (tc: TestContext) => Promise<void>): void => {
    const why = known.get(title)
    known.delete(title)
    if (why === undefined) nodeIt(title, fn)
    else nodeIt(title, { todo: `known ${name} failure: ${why}` }, fn)
  }
  describe(`transport conformance: ${name}`, () => {
    const open: Array<{ up: RawUpstream; t: Transport }> = []

    after(async () => {
      for (const { up, t } of open) {
        await t.destroy().catch(() => {})
        await up.close().catch(() => {})
      }
    })

    async function setup (script: Script, pool: Partial<TransportPoolOptions> = {}, connectTimeout?: number): Promise<{ up: RawUpstream; t: Transport }> {
      const up = await RawUpstream.start(script)
      const t = factory(targetFor(up.port, connectTimeout), { ...POOL, ...pool })
      const s = { up, t }
      open.push(s)
      return s
    }

    /**
     * One exchange. Returns one macrotask after the terminal callback: the next request arrives
     * from another event, as in the proxy (undici's Pool takes a connection back only then).
     */
    async function run (t: Transport, req: TransportRequest = GET, o: RecorderOptions = {}): Promise<Recorder> {
      const r = new Recorder(o)
      t.dispatch(req, r)
      await r.done
      await new Promise((resolve) => setImmediate(resolve))
      return r
    }

    /** One request against an upstream that plays `script`. */
    async function once (script: Script, req: TransportRequest = GET, o: RecorderOptions = {}): Promise<Recorder> {
      const { t } = await setup(script)
      return run(t, req, o)
    }

    // -------------------------------------------------------------------------------------------
    describe('framing', () => {
      it('Content-Length body', async () => {
        const r = await once(serve('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 11\r\n\r\nhello world'))
        assertOk(r, 200, 'hello world')
        assert.equal(r.headers!['content-type'], 'text/plain')
        assert.equal(r.message, 'OK')
      })

      it('Content-Length: 0', async () => {
        const r = await once(serve('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
        assertOk(r, 200, '')
        assert.equal(r.chunks, 0)
      })

      it('chunked body in several chunks', async () => {
        const r = await once(serve('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n'))
        assertOk(r, 200, 'hello 0123456789')
      })

      it('chunked with extensions and upper-case hex', async () => {
        const r = await once(serve('HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5;a=b;c="d e";f\r\nhello\r\nB;x=1\r\n0123456789a\r\n0;z=1\r\n\r\n'))
        assertOk(r, 200, 'hello0123456789a')
      })

      it('chunked with trailers', async () => {
        const r = await once(serve('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n2\r\nok\r\n0\r\nx-checksum: abc\r\nx-other: 1\r\n\r\n'))
        assertOk(r, 200, 'ok')
        assert.equal(r.trailers!['x-checksum'], 'abc')
        assert.equal(r.trailers!['x-other'], '1')
      })

      it('read until close (no framing fields), never reused', async () => {
        const { up, t } = await setup(answerAndClose('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end'))
        const r = await run(t)
        assertOk(r, 200, 'until the end')
        const r2 = await run(t)
        assertOk(r2, 200, 'until the end')
        assert.equal(up.connections, 2)
      })

      it('Transfer-Encoding without a final chunked reads until close', async () => {
        const r = await once(answerAndClose('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nraw bytes'))
        assertOk(r, 200, 'raw bytes')
      })

      it('103 Early Hints then 200: the interim head is surfaced, then the final one', async () => {
        const r = await once(serve('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'))
        assertOk(r, 200, 'ok')
        assert.deepEqual(r.interim.map((x) => x.status), [103])
        assert.equal(r.interim[0]!.headers.link, '</style.css>; rel=preload')
        assert.deepEqual(r.events, ['start', 'head 103', 'head 200', 'data', 'end'])
      })

      it('two 1xx then 200', async () => {
        const r = await once(serve('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'))
        assertOk(r, 200, 'ok')
        assert.deepEqual(r.interim.map((x) => x.status), [102, 103])
      })

      it('an unsolicited 100 Continue is parsed and passed over (RFC 9110 15.2: a client MUST parse unexpected 1xx)', async () => {
        const r = await once(serve('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'))
        assertOk(r, 200, 'ok')
      })

      it('101 without an upgrade request is an error', async () => {
        const r = await once(serve('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n'))
        assertFailedBeforeHead(r)
      })

      it('HEAD: no body despite Content-Length; reused with reset: false (as the proxy sends it)', async () => {
        const { up, t } = await setup(serve('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n'))
        const r = await run(t, { ...GET, method: 'HEAD', reset: false })
        assertOk(r, 200, '')
        assert.equal(r.headers!['content-length'], '5')
        const r2 = await run(t, { ...GET, method: 'HEAD', reset: false })
        assertOk(r2, 200, '')
        assert.equal(up.connections, 1)
      })

      it('HEAD without reset: closed after the response (undici\'s guard against servers sending a body anyway)', async () => {
        const { up, t } = await setup(serve('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n'))
        assertOk(await run(t, { ...GET, method: 'HEAD' }), 200, '')
        assertOk(await run(t, { ...GET, method: 'HEAD' }), 200, '')
        assert.equal(up.connections, 2)
        assert.equal(up.requests[0]!.headers.find(([n]) => n === 'connection')?.[1], 'close')
      })

      it('204: no body', async () => {
        const r = await once(serve('HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n'))
        assertOk(r, 204, '')
      })

      it('304 with Content-Length: no body (RFC 9110 8.6 allows the field), connection reusable', async () => {
        const { up, t } = await setup(serve('HTTP/1.1 304 Not Modified\r\netag: "x"\r\ncontent-length: 5\r\n\r\n'))
        const r = await run(t)
        assertOk(r, 304, '')
        const r2 = await run(t)
        assertOk(r2, 304, '')
        assert.equal(up.connections, 1)
      })

      it('204 with Content-Length: still no body (RFC 9112 6.3)', async () => {
        const r = await once(serve('HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n'))
        assertOk(r, 204, '')
      })

      it('HTTP/1.0 response with Content-Length, then a new connection', async () => {
        const { up, t } = await setup(answerAndClose('HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nabc', 50))
        assertOk(await run(t), 200, 'abc')
        assertOk(await run(t), 200, 'abc')
        assert.equal(up.connections, 2)
      })

      it('reason phrase: missing, empty, long', async () => {
        for (const line of ['HTTP/1.1 200', 'HTTP/1.1 200 ', 'HTTP/1.1 299 Some Long Reason Phrase']) {
          const r = await once(serve(`${line}\r\ncontent-length: 2\r\n\r\nok`))
          assertOk(r, Number(line.slice(9, 12)), 'ok')
        }
      })

      it('repeated fields become arrays; names are lower-cased; obs-text passes', async () => {
        const r = await once(serve('HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Name: caf\xe9\r\nX-Empty:\r\ncontent-length: 0\r\n\r\n'))
        assertOk(r, 200, '')
        assert.deepEqual(r.headers!['set-cookie'], ['a=1', 'b=2'])
        assert.equal(r.headers!['x-name'], 'caf\xe9')
        assert.equal(r.headers!['x-empty'], '')
      })

      it('extra bytes after a complete response: the response stands, the connection is not reused', async () => {
        const { up, t } = await setup(serve('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokGARBAGE'))
        assertOk(await run(t), 200, 'ok')
        await sleep(20)
        assertOk(await run(t), 200, 'ok')
        assertNotReused(up)
      })
    })

    // -------------------------------------------------------------------------------------------
    describe('strict response parsing (reference/uws-edge.md response side)', () => {
      const invalid: Array<[string, string]> = [
        ['two differing Content-Lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok!'],
        ['two equal Content-Lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok'],
        ['a Content-Length list', 'HTTP/1.1 200 OK\r\ncontent-length: 2, 3\r\n\r\nok!'],
        ['Content-Length with a sign', 'HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nok'],
        ['Content-Length empty', 'HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\nok'],
        ['Content-Length overflowing', 'HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\nok'],
        ['Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
        ['obs-fold', 'HTTP/1.1 200 OK\r\nx-a: 1\r\n  folded\r\ncontent-length: 2\r\n\r\nok'],
        ['obs-fold right after the status line', 'HTTP/1.1 200 OK\r\n x-a: 1\r\ncontent-length: 2\r\n\r\nok'],
        ['bare LF ending the status line', 'HTTP/1.1 200 OK\ncontent-length: 2\r\n\r\nok'],
        ['bare LF ending a field', 'HTTP/1.1 200 OK\r\nx-a: 1\ncontent-length: 2\r\n\r\nok'],
        ['bare LF ending the head', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\nok'],
        ['bare CR inside a field', 'HTTP/1.1 200 OK\r\nx-a: 1\r2\r\ncontent-length: 2\r\n\r\nok'],
        ['whitespace before the colon', 'HTTP/1.1 200 OK\r\nx-a : 1\r\ncontent-length: 2\r\n\r\nok'],
        ['NUL in a value', 'HTTP/1.1 200 OK\r\nx-a: a\0b\r\ncontent-length: 2\r\n\r\nok'],
        ['DEL in a value', 'HTTP/1.1 200 OK\r\nx-a: a\x7fb\r\ncontent-length: 2\r\n\r\nok'],
        ['empty field name', 'HTTP/1.1 200 OK\r\n: v\r\ncontent-length: 2\r\n\r\nok'],
        ['invalid field name', 'HTTP/1.1 200 OK\r\nx(a): v\r\ncontent-length: 2\r\n\r\nok'],
        ['garbage status line', 'HELLO WORLD\r\n\r\n'],
        ['lower-case protocol', 'http/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'],
        ['HTTP/1.2', 'HTTP/1.2 200 OK\r\ncontent-length: 2\r\n\r\nok'],
        ['two-digit status', 'HTTP/1.1 20 OK\r\ncontent-length: 2\r\n\r\nok'],
        ['four-digit status', 'HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\nok'],
        ['status 099', 'HTTP/1.1 099 OK\r\ncontent-length: 2\r\n\r\nok'],
        ['double space after the version', 'HTTP/1.1  200 OK\r\ncontent-length: 2\r\n\r\nok'],
      ]
      for (const [what, bytes] of invalid) {
        it(`${what}: error, no response`, async () => {
          const r = await once(serve(bytes))
          assertFailedBeforeHead(r, 'protocol')
        })
      }

      it('head larger than 16 KiB: error', async () => {
        const r = await once(serve(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(20_000)}\r\ncontent-length: 0\r\n\r\n`))
        assertFailedBeforeHead(r, 'protocol')
      })

      const badChunks: Array<[string, string]> = [
        ['non-hex chunk size', 'zz\r\nok\r\n0\r\n\r\n'],
        ['negative chunk size', '-2\r\nok\r\n0\r\n\r\n'],
        ['0x prefix', '0x2\r\nok\r\n0\r\n\r\n'],
        ['space after the chunk size', '2 \r\nok\r\n0\r\n\r\n'],
        ['empty chunk size', '\r\nok\r\n0\r\n\r\n'],
        ['chunk size overflow', 'ffffffffffffffffff\r\nok\r\n0\r\n\r\n'],
        ['invalid chunk extension', '2;a=b c\r\nok\r\n0\r\n\r\n'],
        ['bare LF after the chunk size', '2\nok\r\n0\r\n\r\n'],
        ['chunk data longer than its size', '2\r\nokX\r\n0\r\n\r\n'],
        ['bare LF after chunk data', '2\r\nok\n0\r\n\r\n'],
        ['obs-fold in a trailer', '2\r\nok\r\n0\r\nx-t: 1\r\n 2\r\n\r\n'],
        ['bare LF in a trailer', '2\r\nok\r\n0\r\nx-t: 1\n\r\n'],
      ]
      for (const [what, body] of badChunks) {
        it(`chunked: ${what}: error, not a complete body`, async () => {
          const r = await once(serve(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${body}`))
          assertFailed(r, 'protocol')
        })
      }
    })

    // -------------------------------------------------------------------------------------------
    describe('early close and resets', () => {
      it('EOF before any response byte: UND_ERR_SOCKET-like, retryable for idempotent methods', async () => {
        const r = await once(answerAndClose('', 0))
        assertFailedBeforeHead(r, 'send')
      })

      it('RST before any response byte: ECONNRESET', async () => {
        const r = await once(answerAndReset('', 0))
        assertFailedBeforeHead(r, 'send')
      })

      it('EOF in the middle of the head', async () => {
        const r = await once(answerAndClose('HTTP/1.1 200 OK\r\ncontent-le'))
        assertFailedBeforeHead(r)
      })

      it('EOF in the middle of a Content-Length body: error, not a complete body', async () => {
        const r = await once(answerAndClose('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this much'))
        assertFailed(r)
        assert.equal(r.text, 'only this much')
      })

      it('EOF in the middle of a Content-Length body with Connection: close', async () => {
        const r = await once(answerAndClose('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 100\r\n\r\nonly this much'))
        assertFailed(r)
      })

      it('EOF in the middle of a chunk', async () => {
        const r = await once(answerAndClose('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\nhalf'))
        assertFailed(r)
      })

      it('EOF between chunks with Connection: close (no last chunk)', async () => {
        const r = await once(answerAndClose('HTTP/1.1 200 OK\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n'))
        assertFailed(r)
      })

      it('EOF in the trailer section', async () => {
        const r = await once(answerAndClose('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-t: 1\r\n'))
        assertFailed(r)
      })

      it('RST in the middle of a Content-Length body', async () => {
        const r = await once(answerAndReset('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this much'))
        assertFailed(r)
      })

      it('RST during a read-until-close body: error (a reset is not the end of the body)', async () => {
        const r = await once(answerAndReset('HTTP/1.1 200 OK\r\n\r\nsome of the body'))
        assertFailed(r)
      })

      it('connect refused: ECONNREFUSED (class connect)', async () => {
        const port = await refusedPort()
        const t = factory(targetFor(port), POOL)
        try {
          const r = await run(t)
          assertFailedBeforeHead(r, 'connect')
        } finally {
          await t.destroy()
        }
      })
    })

    // -------------------------------------------------------------------------------------------
    describe('timeouts', () => {
      it('headers timeout: the upstream never answers', async () => {
        const { t } = await setup(hang)
        const t0 = performance.now()
        const r = await run(t, { ...GET, headersTimeout: 300, bodyTimeout: 300 })
        const ms = performance.now() - t0
        assertFailedBeforeHead(r, 'timeout')
        assert.equal(errorCode(r.error), 'UND_ERR_HEADERS_TIMEOUT')
        assert.ok(ms >= 250 && ms < 1500, `fired after ${ms.toFixed(0)} ms`)
      })

      it('body timeout: the body stalls', async () => {
        const { t } = await setup(async (c) => {
          await c.readRequest()
          await c.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nsome')
        })
        const t0 = performance.now()
        const r = await run(t, { ...GET, headersTimeout: 300, bodyTimeout: 300 })
        const ms = performance.now() - t0
        assertFailed(r, 'timeout')
        assert.equal(errorCode(r.error), 'UND_ERR_BODY_TIMEOUT')
        assert.ok(ms >= 250 && ms < 1500, `fired after ${ms.toFixed(0)} ms`)
      })

      it('no body timeout while the handler has paused', async () => {
        const { t } = await setup(async (c) => {
          await c.readRequest()
          await c.write('HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nfour')
          await sleep(50)
          await c.write('more')
        })
        const r = await run(t, { ...GET, bodyTimeout: 200 }, { slowMs: 700 })
        assertOk(r, 200, 'fourmore')
      })

      it('connect timeout: the SYN is never answered', async () => {
        const bh = await blackhole()
        const t = factory(targetFor(bh.port, 300), POOL)
        try {
          const t0 = performance.now()
          const r = await run(t)
          const ms = performance.now() - t0
          assertFailedBeforeHead(r, 'timeout')
          assert.equal(errorCode(r.error), 'UND_ERR_CONNECT_TIMEOUT')
          assert.ok(ms >= 250 && ms < 2000, `fired after ${ms.toFixed(0)} ms`)
        } finally {
          await t.destroy()
          await bh.close()
        }
      })

      it('write stall: the upstream never reads a large request body', async () => {
        const { t } = await setup(async (c) => { c.pauseReading(); await c.closed })
        const chunk = Buffer.alloc(64 * 1024, 120)
        let produced = 0
        const body = new Readable({
          read () {
            if (produced >= 256 * 1024 * 1024) { this.push(null); return }
            produced += chunk.length
            this.push(chunk)
          },
        })
        const t0 = performance.now()
        const r = await run(t, { method: 'POST', path: '/upload', headers: ['host', 'x'], body, headersTimeout: 400, writeTimeout: 400 })
        const ms = performance.now() - t0
        assertFailedBeforeHead(r, 'timeout')
        assert.ok(ms < 5000, `fired after ${ms.toFixed(0)} ms`)
        body.destroy()
      })
    })

    // -------------------------------------------------------------------------------------------
    describe('responses split at every byte boundary', () => {
      const responses: Array<[string, string, string]> = [
        ['length-framed', 'HTTP/1.1 200 OK\r\nx-a: one\r\ncontent-length: 11\r\n\r\nhello world', 'hello world'],
        ['chunked with extension and trailers', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n6\r\n world\r\n0\r\nx-t: 1\r\n\r\n', 'hello world'],
        ['1xx then final', 'HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok', 'ok'],
      ]
      for (const [what, bytes, body] of responses) {
        it(`${what}: split once at each offset`, async () => {
          let split = 1
          const { up, t } = await setup(async (c) => {
            while ((await c.readRequest()) !== null) await c.writeSplit(bytes, [split], 1)
          })
          for (split = 1; split < bytes.length; split++) {
            const r = await run(t)
            assertOk(r, 200, body)
            if (what.includes('trailers')) assert.equal(r.trailers!['x-t'], '1')
          }
          assert.equal(up.connections, 1, 'every split left the connection reusable')
        })

        it(`${what}: one byte per write`, async () => {
          const offsets = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)
          const r = await once(async (c) => {
            await c.readRequest()
            await c.writeSplit(bytes, offsets, 0)
          })
          assertOk(r, 200, body)
        })
      }

      it('a bare LF split from its line is still rejected', async () => {
        const bytes = 'HTTP/1.1 200 OK\r\nx-a: 1\ncontent-length: 2\r\n\r\nok'
        const at = bytes.indexOf('\n', 20)
        for (const split of [at, at + 1]) {
          const r = await once(async (c) => { await c.readRequest(); await c.writeSplit(bytes, [split], 2) })
          assertFailedBeforeHead(r, 'protocol')
        }
      })
    })

    // -------------------------------------------------------------------------------------------
    describe('large bodies and slow readers', () => {
      it('1 MB body, slow reader: every byte, in order', async () => {
        const payload = randomBytes(1 << 20)
        const r = await once(async (c) => {
          await c.readRequest()
          await c.write(`HTTP/1.1 200 OK\r\ncontent-length: ${payload.length}\r\n\r\n`)
          await c.write(payload)
        }, GET, { slowMs: 1, keepLimit: 0 })
        assertOk(r, 200)
        assert.equal(r.received, payload.length)
        assert.equal(r.sha256, createHash('sha256').update(payload).digest('hex'))
      })

      it('1 MB chunked body, slow reader', async () => {
        const payload = randomBytes(1 << 20)
        const r = await once(async (c) => {
          await c.readRequest()
          await c.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n')
          for (let i = 0; i < payload.length; i += 10_000) {
            const part = payload.subarray(i, i + 10_000)
            await c.write(`${part.length.toString(16)}\r\n`)
            await c.write(part)
            await c.write('\r\n')
          }
          await c.write('0\r\n\r\n')
        }, GET, { slowMs: 0, keepLimit: 0 })
        assertOk(r, 200)
        assert.equal(r.sha256, createHash('sha256').update(payload).digest('hex'))
      })

      it('50 MB body, slow reader: bounded memory (backpressure reaches the upstream)', async (tc) => {
        const block = randomBytes(1 << 20)
        const total = 50
        const expected = createHash('sha256')
        for (let i = 0; i < total; i++) expected.update(block)
        let serverWritten = 0
        const { t } = await setup(async (c) => {
          await c.readRequest()
          await c.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total * block.length}\r\n\r\n`)
          for (let i = 0; i < total; i++) {
            for (let j = 0; j < block.length; j += 64 * 1024) {
              await c.write(block.subarray(j, j + 64 * 1024))
              serverWritten += 64 * 1024
            }
          }
        })
        gc()
        const base = process.memoryUsage().arrayBuffers
        let peak = 0
        let nextSample = 4 << 20
        const r = await run(t, GET, {
          slowMs: 2,
          slowUntil: 12 << 20,
          keepLimit: 0,
          guardMs: 60_000,
          onData (_c, _chunk, received) {
            if (received >= nextSample && received < (12 << 20)) {
              nextSample += 4 << 20
              gc()
              peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)
            }
          },
        })
        assertOk(r, 200)
        assert.equal(r.received, total * block.length)
        assert.equal(r.sha256, expected.digest('hex'))
        tc.diagnostic(`peak growth of array buffers while slow: ${(peak / 1048576).toFixed(1)} MiB`)
        assert.ok(peak < 16 << 20, `memory grew by ${(peak / 1048576).toFixed(1)} MiB while the reader was slow`)
        assert.ok(serverWritten === total * block.length)
      })
    })

    // -------------------------------------------------------------------------------------------
    describe('request bodies', () => {
      function echoSha (): Script {
        return async (c) => {
          for (;;) {
            const req = await c.readRequest(0)
            if (req === null) return
            const te = req.headers.find(([n]) => n === 'transfer-encoding')?.[1] ?? ''
            const cl = req.headers.find(([n]) => n === 'content-length')?.[1] ?? ''
            const info = JSON.stringify({ n: req.bodyLength, sha: req.sha256, te, cl })
            await c.write(`HTTP/1.1 200 OK\r\ncontent-length: ${info.length}\r\n\r\n${info}`)
          }
        }
      }
      const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

      it('buffered body: Content-Length framing', async () => {
        const payload = randomBytes(100_000)
        const r = await once(echoSha(), { method: 'POST', path: '/', headers: ['host', 'x'], body: payload })
        assertOk(r, 200)
        assert.deepEqual(JSON.parse(r.text), { n: payload.length, sha: sha(payload), te: '', cl: String(payload.length) })
      })

      it('small buffered body (one write with the head)', async () => {
        const r = await once(echoSha(), { method: 'PUT', path: '/', headers: ['host', 'x'], body: Buffer.from('{"a":1}') })
        assertOk(r, 200)
        assert.equal(JSON.parse(r.text).n, 7)
      })

      it('POST without a body sends Content-Length: 0; GET sends no framing', async () => {
        const heads: string[] = []
        const { t } = await setup(async (c) => {
          for (;;) {
            const req = await c.readRequest()
            if (req === null) return
            heads.push(req.rawHead)
            await c.write('HTTP/1.1 204 No Content\r\n\r\n')
          }
        })
        assertOk(await run(t, { method: 'POST', path: '/p', headers: ['host', 'x'] }), 204)
        assertOk(await run(t, { method: 'GET', path: '/g', headers: ['host', 'x'] }), 204)
        assert.match(heads[0]!, /\r\ncontent-length: 0\r\n/i)
        assert.doesNotMatch(heads[1]!, /content-length|transfer-encoding/i)
      })

      it('streamed body without a length: chunked', async () => {
        const parts = [randomBytes(70_000), randomBytes(10), randomBytes(300_000)]
        const r = await once(echoSha(), { method: 'POST', path: '/', headers: ['host', 'x'], body: Readable.from(parts) })
        assertOk(r, 200)
        const info = JSON.parse(r.text)
        assert.equal(info.te, 'chunked')
        assert.equal(info.sha, sha(Buffer.concat(parts)))
      })

      it('streamed body with a declared Content-Length', async () => {
        const payload = randomBytes(200_000)
        const r = await once(echoSha(), { method: 'POST', path: '/', headers: ['host', 'x', 'content-length', String(payload.length)], body: Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]) })
        assertOk(r, 200)
        assert.deepEqual(JSON.parse(r.text), { n: payload.length, sha: sha(payload), te: '', cl: String(payload.length) })
      })

      it('async iterable body', async () => {
        async function * gen (): AsyncGenerator<Buffer> {
          for (let i = 0; i < 10; i++) { await sleep(1); yield Buffer.from(`part${i};`) }
        }
        const r = await once(echoSha(), { method: 'POST', path: '/', headers: ['host', 'x'], body: gen() })
        assertOk(r, 200)
        assert.equal(JSON.parse(r.text).n, 60)
      })

      it('streamed body with backpressure: the source is not drained ahead of the upstream', async (tc) => {
        const total = 256 * 1024 * 1024
        const chunk = Buffer.alloc(64 * 1024, 97)
        let produced = 0
        let producedDuringPause = -1
        const body = new Readable({
          read () {
            if (produced >= total) { this.push(null); return }
            produced += chunk.length
            this.push(chunk)
          },
        })
        const { t } = await setup(async (c) => {
          c.pauseReading()
          await sleep(500)
          producedDuringPause = produced
          c.resumeReading()
          const req = await c.readRequest(0)
          await c.write(`HTTP/1.1 200 OK\r\ncontent-length: ${String(req?.bodyLength ?? 0).length}\r\n\r\n${req?.bodyLength ?? 0}`)
        })
        const r = await run(t, { method: 'POST', path: '/', headers: ['host', 'x', 'content-length', String(total)], body }, { guardMs: 60_000 })
        assertOk(r, 200, String(total))
        tc.diagnostic(`produced while the upstream did not read: ${(producedDuringPause / 1048576).toFixed(1)} MiB`)
        assert.ok(producedDuringPause >= 0 && producedDuringPause < 32 * 1024 * 1024,
          `the source produced ${(producedDuringPause / 1048576).toFixed(0)} MiB while the upstream was not reading`)
      })

      it('a request body stream that errors fails the exchange; the connection is not reused', async () => {
        const { up, t } = await setup(echoSha())
        const body = new Readable({ read () {} })
        body.push(Buffer.from('partial'))
        setTimeout(() => body.destroy(new Error('client went away')), 30)
        const r = await run(t, { method: 'POST', path: '/', headers: ['host', 'x'], body })
        assertFailedBeforeHead(r)
        assertOk(await run(t), 200)
        assert.equal(up.requests.length, 1, 'only the second request arrived complete')
        assert.notEqual(up.requests[0]!.conn, 0, 'the second request did not use the failed connection')
      })

      it('buffered body differing from its Content-Length: UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', async () => {
        const r = await once(echoSha(), { method: 'POST', path: '/', headers: ['host', 'x', 'content-length', '10'], body: Buffer.from('abc') })
        assertFailedBeforeHead(r, 'client')
        assert.equal(errorCode(r.error), 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH')
      })

      it('streamed body shorter than its Content-Length: error', async () => {
        const r = await once(echoSha(), { method: 'POST', path: '/', headers: ['host', 'x', 'content-length', '10'], body: Readable.from([Buffer.from('abc')]) })
        assertFailedBeforeHead(r)
      })
    })

    // -------------------------------------------------------------------------------------------
    describe('request validation (undici rules)', () => {
      const bad: Array<[string, TransportRequest, string]> = [
        ['CRLF in a value', { method: 'GET', path: '/', headers: ['x-a', 'v\r\nx-injected: 1'] }, 'UND_ERR_INVALID_ARG'],
        ['LF in a value', { method: 'GET', path: '/', headers: ['x-a', 'v\nx'] }, 'UND_ERR_INVALID_ARG'],
        ['NUL in a value', { method: 'GET', path: '/', headers: ['x-a', 'v\0'] }, 'UND_ERR_INVALID_ARG'],
        ['a char above 0xFF in a value', { method: 'GET', path: '/', headers: ['x-a', 'v\u010a'] }, 'UND_ERR_INVALID_ARG'],
        ['a space in a name', { method: 'GET', path: '/', headers: ['x a', 'v'] }, 'UND_ERR_INVALID_ARG'],
        ['a colon in a name', { method: 'GET', path: '/', headers: ['x:a', 'v'] }, 'UND_ERR_INVALID_ARG'],
        ['transfer-encoding', { method: 'GET', path: '/', headers: ['transfer-encoding', 'chunked'] }, 'UND_ERR_INVALID_ARG'],
        ['upgrade', { method: 'GET', path: '/', headers: ['upgrade', 'websocket'] }, 'UND_ERR_INVALID_ARG'],
        ['keep-alive', { method: 'GET', path: '/', headers: ['keep-alive', 'timeout=5'] }, 'UND_ERR_INVALID_ARG'],
        ['expect', { method: 'POST', path: '/', headers: ['expect', '100-continue'] }, 'UND_ERR_NOT_SUPPORTED'],
        ['two hosts', { method: 'GET', path: '/', headers: ['host', 'a', 'host', 'b'] }, 'UND_ERR_INVALID_ARG'],
        ['a space in the path', { method: 'GET', path: '/a b', headers: [] }, 'UND_ERR_INVALID_ARG'],
        ['a relative path', { method: 'GET', path: 'a', headers: [] }, 'UND_ERR_INVALID_ARG'],
        ['an invalid method', { method: 'G T', path: '/', headers: [] }, 'UND_ERR_INVALID_ARG'],
        ['an odd header array', { method: 'GET', path: '/', headers: ['x-a'] }, 'UND_ERR_INVALID_ARG'],
      ]
      for (const [what, req, code] of bad) {
        it(`${what}: ${code}, nothing sent`, async () => {
          const { up, t } = await setup(serve('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
          const r = await run(t, req)
          assertFailedBeforeHead(r, 'client')
          assert.equal(errorCode(r.error), code)
          await sleep(20)
          assert.equal(up.requests.length, 0)
        })
      }

      it('the request as sent: method, path, query, fields in order, host, keep-alive', async () => {
        const r0 = await (async () => {
          const { up, t } = await setup(serve('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
          assertOk(await run(t, { method: 'DELETE', path: '/a/b%20c?x=1&y', headers: ['host', 'svc.internal', 'x-one', '1', 'X-Two', 'two', 'x-one', '3', 'x-empty', ''] }), 200)
          return up.requests[0]!
        })()
        assert.equal(r0.method, 'DELETE')
        assert.equal(r0.path, '/a/b%20c?x=1&y')
        assert.equal(r0.version, 'HTTP/1.1')
        const names = r0.headers.map(([n]) => n)
        assert.deepEqual(r0.headers.filter(([n]) => n.startsWith('x-')), [['x-one', '1'], ['x-two', 'two'], ['x-one', '3'], ['x-empty', '']])
        assert.equal(r0.headers.find(([n]) => n === 'host')?.[1], 'svc.internal')
        assert.equal(names.filter((n) => n === 'host').length, 1)
        assert.equal(r0.headers.find(([n]) => n === 'connection')?.[1], 'keep-alive')
      })

      it('no host given: the target host and port', async () => {
        const { up, t } = await setup(serve('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
        assertOk(await run(t, { method: 'GET', path: '/', headers: null }), 200)
        assert.equal(up.requests[0]!.headers.find(([n]) => n === 'host')?.[1], `127.0.0.1:${up.port}`)
      })
    })

    // -------------------------------------------------------------------------------------------
    describe('keep-alive', () => {
      const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'

      it('sequential requests reuse one connection', async () => {
        const { up, t } = await setup(serve(OK))
        for (let i = 0; i < 5; i++) assertOk(await run(t), 200, 'ok')
        assert.deepEqual(up.requests.map((r) => r.conn), [0, 0, 0, 0, 0])
      })

      it('parallel requests open several connections, then reuse them', async () => {
        const { up, t } = await setup(async (c) => {
          while ((await c.readRequest()) !== null) { await sleep(20); await c.write(OK) }
        })
        const rs = await Promise.all(Array.from({ length: 8 }, async () => run(t)))
        for (const r of rs) assertOk(r, 200, 'ok')
        const opened = up.connections
        assert.ok(opened >= 2 && opened <= 8, `${opened} connections`)
        const again = await Promise.all(Array.from({ length: 4 }, async () => run(t)))
        for (const r of again) assertOk(r, 200, 'ok')
        assert.equal(up.connections, opened)
      })

      it('maxConnections 1: requests wait in order and share the connection; trailers survive the hand-over', async () => {
        const { up, t } = await setup(async (c) => {
          for (;;) {
            const req = await c.readRequest()
            if (req === null) return
            await sleep(10)
            await c.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${req.path.length.toString(16)}\r\n${req.path}\r\n0\r\nx-path: ${req.path}\r\n\r\n`)
          }
        }, { maxConnections: 1 })
        const rs = await Promise.all(['/a', '/bb', '/ccc', '/dddd'].map(async (path) => run(t, { ...GET, path })))
        rs.forEach((r, i) => {
          const path = ['/a', '/bb', '/ccc', '/dddd'][i]!
          assertOk(r, 200, path)
          assert.equal(r.trailers!['x-path'], path)
        })
        assert.equal(up.connections, 1)
        assert.deepEqual(up.requests.map((r) => r.path), ['/a', '/bb', '/ccc', '/dddd'])
      })

      it('no reuse after an incomplete response (aborted mid-body)', async () => {
        const { up, t } = await setup(async (c) => {
          for (;;) {
            const req = await c.readRequest()
            if (req === null) return
            if (req.path === '/big') await c.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst part')
            else await c.write(OK)
          }
        })
        const r = await run(t, { ...GET, path: '/big' }, { onData (c) { c.abort(new Error('client gone')) } })
        assertFailed(r)
        assert.equal(r.error?.message, 'client gone')
        assertOk(await run(t), 200, 'ok')
        assertNotReused(up)
      })

      it('no reuse after Connection: close', async () => {
        const { up, t } = await setup(serve('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok'))
        assertOk(await run(t), 200, 'ok')
        assertOk(await run(t), 200, 'ok')
        assertNotReused(up)
      })

      it('reset: true sends Connection: close and does not reuse', async () => {
        const { up, t } = await setup(serve(OK))
        assertOk(await run(t, { ...GET, reset: true }), 200, 'ok')
        assertOk(await run(t), 200, 'ok')
        assertNotReused(up)
        assert.equal(up.requests[0]!.headers.find(([n]) => n === 'connection')?.[1], 'close')
      })

      it('an idle connection the upstream closed is not used again', async () => {
        const { up, t } = await setup(answerAndClose(OK, 5))
        assertOk(await run(t), 200, 'ok')
        await sleep(100)
        assertOk(await run(t), 200, 'ok')
        assert.equal(up.connections, 2)
      })

      it('idle timeout closes idle connections', async () => {
        const { up, t } = await setup(serve(OK), { keepaliveIdleTimeoutMs: 200 })
        assertOk(await run(t), 200, 'ok')
        await Promise.race([up.conns[0]!.closed, sleep(2000)])
        assert.equal(up.conns[0]!.socket.destroyed, true, 'idle connection still open after 2 s')
      })

      it('keepalive_max_requests (nginx keepalive_requests): N requests per connection, the Nth says close', async () => {
        const { up, t } = await setup(serve(OK), { keepaliveMaxRequests: 2 })
        for (let i = 0; i < 3; i++) assertOk(await run(t), 200, 'ok')
        assert.equal(up.connections, 2)
        assert.equal(up.requests[1]!.headers.find(([n]) => n === 'connection')?.[1], 'close')
      })

      it('keepalive pool size 0: every request on its own connection', async () => {
        const { up, t } = await setup(serve(OK), { keepalivePoolSize: 0 })
        for (let i = 0; i < 3; i++) assertOk(await run(t, { ...GET, reset: true }), 200, 'ok')
        assert.equal(up.connections, 3)
      })
    })

    // -------------------------------------------------------------------------------------------
    describe('aborts and shutdown', () => {
      it('abort while waiting for the head: onResponseError with the reason, the upstream sees the close', async () => {
        const { up, t } = await setup(hang)
        const reason = new Error('gateway gave up')
        const r = new Recorder()
        t.dispatch(GET, r)
        while (up.requests.length === 0) await sleep(5)
        r.controller!.abort(reason)
        await r.done
        assertFailedBeforeHead(r)
        assert.equal(r.error, reason)
        assert.equal(r.controller!.aborted, true)
        await Promise.race([up.conns[0]!.closed, sleep(2000)])
        assert.equal(up.conns[0]!.socket.destroyed, true)
      })

      it('abort from onRequestStart: nothing is sent', async () => {
        const { up, t } = await setup(serve('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
        const r = await run(t, GET, { onStart (c) { c.abort(new Error('stale')) } })
        assertFailedBeforeHead(r)
        await sleep(50)
        assert.equal(up.requests.length, 0)
      })

      it('abort after the end: no further callbacks', async () => {
        const { t } = await setup(serve('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'))
        const r = await run(t)
        assertOk(r, 200, 'ok')
        r.controller!.abort(new Error('late'))
        await sleep(20)
        assertGrammar(r)
      })

      it('pause in onResponseStart, resume later: the body follows', async () => {
        const { t } = await setup(serve('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'))
        const r = await run(t, GET, { onHead (c) { c.pause(); setTimeout(() => c.resume(), 50) } })
        assertOk(r, 200, 'ok')
      })

      it('destroy with a request in flight: UND_ERR_DESTROYED', async () => {
        const { t } = await setup(hang)
        const r = new Recorder()
        t.dispatch(GET, r)
        await sleep(50)
        await t.destroy()
        await r.done
        assertFailedBeforeHead(r)
        assert.equal(errorCode(r.error), 'UND_ERR_DESTROYED')
      })

      it('dispatch after close: UND_ERR_CLOSED (or UND_ERR_DESTROYED once closing finished)', async () => {
        const { t } = await setup(serve('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
        assertOk(await run(t), 200)
        await t.close()
        const r = await run(t)
        assertFailedBeforeHead(r)
        assert.ok(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED'].includes(errorCode(r.error)), errorCode(r.error))
      })

      it('close waits for the request in flight', async () => {
        const { t } = await setup(async (c) => {
          await c.readRequest()
          await sleep(100)
          await c.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
        })
        const r = new Recorder()
        t.dispatch(GET, r)
        await sleep(20)
        await t.close()
        await r.done
        assertOk(r, 200, 'ok')
      })
    })
    if (known.size > 0) throw new Error(`knownFailures names no case: ${[...known.keys()].join('; ')}`)
  })
}

export type { RawConn }
