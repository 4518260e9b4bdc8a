/**
 * Slow and abusive clients, through real worker threads to a raw recording upstream:
 *   - client_body_timeout: a body that stalls gets 408 `Request timeout` and a close; the upstream
 *     request (already streaming when the body passed 64 KiB) is aborted;
 *   - uWS's own rule (a body must bring 16 KiB/s over its 10 s timer, or uWS closes silently):
 *     Sluice answers 408 before that happens;
 *   - a request head sent slowly never reaches Sluice: uWS closes it after its fixed idle timeout
 *     (8-12 s on 20.30, ~32 s on 20.57), without a response (nginx does the same on
 *     client_header_timeout);
 *   - many slow connections do not starve another client;
 *   - nginx_events_worker_connections bounds the requests in progress per worker: past it, 503 and
 *     close, and service resumes once the slow ones are gone.
 * Timeouts are small through configuration; the two cases that must wait for uWS's own fixed
 * timers run side by side (about 12 s in all on 20.30, 32 s on 20.57).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { BUILD, exchange, H, headerOf, sequential, sleep, startEdge, type Edge } from './edge-harness.ts'

/** Opens a connection, writes `first`, and keeps it open; collects what comes back. */
function hold (port: number, first: string): Promise<{ s: Socket; text: () => string; closedAt: () => number | null; t0: number }> {
  return new Promise((resolve, reject) => {
    let text = ''
    let closedAt: number | null = null
    const t0 = Date.now()
    const s = connect(port, '127.0.0.1', () => {
      if (first !== '') s.write(first)
      resolve({ s, text: () => text, closedAt: () => closedAt, t0 })
    })
    s.setEncoding('latin1')
    s.on('data', (d: string) => { text += d })
    s.on('close', () => { closedAt = Date.now() })
    s.on('error', () => {})
    s.once('error', reject)
  })
}

async function until (pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (pred()) return true
    await sleep(20)
  }
  return pred()
}

describe('client_body_timeout 1000 ms', () => {
  let e: Edge
  before(async () => { e = await startEdge({ client_body_timeout: '1000' }) })
  after(async () => { await e?.stop() })

  test('a body that stops: 408 and close within the timeout, nothing proxied', async () => {
    const c = await hold(e.port, `POST /stall HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\n0123456789`)
    assert.ok(await until(() => c.closedAt() !== null, 3000), 'closed')
    const ms = c.closedAt()! - c.t0
    assert.ok(ms >= 900 && ms < 2000, `answered after ${ms} ms`)
    assert.match(c.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/)
    assert.match(c.text(), /\r\nConnection: close\r\n/i)
    assert.match(c.text(), /Request timeout\nrequest_id: /)
    assert.ok(!e.up.requests.some((r) => r.target === '/stall'))
  })

  test('a streamed body (past 64 KiB) that stops: 408, and the upstream request is aborted', async () => {
    const closedBefore = e.up.closed
    const c = await hold(e.port, `POST /stall-stream HTTP/1.1\r\n${H}Content-Length: ${1 << 20}\r\n\r\n${'s'.repeat(200 * 1024)}`)
    assert.ok(await until(() => c.closedAt() !== null, 3000), 'closed')
    assert.match(c.text(), /^HTTP\/1\.1 408 /)
    // The upstream got the start of it, never all of it, and its connection was closed by Sluice.
    assert.ok(await until(() => e.up.closed > closedBefore, 2000), 'upstream connection aborted')
    assert.ok(!e.up.requests.some((r) => r.target === '/stall-stream'), 'the request never completed upstream')
    const got = [...e.up.bytes.values()].some((b) => b.includes('POST /stall-stream HTTP/1.1'))
    assert.ok(got, 'the upstream saw the request start')
  })

  test('a body that keeps coming within the timeout is proxied', async () => {
    const o = await exchange(e.port, [`POST /steady HTTP/1.1\r\n${H}Content-Length: 6\r\n\r\nab`, 'cd', 'ef'], { gapMs: 400, responses: 1, holdMs: 3000 })
    assert.deepEqual(o.statuses, [200])
    assert.equal(e.up.requests.find((r) => r.target === '/steady')?.body.toString(), 'abcdef')
  })
})

/**
 * When each build's own timer closes a slow connection without a response (measured: 20.30 8-12 s,
 * uSockets' 4 s ticks over a 10 s timeout; 20.57 ~32 s for a slow head and for a trickling body).
 */
const SLOW_CLOSE = BUILD === '20.30' ? { minMs: 7500, maxMs: 12_800 } : { minMs: 27_000, maxMs: 37_000 }

