/**
 * Requests the uWebSockets.js 20.30 front end cannot frame reliably (reference/uws-edge.md), sent
 * raw: none of them may reach the upstream. Ambiguous ones are answered on the next event-loop
 * turn with Connection: close (nginx's 400 / 501); when the client has already pipelined a
 * request behind them, uWS aborts the pending answer and closes instead, so the hidden request is
 * never parsed as one. Also client_max_body_size (413) and what this uWS build itself swallows.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { request } from 'undici'
import { startEcho, type Upstream } from '../helpers/upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'

let echo: Upstream
let h: Harness

before(async () => {
  echo = await startEcho()
  const svc = service({ host: '127.0.0.1', port: echo.port })
  h = await startWorkers({
    snapshot: snapshot([svc], [route({ paths: ['/'], strip_path: false }, svc)]),
    conf: { client_max_body_size: '1k' },
  })
})

after(async () => {
  await h?.stop()
  await echo?.close()
})

/** Writes raw bytes, collects everything until the server closes the connection. */
function raw (data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(h.port, '127.0.0.1', () => s.write(data))
    let text = ''
    s.setEncoding('latin1')
    s.on('data', (d: string) => { text += d })
    s.on('close', () => resolve(text))
    s.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'ECONNRESET') resolve(text); else reject(err) })
  })
}

function status (text: string): number {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(text)
  return m === null ? 0 : Number(m[1])
}

async function upstreamSeesNothing (fn: () => Promise<void>): Promise<void> {
  const before = echo.received.length
  await fn()
  // Prove the workers are still serving, and that nothing reached the upstream meanwhile.
  const res = await request(`${h.url}/probe`)
  await res.body.text()
  assert.equal(res.statusCode, 200)
  assert.deepEqual(echo.received.slice(before).map((r) => r.url), ['/probe'])
}

test('two different Content-Length values: 400 and close', async () => {
  await upstreamSeesNothing(async () => {
    const text = await raw('POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab')
    assert.equal(status(text), 400)
    assert.match(text, /\r\nConnection: close\r\n/i)
    assert.ok(text.includes('Bad request\nrequest_id: '), text)
  })
})

test('two different Content-Length values with a request hidden behind: closed, no response, nothing smuggled', async () => {
  await upstreamSeesNothing(async () => {
    const text = await raw('POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 40\r\n\r\n' +
      'aGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n')
    assert.equal(text, '')
  })
})

test('a Content-Length that is not digits: the connection is closed, nothing proxied', async () => {
  await upstreamSeesNothing(async () => {
    const text = await raw('POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: +1\r\n\r\na')
    assert.ok(status(text) === 0 || status(text) === 400, text)
  })
  await upstreamSeesNothing(async () => {
    const text = await raw('POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 1\r\n\r\na')
    assert.ok(status(text) === 0 || status(text) === 400, text)
  })
})

test('Transfer-Encoding other than a final chunked: 501 and close', async () => {
  await upstreamSeesNothing(async () => {
    const text = await raw('POST /te HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\na\r\n0\r\n\r\n')
    assert.equal(status(text), 501)
    assert.match(text, /\r\nConnection: close\r\n/i)
  })
  await upstreamSeesNothing(async () => {
    const text = await raw('POST /te HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n1\r\na\r\n0\r\n\r\n' +
      'GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n')
    assert.equal(text, '')
  })
})

test('Transfer-Encoding together with Content-Length: closed by uWS, nothing proxied', async () => {
  await upstreamSeesNothing(async () => {
    const text = await raw('POST /te HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n1\r\na\r\n0\r\n\r\n')
    assert.ok(status(text) === 0 || status(text) === 400, text)
  })
})

test('Host repeated: 400 and close', async () => {
  await upstreamSeesNothing(async () => {
    const text = await raw('GET /h HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')
    assert.equal(status(text), 400)
  })
})

test('Host missing: this uWS build closes the connection before the handler runs', async () => {
  await upstreamSeesNothing(async () => {
    const text = await raw('GET /h HTTP/1.1\r\nAccept: */*\r\n\r\n')
    assert.ok(status(text) === 0 || status(text) === 400, text)
  })
})

