/**
 * Size limits at the edge with Kong/nginx defaults and answers, through real worker threads to a
 * raw recording upstream:
 *   - large_client_header_buffers `4 8k`: request line over 8k -> 414 `URI too long`; a field line
 *     over 8k, or the head over 4 x 8k -> 400 `Request header or cookie too large`;
 *   - client_max_body_size: a declared length over it -> 413 before any body byte is read; a chunked
 *     body that grows over it -> 413 while streaming;
 *   - lua_max_req_headers: Kong proxies every field and limits what the router and plugins see;
 * and where the pinned uWS build answers nothing (a head split over reads past 4 KiB, more than 48
 * fields): documented, with the gateway still serving.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { route, service, snapshot } from '../helpers/worker-harness.ts'
import { assertServing, BUILD, exchange, H, headerOf, startEdge, upstreamDuring, type Edge } from './edge-harness.ts'

/** A GET whose request line is exactly `n` bytes with its CRLF. */
function lineOf (n: number, tag: string): string {
  const fixed = `GET /${tag}? HTTP/1.1\r\n`.length
  return `GET /${tag}?${'q'.repeat(n - fixed)} HTTP/1.1\r\n`
}

/** A field line of exactly `n` bytes with its CRLF. */
function fieldOf (n: number, name = 'X-Big'): string {
  return `${name}: ${'v'.repeat(n - name.length - 4)}\r\n`
}

describe('head sizes, Kong defaults (large_client_header_buffers 4 8k)', () => {
  let e: Edge
  before(async () => { e = await startEdge() })
  after(async () => { await e?.stop() })

  test('request line of 8192 bytes is served, 8193 gets 414 URI too long and close', async () => {
    const ok = lineOf(8192, 'l1')
    assert.equal(ok.length, 8192)
    const seen = await upstreamDuring(e.up, async () => {
      const a = await exchange(e.port, ok + H + '\r\n', { responses: 1 })
      assert.deepEqual(a.statuses, [200])
      const b = await exchange(e.port, lineOf(8193, 'l2') + H + 'Accept: application/json\r\n\r\n')
      assert.deepEqual(b.statuses, [414])
      assert.equal(b.state, 'closed')
      assert.equal(headerOf(b.responses[0], 'connection'), 'close')
      assert.match(b.responses[0]!.body, /"message":"URI too long"/)
    })
    assert.deepEqual(seen.map((r) => r.target.slice(0, 4)), ['/l1?'])
  })

  test('a field line of 8192 bytes is served, 8193 gets 400 Request header or cookie too large', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      const a = await exchange(e.port, `GET /f1 HTTP/1.1\r\n${H}${fieldOf(8192)}\r\n`, { responses: 1 })
      assert.deepEqual(a.statuses, [200])
      const b = await exchange(e.port, `GET /f2 HTTP/1.1\r\n${H}${fieldOf(8193)}\r\n`)
      assert.deepEqual(b.statuses, [400])
      assert.equal(b.state, 'closed')
      assert.match(b.responses[0]!.body, /^Request header or cookie too large\nrequest_id: /)
    })
    assert.deepEqual(seen.map((r) => r.target), ['/f1'])
    assert.equal(seen[0]!.headers.find(([k]) => k === 'x-big')?.[1].length, 8192 - 9)
  })

  test('a head over 4 x 8k gets 400 (uWS 20.30 parses heads up to its read size when they arrive in one read)', async () => {
    const fields = Array.from({ length: 5 }, (_, i) => fieldOf(7000, `X-F${i}`)).join('')
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, `GET /big-head HTTP/1.1\r\n${H}${fields}\r\n`)
      if (BUILD === '20.57') assert.ok(o.statuses[0] === 400 || o.statuses[0] === 431, JSON.stringify(o.statuses))
      else assert.deepEqual(o.statuses, [400])
      assert.equal(o.state, 'closed')
    })
    assert.deepEqual(seen, [])
  })

  test('uWS 20.30: a head that arrives over several reads and passes 4 KiB is closed without a response', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, [`GET /split HTTP/1.1\r\n${H}${fieldOf(3000, 'X-A')}`, `${fieldOf(2000, 'X-B')}\r\n`], { gapMs: 50 })
      if (BUILD === '20.30') assert.deepEqual([o.statuses, o.state], [[], 'closed'])
      else assert.deepEqual(o.statuses, [200])
    })
    assert.ok(seen.length <= 1)
    // Under 4 KiB in total, a split head is fine on every build.
    const o = await exchange(e.port, [`GET /split-small HTTP/1.1\r\n${H}${fieldOf(1500, 'X-A')}`, `${fieldOf(1000, 'X-B')}\r\n`], { gapMs: 50, responses: 1 })
    assert.deepEqual(o.statuses, [200])
  })

  test('48 header fields are all forwarded; uWS 20.30 holds a request with more, without a response', async () => {
    const fields = (n: number): string => Array.from({ length: n }, (_, i) => `X-F${i}: ${i}\r\n`).join('')
    const seen = await upstreamDuring(e.up, async () => {
      const a = await exchange(e.port, `GET /n48 HTTP/1.1\r\n${H}${fields(47)}\r\n`, { responses: 1 })
      assert.deepEqual(a.statuses, [200])
      const b = await exchange(e.port, `GET /n49 HTTP/1.1\r\n${H}${fields(48)}\r\n`, { holdMs: 400 })
      if (BUILD === '20.30') assert.deepEqual([b.statuses, b.state], [[], 'open'])
      else assert.deepEqual(b.statuses, [200])
    })
    assert.equal(seen[0]!.headers.filter(([k]) => /^x-f\d+$/.test(k)).length, 47)
    await assertServing(e)
  })
})

