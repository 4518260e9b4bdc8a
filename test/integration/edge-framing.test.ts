/**
 * Request framing at the edge, through real worker threads to a raw recording upstream
 * (RFC 9112 sections 2.2, 3, 5, 6, 7; nginx/Kong behaviour): Content-Length, Transfer-Encoding,
 * chunked body syntax, Host, request-target forms, versions, methods and field syntax. Every case
 * is sent as exact bytes on a new connection, alone and (where a refusal is expected) with a
 * request hidden behind it. Each asserts what the client got back, that the upstream saw exactly
 * the well-framed request(s) expected or none (`violations` stays empty: nothing smuggled), and
 * the gateway keeps serving.
 *
 * Cases marked "uWS" never reach Sluice's code on the pinned build: they document what the client
 * sees (README "Known limits at the edge"); a per-build expectation records both known builds.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { assertServing, BUILD, exchange, H, headerOf, startEdge, upstreamDuring, type Build, type Edge, type Outcome } from './edge-harness.ts'

let e: Edge

before(async () => { e = await startEdge() })
after(async () => { await e?.stop() })

interface Expect {
  statuses: number[]
  state: 'closed' | 'open'
  /** Targets the upstream receives, in order. */
  upstream: string[]
  /** Body the upstream receives for the first of them. */
  body?: string
}

interface Case {
  name: string
  data: string
  /** One expectation, one per build, or several a build may show. */
  expect: Expect | Record<Build, Expect | Expect[]>
  /** Also send a request hidden behind it, which must never reach the upstream. */
  hidden?: boolean
}

const refused = (status: number): Expect => ({ statuses: [status], state: 'closed', upstream: [] })
const closed: Expect = { statuses: [], state: 'closed', upstream: [] }
const held: Expect = { statuses: [], state: 'open', upstream: [] }
const proxied = (target: string, body?: string): Expect => ({ statuses: [200], state: 'open', upstream: [target], body })

const HIDDEN = `GET /smuggled HTTP/1.1\r\n${H}\r\n`
const chunked = (tag: string, body: string, extra = ''): string => `POST /${tag} HTTP/1.1\r\n${H}${extra}Transfer-Encoding: chunked\r\n\r\n${body}`

