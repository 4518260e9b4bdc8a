/**
 * What the uWebSockets.js HTTP/1.1 parser itself does with hostile or unusual request bytes, on the
 * build this process loaded (reference/uws-edge.md's request-side table). A bare uWS app, loaded
 * through src/worker/uws-load.ts, answers 200 with what its handler saw; raw node:net sockets send
 * exact bytes. Each case asserts what THIS build does, per build (20.30 on Node 20 / Debian 12,
 * 20.57 on Node 24 / Debian 13 via `npm run test:modern`), so a change in either build shows up as
 * a failure here. An unknown build fails the first test: record its behaviour (UWS_EDGE_PRINT=1
 * prints what every case did) and add a column.
 *
 * "Held" means: no byte of response within HOLD_MS and the connection still open (uWS would close
 * it at its ~10 s idle timeout; that wait is not part of this suite).
 *
 * The process loads uWS with maxHeadersSize = LIMIT; uws-edge-default.test.ts covers the default.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import type { HttpRequest, HttpResponse, us_listen_socket } from 'uWebSockets.js'
import { loadUws, uwsInfo } from '../../src/worker/uws-load.ts'

const LIMIT = 16 * 1024
const HOLD_MS = 600
const uWS = loadUws({ maxHeadersSize: LIMIT })
const info = uwsInfo()
type Build = '20.30' | '20.57'
const BUILD: Build | null = info.build === '20.30.0-unofficial.0' ? '20.30' : info.build === '20.57.0' ? '20.57' : null

interface Seen { method: string; url: string; headers: string[]; body: string }
const seen: Seen[] = []
let listen: us_listen_socket | null = null
let port = 0

function reply (res: HttpResponse, s: Seen): void {
  res.cork(() => { res.writeStatus('200 OK').end(`${s.method} ${s.url} fields=${s.headers.length / 2} body=${s.body}`) })
}

function handler (res: HttpResponse, req: HttpRequest): void {
  const s: Seen = { method: req.getCaseSensitiveMethod(), url: req.getUrl(), headers: [], body: '' }
  req.forEach((k, v) => { s.headers.push(k, v) })
  seen.push(s)
  let aborted = false
  res.onAborted(() => { aborted = true })
  if (s.url.includes('/async')) {
    setTimeout(() => { if (!aborted) reply(res, s) }, 30)
    return
  }
  const framed = s.headers.some((v, i) => i % 2 === 0 && (v === 'content-length' || v === 'transfer-encoding'))
  if (!framed) { reply(res, s); return }
  const chunks: Buffer[] = []
  res.onData((ab, last) => {
    chunks.push(Buffer.from(ab.slice(0)))
    if (last) {
      s.body = Buffer.concat(chunks).toString('latin1')
      if (!aborted) reply(res, s)
    }
  })
}

before(async () => {
  await new Promise<void>((resolve, reject) => {
    uWS.App().any('/*', handler).listen('127.0.0.1', 0, (ls) => {
      if (ls === false) { reject(new Error('uWS could not listen')); return }
      listen = ls
      port = uWS.us_socket_local_port(ls as unknown as Parameters<typeof uWS.us_socket_local_port>[0])
      resolve()
    })
  })
})

after(() => { if (listen !== null) uWS.us_listen_socket_close(listen) })

interface Outcome {
  /** Status codes of every response line received, in order. */
  statuses: number[]
  /** After the last byte: closed by the server (or reset) within HOLD_MS, or still open. */
  state: 'closed' | 'open'
  /** What reached the handler for this case (method, target, body). */
  handled: string[]
}

/** Sends `data`, waits until the server closes or HOLD_MS passes, and reports what happened. */
function exchange (tag: string, data: string | Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    let text = ''
    let done = false
    const s = connect(port, '127.0.0.1', () => { s.write(data) })
    s.setEncoding('latin1')
    const finish = (state: Outcome['state']): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      s.destroy()
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]))
      const handled = seen.filter((x) => x.url.includes(`/${tag}/`) || x.url.endsWith(`/${tag}`))
        .map((x) => `${x.method} ${x.url}` + (x.body !== '' ? ` body=${x.body}` : ''))
      resolve({ statuses, state, handled })
    }
    const timer = setTimeout(() => finish('open'), HOLD_MS)
    s.on('data', (d: string) => { text += d })
    s.on('close', () => finish('closed'))
    s.on('error', () => finish('closed'))
  })
}