describe('head sizes, configured (large_client_header_buffers 2 1k)', () => {
  let e: Edge
  before(async () => { e = await startEdge({ large_client_header_buffers: '2 1k' }) })
  after(async () => { await e?.stop() })

  test('limits follow the configuration', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      assert.deepEqual((await exchange(e.port, lineOf(1024, 'c1') + H + '\r\n', { responses: 1 })).statuses, [200])
      assert.deepEqual((await exchange(e.port, lineOf(1025, 'c2') + H + '\r\n')).statuses, [414])
      assert.deepEqual((await exchange(e.port, `GET /c3 HTTP/1.1\r\n${H}${fieldOf(1025)}\r\n`)).statuses, [400])
      assert.deepEqual((await exchange(e.port, `GET /c4 HTTP/1.1\r\n${H}${fieldOf(1024, 'X-A')}${fieldOf(1024, 'X-B')}\r\n`)).statuses, [400])
      // Non-ASCII bytes count as bytes (the value reaches JS as UTF-8 text).
      const utf = Buffer.concat([Buffer.from(`GET /c5 HTTP/1.1\r\n${H}X-U: a`), Buffer.from('é'.repeat(600), 'utf8'), Buffer.from('b\r\n\r\n')])
      assert.deepEqual((await exchange(e.port, utf)).statuses, [400])
    })
    assert.deepEqual(seen.map((r) => r.target.slice(0, 4)), ['/c1?'])
    await assertServing(e)
  })
})