const cases: Case[] = [
  // Content-Length (RFC 9112 6.3, RFC 9110 8.6).
  { name: 'one Content-Length', data: `POST /cl1 HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello`, expect: proxied('/cl1', 'hello') },
  { name: 'two equal Content-Length fields: one value', data: `POST /cl2 HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, expect: proxied('/cl2', 'hello') },
  { name: 'two different Content-Length fields: 400', data: `POST /cl3 HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`, expect: refused(400), hidden: true },
  { name: 'Content-Length with leading zeros: forwarded as its canonical value', data: `POST /cl4 HTTP/1.1\r\n${H}Content-Length: 005\r\n\r\nhello`, expect: proxied('/cl4', 'hello') },
  {
    name: 'Content-Length list `5, 5` (uWS: not 1*DIGIT)',
    data: `POST /cl5 HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`,
    expect: { '20.30': closed, '20.57': refused(400) },
    hidden: true,
  },
  { name: 'Content-Length `+5` (uWS)', data: `POST /cl6 HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`, expect: { '20.30': closed, '20.57': refused(400) }, hidden: true },
  {
    name: 'Content-Length of 10 digits (uWS 20.30 frames at most 9)',
    data: `POST /cl7 HTTP/1.1\r\n${H}Content-Length: 0000000005\r\n\r\nhello`,
    expect: { '20.30': closed, '20.57': proxied('/cl7', 'hello') },
  },
  { name: 'Content-Length over 2^53 (uWS / Sluice)', data: `POST /cl8 HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\nhello`, expect: { '20.30': closed, '20.57': refused(400) }, hidden: true },

  // Transfer-Encoding (RFC 9112 6.1, 6.3; nginx: exactly `chunked`, else 501).
  { name: 'chunked body: re-framed with a Content-Length', data: chunked('te1', '5\r\nhello\r\n0\r\n\r\n'), expect: proxied('/te1', 'hello') },
  { name: 'Transfer-Encoding `Chunked`', data: `POST /te2 HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, expect: proxied('/te2', 'hello') },
  { name: 'Transfer-Encoding gzip: 501', data: `POST /te3 HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, expect: refused(501), hidden: true },
  { name: 'Transfer-Encoding `gzip, chunked`: 501 (nginx takes only `chunked`)', data: `POST /te4 HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, expect: refused(501), hidden: true },
  { name: 'Transfer-Encoding `chunked, gzip`: 501', data: `POST /te5 HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, expect: refused(501), hidden: true },
  { name: 'Transfer-Encoding xchunked: 501', data: `POST /te6 HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, expect: refused(501), hidden: true },
  { name: 'Transfer-Encoding twice: 400', data: `POST /te7 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, expect: refused(400), hidden: true },
  {
    name: 'Transfer-Encoding with Content-Length: 400 (uWS 20.30 closes first)',
    data: `POST /te8 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    expect: { '20.30': closed, '20.57': refused(400) },
    hidden: true,
  },

  // Chunked body syntax: parsed by uWS, never seen by Sluice (RFC 9112 7.1).
  { name: 'chunk size not hex (uWS)', data: chunked('ch1', 'zz\r\nhello\r\n0\r\n\r\n'), expect: { '20.30': closed, '20.57': refused(400) }, hidden: true },
  { name: 'chunk size overflowing 64 bits (uWS)', data: chunked('ch2', 'FFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n'), expect: { '20.30': closed, '20.57': refused(400) }, hidden: true },
  {
    name: 'valid chunk extension 5;ext=1 (uWS reads it as hex digits: closed)',
    data: chunked('ch3', '5;ext=1\r\nhello\r\n0\r\n\r\n'),
    expect: { '20.30': closed, '20.57': refused(400) },
  },
  {
    name: 'valid chunk extension 5;a=b (uWS reads a chunk of 0x5BADB bytes and waits for it)',
    data: chunked('ch4', '5;a=b\r\nhello\r\n0\r\n\r\n'),
    expect: { '20.30': held, '20.57': held },
  },
  { name: 'CR inside a chunk extension (uWS: misread size, waits)', data: chunked('ch5', '5;a=\rb\r\nhello\r\n0\r\n\r\n'), expect: { '20.30': held, '20.57': held } },
  { name: 'bare LF after the chunk size (uWS accepts)', data: chunked('ch6', '5\nhello\r\n0\r\n\r\n'), expect: proxied('/ch6', 'hello') },
  { name: 'chunk data not followed by CRLF (uWS skips two bytes)', data: chunked('ch7', '5\r\nhelloXX0\r\n\r\n'), expect: proxied('/ch7', 'hello') },
  {
    name: 'trailer field: body forwarded, trailer not (20.57 then reads the trailer as a request line)',
    data: chunked('ch8', '5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n'),
    expect: {
      '20.30': proxied('/ch8', 'hello'),
      // 20.57 reads the trailer as the next request line while the POST is pending: 505 and close,
      // which aborts the POST (usually before it was sent upstream).
      '20.57': [{ statuses: [505], state: 'closed', upstream: [] }, { statuses: [505], state: 'closed', upstream: ['/ch8'], body: 'hello' }, { statuses: [200, 505], state: 'closed', upstream: ['/ch8'], body: 'hello' }],
    },
  },
  {
    name: 'request hidden in a trailer section',
    data: chunked('ch9', '5\r\nhello\r\n0\r\nXX' + HIDDEN),
    expect: closed,
  },

  // Host (RFC 9112 3.2; ngx_http_validate_host).
  { name: 'Host missing (uWS 20.30 closes)', data: `GET /h1 HTTP/1.1\r\nX-A: a\r\n\r\n`, expect: { '20.30': closed, '20.57': refused(400) } },
  { name: 'Host repeated: 400', data: `GET /h2 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`, expect: refused(400), hidden: true },
  { name: 'Host empty: 400', data: `GET /h3 HTTP/1.1\r\nHost:\r\n\r\n`, expect: refused(400), hidden: true },
  { name: 'Host with `..`: 400', data: `GET /h4 HTTP/1.1\r\nHost: a..b\r\n\r\n`, expect: refused(400) },
  { name: 'Host with `/`: 400', data: `GET /h5 HTTP/1.1\r\nHost: a/b\r\n\r\n`, expect: refused(400) },
  { name: 'Host with a space: 400', data: `GET /h6 HTTP/1.1\r\nHost: a b\r\n\r\n`, expect: refused(400) },
  { name: 'Host `:80` (no host): 400', data: `GET /h7 HTTP/1.1\r\nHost: :80\r\n\r\n`, expect: refused(400) },
  { name: 'Host IP literal with port', data: `GET /h8 HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n`, expect: proxied('/h8') },
  { name: 'Host with a trailing dot', data: `GET /h9 HTTP/1.1\r\nHost: example.com.\r\n\r\n`, expect: proxied('/h9') },

  // Request-target forms and versions (RFC 9112 2.3, 3.2).
  { name: 'absolute-form target (uWS)', data: `GET http://t/abs HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },
  { name: 'asterisk-form OPTIONS * (uWS)', data: `OPTIONS * HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },
  { name: 'HTTP/1.0 request (uWS)', data: `GET /v10 HTTP/1.0\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },
  { name: 'HTTP/1.0 with Transfer-Encoding (uWS)', data: `POST /v10te HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, expect: { '20.30': held, '20.57': refused(505) } },

  // Methods (nginx: [A-Z_-]+).
  { name: 'method PURGE (uWS 20.30 routes nine methods only)', data: `PURGE /m1 HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': closed, '20.57': proxied('/m1') } },
  { name: 'method G@T', data: `G@T /m2 HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': closed, '20.57': refused(400) } },
  { name: 'lowercase method', data: `get /m3 HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': closed, '20.57': refused(400) } },

  // Field syntax.
  { name: 'underscore in a field name (uWS 20.30 cannot parse it: held; 20.57 passes it)', data: `GET /f1 HTTP/1.1\r\n${H}X_A: 1\r\n\r\n`, expect: { '20.30': held, '20.57': proxied('/f1') } },
]

function expected (c: Case): Expect[] {
  if ('statuses' in c.expect) return [c.expect as Expect]
  const per = (c.expect as Record<Build, Expect | Expect[]>)[BUILD ?? '20.30']
  return Array.isArray(per) ? per : [per]
}

function matches (got: Outcome, upstream: string[], w: Expect): boolean {
  return JSON.stringify(got.statuses) === JSON.stringify(w.statuses) && got.state === w.state &&
    JSON.stringify(upstream) === JSON.stringify(w.upstream)
}

describe('request framing', () => {
  test('uWS build is known', () => { assert.ok(BUILD !== null, 'unknown uWS build: add its column') })
  for (const c of cases) {
    test(c.name, async () => {
      let got: Outcome | undefined
      const seen = await upstreamDuring(e.up, async () => { got = await exchange(e.port, c.data) })
      const want = expected(c)
      const targets = seen.map((r) => r.target)
      if (process.env.EDGE_PRINT !== undefined) process.stderr.write(`[${BUILD}] ${c.name}: ${JSON.stringify({ statuses: got!.statuses, state: got!.state, upstream: targets })}\n`)
      assert.ok(want.some((w) => matches(got!, targets, w)),
        `got ${JSON.stringify({ statuses: got!.statuses, state: got!.state, upstream: targets })}, want one of ${JSON.stringify(want)}`)
      assert.equal(got!.leftover, '', 'every byte the client got belongs to a complete response')
      const w = want.find((x) => matches(got!, targets, x))!
      if (w.body !== undefined) {
        const r = seen[0]!
        assert.equal(r.body.toString('latin1'), w.body)
        // Re-framed by Sluice: one Content-Length or chunked, never the client's framing fields.
        assert.ok(r.framing === 'length' || r.framing === 'chunked')
      }
      if (got!.statuses.some((s) => s >= 400)) {
        const last = got!.responses[got!.responses.length - 1]!
        assert.equal(headerOf(last, 'connection'), 'close')
      }
      for (const r of seen) assert.equal(r.trailers.length, 0)
      for (const r of seen) assert.ok(!r.headers.some(([k]) => /^x-trailer$/i.test(k)), 'trailer fields never merge into the header section')
      assert.deepEqual(e.up.violations, [])
      if (c.hidden === true) {
        // The same bytes with a request hidden behind: nothing behind a refused request is read as one.
        const seen2 = await upstreamDuring(e.up, async () => { got = await exchange(e.port, c.data + HIDDEN) })
        assert.ok(!seen2.some((r) => r.target === '/smuggled'), 'the hidden request never reaches the upstream')
        assert.ok(got!.statuses.length <= 1, `at most the refusal is answered: ${JSON.stringify(got!.statuses)}`)
        assert.equal(got!.state, 'closed')
      }
    })
  }
  test('the gateway still serves after all of them', async () => { await assertServing(e, 'after-framing') })
})

describe('what reaches the upstream', () => {
  test('hop-by-hop fields and those Connection lists are not forwarded; the request line is Sluice\'s own', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, `GET /hop?a=b&c HTTP/1.1\r\n${H}Connection: keep-alive, X-Foo\r\nX-Foo: 1\r\nKeep-Alive: timeout=5\r\n` +
        'TE: trailers, deflate\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\nProxy: x\r\nX-Keep: yes\r\n\r\n', { responses: 1 })
      assert.deepEqual(o.statuses, [200])
    })
    assert.equal(seen.length, 1)
    const r = seen[0]!
    const names = r.headers.map(([k]) => k.toLowerCase())
    for (const n of ['x-foo', 'keep-alive', 'upgrade', 'proxy-connection', 'proxy', 'transfer-encoding', 'content-length']) assert.ok(!names.includes(n), n)
    assert.deepEqual(r.headers.filter(([k]) => k.toLowerCase() === 'te').map(([, v]) => v), ['trailers'])
    assert.ok(r.raw.toString('latin1').startsWith('GET /hop?a=b&c HTTP/1.1\r\n'))
    assert.equal(r.framing, 'none')
    assert.deepEqual(e.up.violations, [])
  })

  test('leading and trailing bytes >= 0x80 of a field value are stripped by uWS (x86-64)', async () => {
    const seen = await upstreamDuring(e.up, async () => {
      const o = await exchange(e.port, Buffer.concat([Buffer.from(`GET /utf HTTP/1.1\r\n${H}X-Name: `), Buffer.from('élan café', 'utf8'), Buffer.from('\r\n\r\n')]), { responses: 1 })
      assert.deepEqual(o.statuses, [200])
    })
    const v = seen[0]!.headers.find(([k]) => k.toLowerCase() === 'x-name')?.[1]
    if (process.arch === 'x64') assert.equal(Buffer.from(v ?? '', 'latin1').toString('utf8'), 'lan caf')
  })
})
