/**
 * `upstream_transport = net` through real worker threads: a representative slice of the proxy's
 * behaviour (proxied GET with the upstream request headers, a POST body, a 1 MiB response, 502 on
 * a refused port, 504 on a read timeout) with Sluice's node:net transport instead of undici. The
 * full contract of the transport itself is test/transport/; the rest of the proxy suite runs with
 * the default (undici).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { request } from 'undici'
import { freePort } from '../helpers/ports.ts'
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.ts'
import { startBig, startEcho, startSlow, type BigUpstream, type SlowUpstream, type Upstream } from '../helpers/upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'

const SIZE = 1024 * 1024
const HEAD_UNTIL_CLOSE = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n'

let echo: Upstream
let big: BigUpstream
let slow: SlowUpstream
let raw: RawUpstream
let h: Harness

before(async () => {
  echo = await startEcho()
  big = await startBig(SIZE)
  slow = await startSlow()
  // A body read until close, cut by a reset: the net transport reports the error (the client's
  // response fails); undici takes the reset as the end of the body (a clean, truncated 200). Tells
  // the transports apart from outside the worker.
  raw = await startRawUpstream(() => ({ data: HEAD_UNTIL_CLOSE + 'partial', splitAt: [HEAD_UNTIL_CLOSE.length, HEAD_UNTIL_CLOSE.length + 7], splitDelayMs: 50, reset: true }))
  const refusedPort = await freePort()
  const echoSvc = service({ host: '127.0.0.1', port: echo.port })
  const bigSvc = service({ host: '127.0.0.1', port: big.port })
  const refused = service({ host: '127.0.0.1', port: refusedPort })
  const timing = service({ host: '127.0.0.1', port: slow.port, read_timeout: 200, retries: 0 })
  const rawSvc = service({ host: '127.0.0.1', port: raw.port })
  h = await startWorkers({
    conf: { upstream_transport: 'net' },
    snapshot: snapshot([echoSvc, bigSvc, refused, timing, rawSvc], [
      route({ paths: ['/echo'] }, echoSvc),
      route({ paths: ['/big'], strip_path: false }, bigSvc),
      route({ paths: ['/refused'] }, refused),
      route({ paths: ['/timeout'] }, timing),
      route({ paths: ['/raw'] }, rawSvc),
    ]),
  })
})

after(async () => {
  await h?.stop()
  await Promise.all([echo?.close(), big?.close(), slow?.close(), raw?.close()])
})

test('config: upstream_transport = net reaches the workers (a reset mid read-until-close body is an error)', async () => {
  assert.equal(h.config.upstreamTransport, 'net')
  let clean = false
  try {
    const res = await request(`${h.url}/raw/x`)
    await res.body.text()
    clean = res.statusCode === 200
  } catch { /* the client connection was closed: the truncated body was not passed off as whole */ }
  assert.equal(clean, false)
})

test('net: proxied GET, path and query, upstream request headers', async () => {
  const res = await request(`${h.url}/echo/hello?x=1`, { headers: { 'x-custom': 'abc' } })
  assert.equal(res.statusCode, 200)
  const got = await res.body.json() as { method: string; url: string; headers: Record<string, string> }
  assert.equal(got.method, 'GET')
  assert.equal(got.url, '/hello?x=1')
  assert.equal(got.headers.host, `127.0.0.1:${echo.port}`)
  assert.equal(got.headers['x-custom'], 'abc')
  assert.equal(got.headers['x-forwarded-for'], '127.0.0.1')
  assert.equal(got.headers['x-forwarded-proto'], 'http')
  assert.equal(got.headers['x-forwarded-host'], '127.0.0.1')
  assert.equal(got.headers['x-forwarded-path'], '/echo/hello')
  assert.equal(got.headers['x-forwarded-prefix'], '/echo')
  assert.equal(got.headers['x-real-ip'], '127.0.0.1')
  assert.match(got.headers['x-kong-request-id'] ?? '', /^[0-9a-f]{32}$/)
  assert.equal(got.headers.connection, 'keep-alive')
  assert.equal(res.headers.via, '1.1 kong/3.10.0')
  assert.ok(res.headers['x-kong-upstream-latency'] !== undefined)
})

test('net: POST body arrives whole', async () => {
  const body = 'a'.repeat(100_000)
  const res = await request(`${h.url}/echo/post`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } })
  assert.equal(res.statusCode, 200)
  const got = await res.body.json() as { method: string; bodyLength: number; bodySha256: string; headers: Record<string, string> }
  assert.equal(got.method, 'POST')
  assert.equal(got.bodyLength, body.length)
  assert.equal(got.bodySha256, createHash('sha256').update(body).digest('hex'))
  assert.equal(got.headers['content-type'], 'text/plain')
})

test('net: 1 MiB response, Content-Length and chunked', async () => {
  for (const path of ['/big', '/big-chunked']) {
    const res = await request(`${h.url}${path}`)
    assert.equal(res.statusCode, 200)
    const hash = createHash('sha256')
    let n = 0
    for await (const c of res.body) { hash.update(c as Buffer); n += (c as Buffer).length }
    assert.equal(n, SIZE, path)
    assert.equal(hash.digest('hex'), big.sha256, path)
  }
})

test('net: connection refused: 502', async () => {
  const res = await request(`${h.url}/refused/x`, { headers: { accept: 'text/plain' } })
  const text = await res.body.text()
  assert.equal(res.statusCode, 502)
  assert.equal(text, `An invalid response was received from the upstream server\nrequest_id: ${res.headers['x-kong-request-id'] as string}\n`)
})

test('net: read timeout: 504', async () => {
  const res = await request(`${h.url}/timeout/hang`, { headers: { accept: 'text/plain' } })
  const text = await res.body.text()
  assert.equal(res.statusCode, 504)
  assert.equal(text, `The upstream server is timing out\nrequest_id: ${res.headers['x-kong-request-id'] as string}\n`)
})