test('client_max_body_size: a declared length over it gets 413 and close; so does a chunked body that grows over it', async () => {
  await upstreamSeesNothing(async () => {
    const text = await raw(`POST /big HTTP/1.1\r\nHost: t\r\nAccept: application/json\r\nContent-Length: 2048\r\n\r\n${'x'.repeat(2048)}`)
    assert.equal(status(text), 413)
    assert.match(text, /"message":"Payload too large"/)
    assert.match(text, /\r\nConnection: close\r\n/i)
  })
  await upstreamSeesNothing(async () => {
    const chunk = 'y'.repeat(600)
    const text = await raw(`POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`)
    assert.equal(status(text), 413)
  })
  const ok = await request(`${h.url}/small`, { method: 'POST', body: 'z'.repeat(1024) })
  assert.equal(ok.statusCode, 200)
  await ok.body.text()
})

test('keep-alive: several requests on one connection, answered in order', async () => {
  const text = await new Promise<string>((resolve, reject) => {
    const s = connect(h.port, '127.0.0.1', () => s.write('GET /ka1 HTTP/1.1\r\nHost: t\r\n\r\n'))
    let buf = ''
    let sent = false
    s.setEncoding('latin1')
    s.on('data', (d: string) => {
      buf += d
      if (!sent && buf.includes('/ka1')) {
        sent = true
        s.write('GET /ka2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
      }
    })
    s.on('close', () => resolve(buf))
    s.on('error', reject)
  })
  assert.equal(text.match(/HTTP\/1\.1 200 OK\r\n/g)?.length, 2)
  assert.ok(text.indexOf('/ka1') < text.indexOf('/ka2'))
})

/** Writes raw bytes, collects until `done(text)` holds; then resolves with the text and whether the server had closed. */
function rawUntil (data: string, done: (text: string) => boolean): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(h.port, '127.0.0.1', () => s.write(data))
    let text = ''
    let settled = false
    s.setEncoding('latin1')
    s.on('data', (d: string) => {
      text += d
      if (!settled && done(text)) { settled = true; s.destroy(); resolve({ text, closedByServer: false }) }
    })
    s.on('close', () => { if (!settled) { settled = true; resolve({ text, closedByServer: true }) } })
    s.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET') reject(err) })
  })
}

const closeHeaders = (text: string): number => text.match(/\r\nconnection: close\r\n/gi)?.length ?? 0

test('a close token in a Connection list closes the connection after a proxied response (RFC 9112 9.6)', async () => {
  for (const value of ['X-Foo, close', 'keep-alive ,\tClose', 'CLOSE']) {
    const text = await raw(`GET /close-token HTTP/1.1\r\nHost: t\r\nConnection: ${value}\r\nX-Foo: 1\r\n\r\n`)
    assert.equal(status(text), 200, value)
    assert.ok(text.includes('/close-token'), value)
    // raw() resolved: the server closed. `Connection: close` at most once (uWS adds it on the exact 5-byte value itself only when closing).
    assert.ok(closeHeaders(text) <= 1, text)
  }
  // A request pipelined behind one that says close is never served (uWS closes on a request
  // pipelined behind a pending one; after the answer the connection is closed).
  const before = echo.received.length
  const text = await raw('GET /close-first HTTP/1.1\r\nHost: t\r\nConnection: X-Foo, close\r\n\r\nGET /close-second HTTP/1.1\r\nHost: t\r\n\r\n')
  assert.ok((text.match(/HTTP\/1\.1 /g)?.length ?? 0) <= 1)
  assert.ok(!text.includes('/close-second'))
  assert.ok(!echo.received.slice(before).some((r) => r.url === '/close-second'))
})

