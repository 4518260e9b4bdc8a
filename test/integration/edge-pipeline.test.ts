/**
 * Several requests on one connection, through real worker threads to a raw recording upstream.
 *
 * uWebSockets.js (20.30 and 20.57 alike) parses a pipelined request as soon as it has the bytes;
 * if the previous response is still pending (every proxied request: the answer comes from the
 * upstream later), it closes the connection and aborts the pending one (HttpContext.h:
 * "Are we not ready for another request yet? Terminate the connection."). JavaScript is not told
 * about the second request. What Sluice guarantees on top:
 *   - requests it answers itself, synchronously (404 no route, 405 CONNECT, ...), are answered in
 *     order, and a proxied request may follow them;
 *   - when uWS closes, none of the pipelined requests reached the upstream (the first is aborted
 *     before undici writes it), so a client may safely retry them (RFC 9112 9.3.2);
 *   - keep-alive without pipelining is answered in order.
 * Smuggling attempts that hide a request behind a refused one are in edge-framing.test.ts.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { route, service, snapshot } from '../helpers/worker-harness.ts'
import { exchange, H, sequential, sleep, startEdge, upstreamDuring, type Edge } from './edge-harness.ts'

let e: Edge

before(async () => {
  e = await startEdge()
  // Only /api is routed: anything else is a synchronous 404 from the gateway.
  const svc = service({ host: '127.0.0.1', port: e.up.port, retries: 0 })
  await e.h.publish(snapshot([svc], [route({ paths: ['/api'], strip_path: false }, svc)]))
})
after(async () => { await e?.stop() })

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\n${H}${extra}\r\n`

describe('pipelining', () => {
  test('two proxied GETs in one write: closed without a response, neither reached the upstream', async () => {
    for (let i = 0; i < 5; i++) {
      const seen = await upstreamDuring(e.up, async () => {
        const o = await exchange(e.port, get('/api/p1') + get('/api/p2'))
        assert.deepEqual([o.statuses, o.state, o.leftover], [[], 'closed', ''])
      }, 100)
      assert.deepEqual(seen, [])
    }
  })

  test('the same with a warm upstream connection pool', async () => {
    assert.deepEqual((await sequential(e.port, [get('/api/warm')])).statuses, [200])
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, get('/api/w1') + get('/api/w2'))
      assert.deepEqual([o.statuses, o.state], [[], 'closed'])
    }, 100)
    assert.deepEqual(seen, [])
  })

  test('a POST with its body and a GET behind it: closed, nothing reached the upstream', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, `POST /api/post HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc` + get('/api/after'))
      assert.deepEqual([o.statuses, o.state], [[], 'closed'])
    }, 100)
    assert.deepEqual(seen, [])
  })

  test('requests the gateway answers itself are answered in order, and a proxied one may follow', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, get('/nope1') + get('/nope2') + `CONNECT /x HTTP/1.1\r\n${H}\r\n` + get('/api/last'), { responses: 4, holdMs: 2000 })
      assert.deepEqual(o.statuses, [404, 404, 405, 200])
      assert.equal(o.leftover, '')
      assert.match(o.responses[3]!.body, /"target":"\/api\/last"/)
    })
    assert.deepEqual(seen.map((r) => r.target), ['/api/last'])
  })

  test('a proxied request, then a 404 pipelined behind it: closed, nothing proxied', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, get('/api/first') + get('/nope'))
      assert.deepEqual([o.statuses, o.state], [[], 'closed'])
    }, 100)
    assert.deepEqual(seen, [])
  })

  test('keep-alive without pipelining: ten requests answered in order on one connection', async () => {
    const reqs = Array.from({ length: 10 }, (_, i) => i % 3 === 2 ? get(`/nope${i}`) : get(`/api/k${i}`))
    const seen = await upstreamDuring(e.up, async () => {
      const o = await sequential(e.port, reqs)
      assert.deepEqual(o.statuses, [200, 200, 404, 200, 200, 404, 200, 200, 404, 200])
      assert.equal(o.state, 'open')
    })
    assert.deepEqual(seen.map((r) => r.target), ['/api/k0', '/api/k1', '/api/k3', '/api/k4', '/api/k6', '/api/k7', '/api/k9'])
    assert.ok(new Set(seen.map((r) => r.conn)).size >= 1)
    assert.deepEqual(e.up.violations, [])
  })

  test('Connection: close on a request: answered, then the connection is closed', async () => {
    const o = await exchange(e.port, get('/api/bye', 'Connection: close\r\n'), { holdMs: 2000 })
    assert.deepEqual([o.statuses, o.state], [[200], 'closed'])
  })

  test('the gateway keeps serving afterwards', async () => {
    await sleep(10)
    const o = await sequential(e.port, [get('/api/ok')])
    assert.deepEqual(o.statuses, [200])
  })
})
