/**
 * Unit tests of the `net` transport's response parser (src/worker/transport/h1-parser.ts), below
 * the conformance suite: split-invariance over generated responses (every split gives the same
 * events as the whole message, fed through one reused scratch buffer that is overwritten after
 * every read, as the transport's shared read buffer is), and the rules where this parser is
 * stricter than llhttp (documented in the parser's header).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EV_BODY, EV_END, EV_ERROR, EV_HEAD, EV_NONE, ResponseParser } from '../../src/worker/transport/h1-parser.ts'

interface Parsed {
  heads: Array<{ status: number; reason: string; headers: Record<string, unknown> }>
  body: string
  trailers: Record<string, unknown> | null
  ended: boolean
  error: string | null
  keepAlive: boolean
  /** Bytes left after the end of the message. */
  extra: number
}

const SCRATCH = Buffer.alloc(64 * 1024)

/** Feeds `pieces` one by one through SCRATCH (garbage-filled after each), as a connection does. */
function parse (pieces: readonly Buffer[], isHead = false, eof = false): Parsed {
  const p = new ResponseParser()
  p.reset(isHead)
  const out: Parsed = { heads: [], body: '', trailers: null, ended: false, error: null, keepAlive: false, extra: 0 }
  for (const piece of pieces) {
    piece.copy(SCRATCH, 0)
    const end = piece.length
    let i = 0
    for (;;) {
      i = p.execute(SCRATCH, i, end)
      const ev = p.event
      if (ev === EV_NONE) break
      if (ev === EV_HEAD) out.heads.push({ status: p.status, reason: p.reason, headers: { ...p.headers } })
      else if (ev === EV_BODY) out.body += SCRATCH.toString('latin1', p.bodyStart, p.bodyEnd)
      else if (ev === EV_END) { out.ended = true; out.trailers = { ...p.trailers }; out.keepAlive = p.keepAlive; out.extra += end - i; break }
      else if (ev === EV_ERROR) { out.error = p.errorCode; return out }
    }
    SCRATCH.fill(0x5a, 0, end)
    if (out.ended) continue
  }
  if (eof && !out.ended && out.error === null) {
    p.finish()
    if (p.event === EV_END) { out.ended = true; out.trailers = { ...p.trailers } } else if (p.event === EV_ERROR) out.error = p.errorCode
  }
  return out
}

const whole = (s: string, isHead = false, eof = false): Parsed => parse([Buffer.from(s, 'latin1')], isHead, eof)

/** A deterministic pseudo-random generator (xorshift32). */
function rng (seed: number): () => number {
  let x = seed || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 0x100000000
  }
}

function genResponse (r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
  const word = (n: number): string => Array.from({ length: n }, () => pick('abcdefghijklmnopqrstuvwxyz0123456789-'.split(''))).join('')
  let s = ''
  if (r() < 0.2) s += 'HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n'
  const status = pick([200, 201, 404, 500, 299])
  s += `HTTP/1.${r() < 0.1 ? 0 : 1} ${status} ${pick(['OK', 'Not Found', 'Whatever Reason', ''])}\r\n`
  const nh = Math.floor(r() * 6)
  const mixCase = (n: string): string => n.split('').map((ch) => (r() < 0.5 ? ch.toUpperCase() : ch)).join('')
  for (let i = 0; i < nh; i++) {
    // Known names (interned by the parser) in any case, and unknown ones.
    const name = r() < 0.5 ? mixCase(pick(['content-type', 'date', 'server', 'cache-control', 'set-cookie', 'x-request-id', 'etag', 'vary'])) : `x-${word(1 + Math.floor(r() * 8))}`
    s += `${name}:${pick(['', ' ', '\t'])}${word(Math.floor(r() * 20))}${pick(['', ' '])}\r\n`
  }
  const body = word(Math.floor(r() * 200))
  if (r() < 0.5) {
    s += `Content-Length: ${body.length}\r\n\r\n${body}`
  } else {
    s += 'Transfer-Encoding: chunked\r\n\r\n'
    let i = 0
    while (i < body.length) {
      const n = Math.min(body.length - i, 1 + Math.floor(r() * 40))
      s += `${n.toString(16)}${r() < 0.3 ? ';ext=' + word(3) : ''}\r\n${body.slice(i, i + n)}\r\n`
      i += n
    }
    s += `0\r\n${r() < 0.5 ? `x-trailer: ${word(5)}\r\n` : ''}\r\n`
  }
  return s
}