test('a close token: a gateway answer (405) closes too; HEAD, 204 and a streamed response say Connection: close', async () => {
  // uWS cannot close after a bodiless or streamed end: the client is told, and closes.
  const head = await rawUntil('HEAD /close-head HTTP/1.1\r\nHost: t\r\nConnection: te, close\r\n\r\n', (t) => t.includes('\r\n\r\n'))
  assert.equal(status(head.text), 200)
  assert.equal(head.text.match(/\r\ncontent-length: [1-9]\d*\r\n/gi)?.length, 1)
  assert.equal(closeHeaders(head.text), 1)
  const nc = await rawUntil('GET /_/status/204 HTTP/1.1\r\nHost: t\r\nConnection: X-Foo, close\r\n\r\n', (t) => t.includes('\r\n\r\n'))
  assert.equal(status(nc.text), 204)
  assert.equal(closeHeaders(nc.text), 1)
  assert.doesNotMatch(nc.text, /content-length/i)
  let text = await raw('CONNECT /x HTTP/1.1\r\nHost: t\r\nConnection: X-Foo, close\r\n\r\n')
  assert.equal(status(text), 405)
  assert.equal(closeHeaders(text), 1)
  const streamed = await rawUntil('GET /_/chunked HTTP/1.1\r\nHost: t\r\nConnection: X-Foo, close\r\n\r\n', (t) => t.endsWith('0\r\n\r\n'))
  assert.equal(status(streamed.text), 200)
  assert.equal(closeHeaders(streamed.text), 1)
  assert.ok(streamed.text.includes('three'))
})

test('without a close token the connection stays open; Kong-Debug without allow_debug_header adds nothing', async () => {
  const r = await rawUntil('GET /open HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\nKong-Debug: 1\r\n\r\n', (t) => t.includes('/open'))
  assert.equal(r.closedByServer, false)
  assert.equal(status(r.text), 200)
  assert.equal(closeHeaders(r.text), 0)
  assert.doesNotMatch(r.text, /kong-route-id/i)
})

test('a gateway answer to a chunked request (405) is sent on the next turn and closes the connection', async () => {
  await upstreamSeesNothing(async () => {
    const text = await raw('CONNECT /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
    assert.equal(status(text), 405)
    assert.equal(closeHeaders(text), 1)
  })
})

test('an upstream that answers before a chunked request body has ended: the response closes the connection, nothing behind the body is served', async () => {
  const { createServer } = await import('node:http')
  const seen: string[] = []
  const early = createServer((req, res) => {
    seen.push(req.url ?? '')
    req.resume()
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' })
    res.end('early')
  })
  early.listen(0, '127.0.0.1')
  await new Promise((resolve) => early.once('listening', resolve))
  const earlySvc = service({ host: '127.0.0.1', port: (early.address() as { port: number }).port })
  // A gateway of its own: this file's has client_max_body_size 1k, and the body must be larger
  // than what Sluice buffers before dispatching (request-body.ts COLLECT_LIMIT) to reach the upstream early.
  const g = await startWorkers({ snapshot: snapshot([earlySvc], [route({ paths: ['/early'], strip_path: false }, earlySvc)]) })
  try {
    const big = 'a'.repeat(70 * 1024)
    const r = await new Promise<{ text: string; closed: boolean }>((resolve, reject) => {
      const s = connect(g.port, '127.0.0.1', () => s.write(`POST /early/up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n`))
      let text = ''
      let sentRest = false
      s.setEncoding('latin1')
      s.on('data', (d: string) => {
        text += d
        if (!sentRest && text.includes('early')) {
          sentRest = true
          // The body's end, then a request hidden behind it.
          s.write('0\r\n\r\nGET /early/smuggled HTTP/1.1\r\nHost: t\r\n\r\n', () => {})
          setTimeout(() => { s.destroy(); resolve({ text, closed: false }) }, 500)
        }
      })
      s.on('close', () => resolve({ text, closed: true }))
      s.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err) })
    })
    assert.equal(status(r.text), 200)
    assert.equal(r.closed, true)
    assert.equal(r.text.match(/HTTP\/1\.1 /g)?.length, 1)
    assert.deepEqual(seen, ['/early/up'])
  } finally {
    await g.stop()
    early.close()
  }
})
