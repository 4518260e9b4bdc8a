/**
 * The upstream side of the edge, through real worker threads and a raw upstream that writes exact
 * bytes: how Sluice frames what it sends upstream, and what a misbehaving upstream response turns
 * into for the client. The rule: Kong's 502 (`An invalid response was received from the upstream
 * server`) while nothing was sent to the client yet, a closed client connection once something was,
 * and never a desynchronised client connection: every keep-alive case sends a second request on
 * the same client connection after the first answer and checks that it gets its own answer.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Answer } from '../helpers/raw-upstream.ts'
import { exchange, H, headerOf, sequential, sleep, startEdge, type Edge } from './edge-harness.ts'

let e: Edge
const scripts = new Map<string, Answer>()

before(async () => {
  // Kong's default retries (5): a case that must not be retried shows it.
  e = await startEdge({}, 1, 5)
  e.up.respond((req) => {
    const path = req.target.split('?')[0]!
    const a = scripts.get(path)
    if (a !== undefined) return a
    const body = `seen ${req.method} ${req.target}`
    return { data: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}` }
  })
})
after(async () => { await e?.stop() })

const MSG_502 = /^An invalid response was received from the upstream server\nrequest_id: /

function script (path: string, a: Answer): string {
  scripts.set(path, a)
  return `GET ${path} HTTP/1.1\r\n${H}\r\n`
}

function tries (path: string): number {
  return e.up.requests.filter((r) => r.target === path).length
}

/** One request, then a second on the same connection: the first gets `status`, the second its own 200. */
async function keepsSync (path: string, a: Answer, status: number, body?: string | RegExp): Promise<void> {
  const o = await sequential(e.port, [script(path, a), `GET ${path}/next HTTP/1.1\r\n${H}\r\n`])
  assert.deepEqual(o.statuses, [status, 200], JSON.stringify(o.text.slice(0, 300)))
  assert.equal(o.leftover, '')
  if (body !== undefined) {
    if (typeof body === 'string') assert.equal(o.responses.find((r) => r.status >= 200)!.body, body)
    else assert.match(o.responses.find((r) => r.status >= 200)!.body, body)
  }
  assert.equal(o.responses.filter((r) => r.status >= 200)[1]!.body, `seen GET ${path}/next`)
}

/** The response had started: the client connection is closed, the body never presented as complete. */
async function closesTruncated (path: string, a: Answer): Promise<void> {
  const o = await exchange(e.port, script(path, a), { holdMs: 2000 })
  assert.equal(o.state, 'closed')
  assert.deepEqual(o.statuses, [], `no complete response: ${JSON.stringify(o.text.slice(0, 200))}`)
  assert.match(o.leftover, /^HTTP\/1\.1 200 OK\r\n/)
}