describe('h1-parser', () => {
  it('split invariance: 400 generated responses, each at 1-6 random split points and byte by byte', () => {
    const r = rng(12345)
    for (let n = 0; n < 400; n++) {
      const s = genResponse(r)
      const b = Buffer.from(s, 'latin1')
      const ref = parse([b])
      assert.equal(ref.error, null, `${JSON.stringify(s)}: ${ref.error}`)
      assert.equal(ref.ended, true, JSON.stringify(s))
      const k = 1 + Math.floor(r() * 6)
      const cuts = [...new Set(Array.from({ length: k }, () => 1 + Math.floor(r() * (b.length - 1))))].sort((x, y) => x - y)
      const pieces: Buffer[] = []
      let prev = 0
      for (const c of [...cuts, b.length]) { pieces.push(b.subarray(prev, c)); prev = c }
      assert.deepEqual(parse(pieces), ref, `split at ${cuts.join(',')}: ${JSON.stringify(s)}`)
      if (n % 20 === 0) {
        const bytes = Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1))
        assert.deepEqual(parse(bytes), ref, `byte by byte: ${JSON.stringify(s)}`)
      }
    }
  })

  it('field names come out lower-case, known or not', () => {
    const out = whole('HTTP/1.1 200 OK\r\nCONTENT-TYPE: a\r\nContent-Typf: b\r\nX-Odd_Name: c\r\nSet-Cookie: 1\r\nset-COOKIE: 2\r\ncontent-length: 0\r\n\r\n')
    assert.deepEqual(out.heads[0]!.headers, { 'content-type': 'a', 'content-typf': 'b', 'x-odd_name': 'c', 'set-cookie': ['1', '2'], 'content-length': '0' })
  })

  it('two responses in one read: the first ends, the rest is left over', () => {
    const out = whole('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
    assert.equal(out.ended, true)
    assert.equal(out.body, 'ok')
    assert.equal(out.extra, 38)
  })

  it('keep-alive rules', () => {
    assert.equal(whole('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n').keepAlive, true)
    assert.equal(whole('HTTP/1.1 200 OK\r\nConnection: Close\r\ncontent-length: 0\r\n\r\n').keepAlive, false)
    assert.equal(whole('HTTP/1.1 200 OK\r\nconnection: foo, close\r\ncontent-length: 0\r\n\r\n').keepAlive, false)
    assert.equal(whole('HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n').keepAlive, false)
    assert.equal(whole('HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n').keepAlive, true)
    assert.equal(whole('HTTP/1.1 200 OK\r\n\r\nabc', false, true).keepAlive, false)
  })

  it('Keep-Alive: timeout=N is read', () => {
    const p = new ResponseParser()
    p.reset(false)
    const b = Buffer.from('HTTP/1.1 200 OK\r\nKeep-Alive: max=5, timeout=7\r\ncontent-length: 0\r\n\r\n')
    p.execute(b, 0, b.length)
    assert.equal(p.event, EV_HEAD)
    assert.equal(p.keepAliveTimeout, 7000)
  })

  it('HEAD response: no body even with chunked framing fields', () => {
    const out = whole('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n', true)
    assert.equal(out.ended, true)
    assert.equal(out.body, '')
  })

  it('leading CRLF before the status line is skipped (as llhttp)', () => {
    assert.equal(whole('\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n').ended, true)
  })

  describe('stricter than llhttp', () => {
    const cases: Array<[string, string, string]> = [
      ['HTTP/2.0 version', 'HTTP/2.0 200 OK\r\ncontent-length: 0\r\n\r\n', 'HPE_INVALID_VERSION'],
      ['HTTP/0.9 version', 'HTTP/0.9 200 OK\r\ncontent-length: 0\r\n\r\n', 'HPE_INVALID_VERSION'],
      ['CTL in the reason phrase', 'HTTP/1.1 200 O\x01K\r\ncontent-length: 0\r\n\r\n', 'HPE_INVALID_STATUS'],
      ['status 099', 'HTTP/1.1 099 X\r\ncontent-length: 0\r\n\r\n', 'HPE_INVALID_STATUS'],
      ['Content-Length above 2^53-1', 'HTTP/1.1 200 OK\r\ncontent-length: 9007199254740993\r\n\r\n', 'HPE_INVALID_CONTENT_LENGTH'],
      ['bare CR at the end of the status line', 'HTTP/1.1 200 OK\rX\r\ncontent-length: 0\r\n\r\n', 'HPE_CR_EXPECTED'],
      ['chunk size above 2^53-1', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n40000000000000\r\n', 'HPE_INVALID_CHUNK_SIZE'],
      ['a 5 KiB chunk-size line', `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;${'a'.repeat(5000)}\r\nx\r\n0\r\n\r\n`, 'HPE_INVALID_CHUNK_SIZE'],
      ['trailer section over 16 KiB', `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nx: ${'a'.repeat(17000)}\r\n\r\n`, 'HPE_HEADER_OVERFLOW'],
    ]
    for (const [what, bytes, code] of cases) {
      it(what, () => { assert.equal(whole(bytes).error, code) })
    }

    it('trailing whitespace of a field value is not part of it (RFC 9112 5)', () => {
      const out = whole('HTTP/1.1 200 OK\r\nx-a:  v w \t\r\ncontent-length: 2 \r\n\r\nok')
      assert.equal(out.heads[0]!.headers['x-a'], 'v w')
      assert.equal(out.body, 'ok')
    })
  })

  it('EOF: completes read-until-close, fails anything else', () => {
    assert.equal(whole('HTTP/1.1 200 OK\r\n\r\nabc', false, true).ended, true)
    assert.equal(whole('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nabc', false, true).error, 'HPE_INVALID_EOF_STATE')
    assert.equal(whole('HTTP/1.1 200 OK\r\ncontent-le', false, true).error, 'HPE_INVALID_EOF_STATE')
    assert.equal(whole('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab', false, true).error, 'HPE_INVALID_EOF_STATE')
  })

  it('the parser keeps no reference to the buffers it was given', () => {
    const s = 'HTTP/1.1 200 OK\r\nx-long: ' + 'v'.repeat(3000) + '\r\ncontent-length: 3\r\n\r\nabc'
    const b = Buffer.from(s)
    const pieces = [b.subarray(0, 10), b.subarray(10, 1500), b.subarray(1500, 2990), b.subarray(2990)]
    const out = parse(pieces)
    assert.equal(out.ended, true)
    assert.equal(out.heads[0]!.headers['x-long'], 'v'.repeat(3000))
    assert.equal(out.body, 'abc')
  })
})