describe('uWS\'s fixed timers (default configuration)', { concurrency: true }, () => {
  let e: Edge
  before(async () => { e = await startEdge() })
  after(async () => { await e?.stop() })

  test('a body under 16 KiB/s: 20.30: 408 before uWS drops it silently; 20.57: uWS closes it silently after ~32 s (client_body_timeout 60 s)', { timeout: 60_000 }, async () => {
    const c = await hold(e.port, `POST /trickle HTTP/1.1\r\n${H}Content-Length: 1000\r\n\r\n`)
    const t = setInterval(() => { if (!c.s.destroyed) c.s.write('x') }, 200)
    try {
      assert.ok(await until(() => c.closedAt() !== null, SLOW_CLOSE.maxMs + 1000), 'closed')
    } finally {
      clearInterval(t)
    }
    const ms = c.closedAt()! - c.t0
    if (BUILD === '20.30') {
      // Sluice's rule for this build (edge.ts UWS_BODY_RULES) answers first.
      assert.match(c.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/, `after ${ms} ms: ${JSON.stringify(c.text().slice(0, 80))}`)
      assert.ok(ms >= 6900 && ms < 8000, `answered after ${ms} ms`)
    } else {
      // No rule for this build: its own timer closes the connection without a response.
      assert.equal(c.text(), '', `after ${ms} ms`)
      assert.ok(ms >= SLOW_CLOSE.minMs && ms <= SLOW_CLOSE.maxMs, `closed after ${ms} ms`)
    }
    assert.ok(!e.up.requests.some((r) => r.target === '/trickle'))
  })

  test('a request head sent slowly: uWS closes it without a response (20.30: after 8-12 s; 20.57: ~32 s); nothing proxied', { timeout: 60_000 }, async () => {
    const c = await hold(e.port, 'GET /slow-head HTTP/1.1\r\n')
    const t = setInterval(() => { if (!c.s.destroyed) c.s.write('X-A: a\r\n') }, 500)
    try {
      assert.ok(await until(() => c.closedAt() !== null, SLOW_CLOSE.maxMs + 1000), 'closed')
    } finally {
      clearInterval(t)
    }
    const ms = c.closedAt()! - c.t0
    assert.ok(ms >= SLOW_CLOSE.minMs && ms <= SLOW_CLOSE.maxMs, `closed after ${ms} ms`)
    assert.equal(c.text(), '')
    assert.ok(!e.up.requests.some((r) => r.target === '/slow-head'))
  })
})

describe('many slow connections', () => {
  let e: Edge
  before(async () => { e = await startEdge({ client_body_timeout: '5000' }) })
  after(async () => { await e?.stop() })

  test('200 slow connections open (100 unfinished heads, 100 stalled bodies): another client is served at once', async () => {
    const slow: Socket[] = []
    try {
      for (let i = 0; i < 100; i++) slow.push((await hold(e.port, `GET /head-${i} HTTP/1.1\r\n${H}X-Slow: `)).s)
      for (let i = 0; i < 100; i++) slow.push((await hold(e.port, `POST /body-${i} HTTP/1.1\r\n${H}Content-Length: 1000\r\n\r\nabc`)).s)
      for (let round = 0; round < 5; round++) {
        const t0 = Date.now()
        const o = await sequential(e.port, [`GET /other-${round} HTTP/1.1\r\n${H}\r\n`])
        assert.deepEqual(o.statuses, [200])
        assert.ok(Date.now() - t0 < 500, `served in ${Date.now() - t0} ms`)
      }
      assert.equal(slow.filter((s) => s.destroyed).length, 0, 'the slow ones are still open')
    } finally {
      for (const s of slow) s.destroy()
    }
  })
})

describe('nginx_events_worker_connections 20 (one worker): requests in progress (20.30) or connections (20.57)', () => {
  let e: Edge
  before(async () => { e = await startEdge({ nginx_events_worker_connections: '20', client_body_timeout: '1500' }) })
  after(async () => { await e?.stop() })

  test('past 20 requests in progress: 503 and close at once; served again once the slow ones time out', async () => {
    const slow: Array<Awaited<ReturnType<typeof hold>>> = []
    for (let i = 0; i < 20; i++) slow.push(await hold(e.port, `POST /held-${i} HTTP/1.1\r\n${H}Content-Length: 1000\r\n\r\nabc`))
    await sleep(50)
    const over = await exchange(e.port, `GET /over HTTP/1.1\r\n${H}\r\n`, { holdMs: 1000 })
    if (BUILD === '20.57') {
      // Connection events (App.filter): the 21st connection is closed as it opens.
      assert.deepEqual([over.statuses, over.state], [[], 'closed'])
    } else {
      // 20.30 reports requests, not connections: a request past the bound gets 503 and close.
      assert.deepEqual([over.statuses, over.state], [[503], 'closed'])
      assert.match(over.responses[0]!.body, /^The upstream server is currently unavailable\nrequest_id: /)
      assert.equal(headerOf(over.responses[0], 'connection'), 'close')
      // One with its body still coming: 503 with Connection: close, answered before the body.
      const overBody = await hold(e.port, `POST /over-body HTTP/1.1\r\n${H}Content-Length: 100000\r\n\r\nabc`)
      assert.ok(await until(() => overBody.text().includes('request_id: '), 1000))
      assert.match(overBody.text(), /^HTTP\/1\.1 503 /)
      overBody.s.destroy()
    }
    // The held ones time out (408) and free their places.
    assert.ok(await until(() => slow.every((c) => c.closedAt() !== null), 4000), 'held requests timed out')
    assert.ok(slow.every((c) => /^HTTP\/1\.1 408 /.test(c.text())))
    await sleep(20)
    const again = await sequential(e.port, [`GET /again HTTP/1.1\r\n${H}\r\n`])
    assert.deepEqual(again.statuses, [200])
    assert.ok(!e.up.requests.some((r) => r.target.startsWith('/over')))
  })
})