describe('interim (1xx) responses', () => {
  test('103 Early Hints before the final 200: the final response, framed by its own length', async () => {
    await keepsSync('/i103', { data: 'HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' }, 200, 'ok')
  })
  test('102 then 103 then 200, written in pieces', async () => {
    await keepsSync('/i10x', { data: 'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </b>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', splitAt: [10, 30, 70], splitDelayMs: 15 }, 200, 'ok')
  })
  test('an unsolicited 100 Continue: 502, the request sent upstream once (not retried: the upstream answered)', async () => {
    const o = await sequential(e.port, [script('/i100', { data: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' })])
    assert.deepEqual(o.statuses, [502])
    assert.equal(tries('/i100'), 1)
  })
  test('101 Switching Protocols to a request that asked for no upgrade: 502, once', async () => {
    const o = await sequential(e.port, [script('/i101', { data: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nraw' })])
    assert.deepEqual(o.statuses, [502])
    assert.equal(tries('/i101'), 1)
  })
})

describe('invalid response heads: 502, the client connection stays in sync', () => {
  const cases: Array<[string, string]> = [
    ['two different Content-Length fields', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk'],
    ['two equal Content-Length fields (nginx: duplicate header line)', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok'],
    ['Content-Length `+2`', 'HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok'],
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
    ['chunk size not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    ['chunk size overflowing', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n'],
    ['bare LF line ends', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok'],
    ['whitespace before a colon', 'HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\nok'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok'],
    ['NUL in a field value', 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok'],
    ['bare CR in a field value (response splitting attempt)', 'HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: x=1\r\nContent-Length: 2\r\n\r\nok'],
    ['status `2x0`', 'HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok'],
    ['not HTTP at all', 'NOT HTTP AT ALL\r\n\r\n'],
  ]
  let n = 0
  for (const [name, data] of cases) {
    const path = `/bad${n++}`
    test(name, async () => {
      await keepsSync(path, { data, close: true }, 502, MSG_502)
      assert.equal(tries(path), 1, 'a response that came back is not retried')
    })
  }
  test('the head cut short by a close: 502 (nginx retries this as an error; this route has retries)', async () => {
    await keepsSync('/cut-head', { data: 'HTTP/1.1 200 OK\r\nContent-Le', close: true }, 502, MSG_502)
  })
  test('no response at all, the connection closed: 502', async () => {
    await keepsSync('/nothing', { data: null, close: true }, 502, MSG_502)
  })
  test('a reset: 502', async () => {
    await keepsSync('/reset', { data: null, reset: true }, 502, MSG_502)
  })
  test('Transfer-Encoding other than chunked (nginx: 502)', async () => {
    await keepsSync('/te-gzip', { data: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok', close: true }, 502, MSG_502)
  })
})

describe('bodies that end wrong: the client connection is closed, never a complete-looking response', () => {
  test('fewer bytes than Content-Length, then close', async () => {
    await closesTruncated('/short', { data: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789', close: true })
  })
  test('chunked, closed before the last chunk', async () => {
    await closesTruncated('/short-chunked', { data: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', close: true })
  })
  test('an invalid chunk after the first one', async () => {
    await closesTruncated('/bad-chunk-late', { data: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nhello\r\n0\r\n\r\n', splitAt: [60], splitDelayMs: 30 })
  })
  test('chunk data not followed by CRLF', async () => {
    await closesTruncated('/chunk-nocrlf', { data: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n', splitAt: [50], splitDelayMs: 30 })
  })
})

describe('what an upstream leaves behind does not reach the next exchange', () => {
  test('bytes after a complete response', async () => {
    await keepsSync('/extra', { data: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra' }, 200, 'ok')
  })
  test('a body on a 204', async () => {
    await keepsSync('/204-body', { data: 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello' }, 204)
  })
  test('a body on a 304', async () => {
    await keepsSync('/304-body', { data: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello' }, 304)
  })
  test('a close-delimited HTTP/1.0 response goes to the client chunked', async () => {
    const o = await sequential(e.port, [script('/h10', { data: 'HTTP/1.0 200 OK\r\n\r\nbody until close', close: true }), `GET /h10/next HTTP/1.1\r\n${H}\r\n`])
    assert.deepEqual(o.statuses, [200, 200])
    assert.equal(headerOf(o.responses[0], 'transfer-encoding'), 'chunked')
    assert.equal(o.responses[0]!.body, 'body until close')
  })
  test('HEAD: the upstream Content-Length, no body', async () => {
    scripts.set('/head', { data: 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n' })
    const o = await sequential(e.port, [`HEAD /head HTTP/1.1\r\n${H}\r\n`, `GET /head/next HTTP/1.1\r\n${H}\r\n`], { heads: 1 })
    assert.deepEqual(o.statuses, [200, 200])
    assert.equal(headerOf(o.responses[0], 'content-length'), '1234')
    assert.equal(o.responses[1]!.body, 'seen GET /head/next')
  })
})

describe('the request as the upstream receives it', () => {
  test('Sluice\'s own request line and framing: a chunked client body arrives with one Content-Length, CRLF everywhere', async () => {
    const before = e.up.requests.length
    const o = await sequential(e.port, [`POST /up1 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n`])
    assert.deepEqual(o.statuses, [200])
    const r = e.up.requests.slice(before).find((x) => x.target === '/up1')!
    const head = r.raw.toString('latin1').split('\r\n\r\n')[0]!
    assert.match(head, /^POST \/up1 HTTP\/1\.1\r\n/)
    assert.equal(head.split('\r\n').filter((l) => /^(content-length|transfer-encoding):/i.test(l)).length, 1)
    assert.ok(!/[^\r]\n/.test(head), 'no bare LF')
    assert.equal(r.body.toString(), 'abcde')
    assert.deepEqual(e.up.violations, [])
  })
  test('a streamed body of unknown length goes up chunked, byte for byte', async () => {
    const before = e.up.requests.length
    const part = 'p'.repeat(40 * 1024)
    const o = await exchange(e.port, [
      `POST /up2 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${(40 * 1024).toString(16)}\r\n${part}\r\n`,
      `${(40 * 1024).toString(16)}\r\n${part}\r\n`,
      `${(40 * 1024).toString(16)}\r\n${part}\r\n0\r\n\r\n`,
    ], { gapMs: 40, responses: 1, holdMs: 3000 })
    assert.deepEqual(o.statuses, [200])
    await sleep(20)
    const r = e.up.requests.slice(before).find((x) => x.target === '/up2')!
    assert.equal(r.body.length, 3 * 40 * 1024)
    assert.ok(r.framing === 'chunked' || r.framing === 'length')
    assert.deepEqual(e.up.violations, [])
  })
})