describe('client_max_body_size 1k', () => {
  let e: Edge
  before(async () => { e = await startEdge({ client_max_body_size: '1k' }) })
  after(async () => { await e?.stop() })

  test('declared length over it, body already sent: 413 and close, nothing proxied', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, `POST /b1 HTTP/1.1\r\n${H}Accept: application/json\r\nContent-Length: 2048\r\n\r\n${'x'.repeat(2048)}`)
      assert.deepEqual([o.statuses, o.state], [[413], 'closed'])
      assert.match(o.responses[0]!.body, /"message":"Payload too large"/)
      assert.equal(headerOf(o.responses[0], 'connection'), 'close')
    })
    assert.deepEqual(seen, [])
  })

  test('declared length over it, body still coming: 413 with Connection: close before the body, no reset while the client sends the rest', async () => {
    const got = await new Promise<{ text: string; error: string | null; closedByServer: boolean }>((resolve) => {
      let text = ''
      let error: string | null = null
      let closedByServer = false
      let weEnded = false
      const s = connect(e.port, '127.0.0.1', () => { s.write(`POST /b2 HTTP/1.1\r\n${H}Content-Length: ${8 << 20}\r\n\r\n${'x'.repeat(1000)}`) })
      s.setEncoding('latin1')
      s.on('data', (d: string) => {
        text += d
        if (text.includes('request_id: ') && text.endsWith('\n')) {
          // The answer is in; keep sending some of the body (as clients that do not read early do).
          let left = 2 << 20
          const pump = (): void => {
            while (left > 0) {
              left -= 64 * 1024
              if (!s.write(Buffer.alloc(64 * 1024, 'y'))) { s.once('drain', pump); return }
            }
            setTimeout(() => { weEnded = true; s.end(); setTimeout(() => resolve({ text, error, closedByServer }), 100) }, 100)
          }
          pump()
        }
      })
      s.on('end', () => { if (!weEnded) closedByServer = true })
      s.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message; resolve({ text, error, closedByServer }) })
    })
    assert.match(got.text, /^HTTP\/1\.1 413 Payload Too Large\r\n/)
    assert.match(got.text, /\r\nConnection: close\r\n/i)
    assert.equal(got.error, null)
    assert.equal(got.closedByServer, false)
    await assertServing(e)
  })

  test('declared length over it with a request hidden behind the body: closed, nothing proxied', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, `POST /b3 HTTP/1.1\r\n${H}Content-Length: 2000\r\n\r\n${'x'.repeat(2000)}GET /smuggled HTTP/1.1\r\n${H}\r\n`)
      assert.equal(o.state, 'closed')
      assert.ok(o.statuses.length <= 1 && o.statuses.every((s) => s === 413))
    })
    assert.deepEqual(seen, [])
  })

  test('Expect: 100-continue with a length over it: 413', async () => {
    const o = await exchange(e.port, `POST /b4 HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 4096\r\n\r\n`, { responses: 1, holdMs: 1000 })
    assert.equal(o.statuses[o.statuses.length - 1], 413)
  })

  test('a chunked body that grows over it: 413, the upstream request is aborted', async () => {
    const chunk = 'y'.repeat(600)
    const o = await exchange(e.port, [`POST /b5 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n`, `258\r\n${chunk}\r\n0\r\n\r\n`], { gapMs: 50 })
    assert.deepEqual(o.statuses, [413])
    assert.equal(o.state, 'closed')
    assert.ok(!e.up.requests.some((r) => r.target === '/b5' && r.body.length > 1024))
    await assertServing(e)
  })

  test('a large chunked body that grows over it while the client is still sending: the client reads the 413, no reset', async () => {
    for (let i = 0; i < 3; i++) {
      const got = await new Promise<{ text: string; error: string | null }>((resolve) => {
        let text = ''
        let error: string | null = null
        const s = connect(e.port, '127.0.0.1', () => {
          s.write(`POST /b7 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`)
          let left = 64
          const pump = (): void => {
            while (left-- > 0) { if (!s.write(`10000\r\n${'y'.repeat(65536)}\r\n`)) { s.once('drain', pump); return } }
            s.end('0\r\n\r\n')
          }
          pump()
        })
        s.setEncoding('latin1')
        s.on('data', (d: string) => { text += d })
        s.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message })
        s.on('close', () => resolve({ text, error }))
      })
      assert.match(got.text, /^HTTP\/1\.1 413 /, `round ${i}: ${got.error ?? ''}`)
    }
  })

  test('at the limit: proxied', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, `POST /b6 HTTP/1.1\r\n${H}Content-Length: 1024\r\n\r\n${'z'.repeat(1024)}`, { responses: 1 })
      assert.deepEqual(o.statuses, [200])
    })
    assert.equal(seen[0]!.body.length, 1024)
  })
})

describe('lua_max_req_headers (Kong: every field is proxied; the router and plugins see the first N)', () => {
  let e: Edge
  before(async () => {
    e = await startEdge({ lua_max_req_headers: '10' })
    const svc = service({ host: '127.0.0.1', port: e.up.port })
    // The header route strips its path (the upstream sees `/`), the catch-all keeps it (`/hdr`):
    // the upstream target tells which route matched.
    const r = route({ paths: ['/hdr'], headers: { 'x-pick': ['yes'] }, strip_path: true }, svc)
    await e.h.publish(snapshot([svc], [r, route({ paths: ['/'], strip_path: false }, svc)]))
  })
  after(async () => { await e?.stop() })

  test('20 fields: all reach the upstream', async () => {
    const fields = Array.from({ length: 19 }, (_, i) => `X-F${i}: ${i}\r\n`).join('')
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, `GET /any HTTP/1.1\r\n${H}${fields}\r\n`, { responses: 1 })
      assert.deepEqual(o.statuses, [200])
    })
    assert.equal(seen[0]!.headers.filter(([k]) => /^x-f\d+$/.test(k)).length, 19)
  })

  test('a header past the first N does not take part in routing (Kong router: get_headers() truncated)', async () => {
    const fields = Array.from({ length: 12 }, (_, i) => `X-F${i}: ${i}\r\n`).join('')
    const seen = await upstreamDuring(e.up, async () => {
      assert.deepEqual((await exchange(e.port, `GET /hdr HTTP/1.1\r\n${H}X-Pick: yes\r\n\r\n`, { responses: 1 })).statuses, [200])
      assert.deepEqual((await exchange(e.port, `GET /hdr HTTP/1.1\r\n${H}${fields}X-Pick: yes\r\n\r\n`, { responses: 1 })).statuses, [200])
    })
    // Within the first 10 fields the header route matches; as the 14th field the router never sees it.
    assert.deepEqual(seen.map((r) => r.target), ['/', '/hdr'])
    // Either way every field is proxied.
    assert.ok(seen[1]!.headers.some(([k]) => k === 'x-pick'))
  })
})