const H = 'Host: t\r\n'
const fields = (n: number): string => Array.from({ length: n }, (_, i) => `X-F${i}: v\r\n`).join('')
const pad = (total: number, prefix: string): string => `X-Pad: ${'a'.repeat(Math.max(0, total - prefix.length - 11))}\r\n`
function sized (tag: string, total: number): string {
  const head = `GET /${tag} HTTP/1.1\r\n${H}`
  return head + pad(total, head) + '\r\n'
}

const ok = (...handled: string[]): Outcome => ({ statuses: handled.map(() => 200), state: 'open', handled })
const held: Outcome = { statuses: [], state: 'open', handled: [] }
const closed: Outcome = { statuses: [], state: 'closed', handled: [] }
const refused = (status: number): Outcome => ({ statuses: [status], state: 'closed', handled: [] })

/** One outcome, or the ones a race between the handler's answer and the parser's allows. */
interface Case { name: string; tag: string; data: string | Buffer; expect: Record<Build, Outcome | Outcome[]> }

const cases: Case[] = [
  // Header field count (Host included in the count).
  { name: '48 header fields', tag: 'f48', data: `GET /f48 HTTP/1.1\r\n${H}${fields(47)}\r\n`, expect: { '20.30': ok('GET /f48'), '20.57': ok('GET /f48') } },
  { name: '49 header fields', tag: 'f49', data: `GET /f49 HTTP/1.1\r\n${H}${fields(48)}\r\n`, expect: { '20.30': held, '20.57': ok('GET /f49') } },
  { name: '98 header fields', tag: 'f98', data: `GET /f98 HTTP/1.1\r\n${H}${fields(97)}\r\n`, expect: { '20.30': held, '20.57': ok('GET /f98') } },
  { name: '99 header fields', tag: 'f99', data: `GET /f99 HTTP/1.1\r\n${H}${fields(98)}\r\n`, expect: { '20.30': held, '20.57': refused(431) } },
  // Head size, with the limit set to LIMIT through uws-load (20.57 honours it, 20.30 ignores it).
  { name: 'head of 8 KiB (under the configured limit)', tag: 'h8k', data: sized('h8k', 8 * 1024), expect: { '20.30': ok('GET /h8k'), '20.57': ok('GET /h8k') } },
  { name: 'head of 20 KiB (over the configured limit)', tag: 'h20k', data: sized('h20k', 20 * 1024), expect: { '20.30': ok('GET /h20k'), '20.57': refused(431) } },
  { name: 'head of 60 KiB', tag: 'h60k', data: sized('h60k', 60 * 1024), expect: { '20.30': ok('GET /h60k'), '20.57': refused(431) } },
  { name: 'head of 1 MiB', tag: 'h1m', data: sized('h1m', 1024 * 1024), expect: { '20.30': closed, '20.57': refused(431) } },
  // Versions and request-line forms.
  { name: 'valid HTTP/1.0 request', tag: 'v10', data: `GET /v10 HTTP/1.0\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },
  { name: 'absolute-form target', tag: 'abs', data: `GET http://t/abs HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },
  { name: 'HTTP/1.2', tag: 'v12', data: `GET /v12 HTTP/1.2\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },
  { name: 'HTTP/2.0 on an HTTP/1 connection', tag: 'v20', data: `GET /v20 HTTP/2.0\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },
  { name: 'HTTP/0.9 request line', tag: 'v09', data: 'GET /v09\r\n\r\n', expect: { '20.30': held, '20.57': refused(505) } },
  { name: 'two spaces after the method', tag: 'ds', data: `GET  /ds HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },
  // Line syntax.
  { name: 'bare LF line ends', tag: 'lf', data: `GET /lf HTTP/1.1\n${H.replace('\r', '')}\n`, expect: { '20.30': held, '20.57': refused(505) } },
  { name: 'bare CR line ends', tag: 'cr', data: 'GET /cr HTTP/1.1\rHost: t\r\r', expect: { '20.30': held, '20.57': refused(505) } },
  { name: 'bare CR inside a field value', tag: 'crv', data: `GET /crv HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, expect: { '20.30': held, '20.57': held } },
  { name: 'obs-fold continuation line', tag: 'fold', data: `GET /fold HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`, expect: { '20.30': held, '20.57': refused(400) } },
  { name: 'whitespace before the colon', tag: 'wsc', data: `GET /wsc HTTP/1.1\r\n${H}X-A : a\r\n\r\n`, expect: { '20.30': held, '20.57': refused(400) } },
  { name: 'NUL in a field value', tag: 'nul', data: `GET /nul HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n`, expect: { '20.30': held, '20.57': refused(400) } },
  { name: 'invalid method token G@T', tag: 'mt', data: `G@T /mt HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': closed, '20.57': ok('G@T /mt') } },
  // Host.
  { name: 'Host missing, another field present', tag: 'noh', data: 'GET /noh HTTP/1.1\r\nX-A: a\r\n\r\n', expect: { '20.30': closed, '20.57': refused(400) } },
  { name: 'Host missing, no field at all', tag: 'nof', data: 'GET /nof HTTP/1.1\r\n\r\n', expect: { '20.30': held, '20.57': refused(400) } },
  { name: 'Host repeated', tag: 'hh', data: 'GET /hh HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', expect: { '20.30': ok('GET /hh'), '20.57': refused(400) } },
  // Body framing.
  {
    name: 'two different Content-Length fields: framed by the first, the rest parsed as a request (smuggling)',
    tag: 'cl',
    data: `POST /cl HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\naGET /cl/smuggled HTTP/1.1\r\n${H}\r\n`,
    expect: { '20.30': ok('POST /cl body=a', 'GET /cl/smuggled'), '20.57': ok('POST /cl body=a', 'GET /cl/smuggled') },
  },
  { name: 'valid chunked body (control)', tag: 'ch', data: `POST /ch HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, expect: { '20.30': ok('POST /ch body=hello'), '20.57': ok('POST /ch body=hello') } },
  { name: 'Transfer-Encoding: xchunked alone', tag: 'xc', data: `POST /xc HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, expect: { '20.30': ok('POST /xc body=hello'), '20.57': ok('POST /xc body=hello') } },
  { name: 'chunk extension 5;ext=1', tag: 'cx', data: `POST /cx HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n`, expect: { '20.30': { statuses: [], state: 'closed', handled: ['POST /cx'] }, '20.57': { statuses: [400], state: 'closed', handled: ['POST /cx'] } } },
  { name: 'chunked body with a trailer field', tag: 'tr', data: `POST /tr HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n`, expect: { '20.30': ok('POST /tr body=hello'), '20.57': [
    // The handler answers 200 as the body ends; the parser then takes the trailer for a request line and
    // sends 505 and closes, sometimes before the corked 200 leaves.
    { statuses: [505], state: 'closed', handled: ['POST /tr body=hello'] },
    { statuses: [200, 505], state: 'closed', handled: ['POST /tr body=hello'] },
  ] } },
  // Pipelining.
  { name: 'two pipelined GETs answered synchronously (control)', tag: 'ps', data: `GET /ps/1 HTTP/1.1\r\n${H}\r\nGET /ps/2 HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': ok('GET /ps/1', 'GET /ps/2'), '20.57': ok('GET /ps/1', 'GET /ps/2') } },
  { name: 'two pipelined GETs answered asynchronously', tag: 'pa', data: `GET /pa/async/1 HTTP/1.1\r\n${H}\r\nGET /pa/async/2 HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': { statuses: [], state: 'closed', handled: ['GET /pa/async/1'] }, '20.57': { statuses: [], state: 'closed', handled: ['GET /pa/async/1'] } } },
]

test(`uWS build is one this suite knows (${info.package}, Node ${info.node}, glibc ${info.glibc ?? 'n/a'})`, () => {
  assert.ok(BUILD !== null, `unknown uWS build ${info.build}: run with UWS_EDGE_PRINT=1 and add its column to the table`)
  assert.equal(info.loaded, true)
  // 20.57 reads UWS_HTTP_MAX_HEADERS_SIZE (its binary names it); 20.30's limit is fixed in the binary.
  assert.equal(info.headerLimit.honoured, BUILD === '20.57')
  assert.equal(info.headerLimit.value, BUILD === '20.57' ? LIMIT : null)
})

describe(`request-side edge behaviour of uWS ${info.build}`, { concurrency: true }, () => {
  for (const c of cases) {
    test(c.name, async () => {
      const got = await exchange(c.tag, c.data)
      if (process.env.UWS_EDGE_PRINT !== undefined) process.stderr.write(`[${info.build}] ${c.name}: ${JSON.stringify(got)}\n`)
      if (BUILD === null) return
      const want = c.expect[BUILD]
      if (!Array.isArray(want)) assert.deepEqual(got, want)
      else assert.ok(want.some((w) => isDeepStrictEqual(got, w)), `${JSON.stringify(got)} is none of ${JSON.stringify(want)}`)
    })
  }
})
