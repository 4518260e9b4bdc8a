/**
 * A systematic request-smuggling and malformed-input checklist (RFC 9112 sections 2-7, RFC 9110
 * sections 5, 7.2, 7.6.1, 8.6, 10.1.1; the classic desync classes), run through a real worker thread
 * against a raw recording upstream (test/helpers/raw-upstream.ts, whose strict parser records any
 * mis-framed byte as a violation).
 *
 * The gateway routes only `/api`: a case sent to `/api/<id>` is proxied (answered later, from the
 * upstream), a case sent to `/<id>` is answered by the gateway itself on the spot (404 no route).
 * That difference matters on uWebSockets.js: a request pipelined behind a pending (proxied) request
 * makes uWS close the connection, while one behind a request already answered is served. A gateway
 * answer to a request with a chunked body is therefore held one turn and closes (responses.ts
 * holdLocalAnswer): what uWS's lenient chunked framing leaves behind finds the request pending.
 *
 * Every case is exact bytes on a new connection, and asserts per uWS build (20.30 on Node 20 /
 * Debian 12; 20.57 via `npm run test:modern`): the statuses the client got, whether the gateway
 * closed the connection, which requests reached the upstream (`req`: the case's own, `smuggled`: a
 * request hidden behind it) and that every byte the client got belongs to a complete response. The
 * upstream must never see a violation (one framing per request: a single Content-Length or chunked),
 * and the worker must never exit. `kong` records what Kong 3.10 (nginx 1.27) answers, for the README
 * table; where a build differs from it, the README's "Known limits at the edge" says so.
 *
 * `todo` cases are known failures whose fix is outside the edge (their reason names where); none now.
 * EDGE_PRINT=1 prints every case's outcome as a checklist row.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import type { RawRequest } from '../helpers/raw-upstream.ts'
import { route, service, snapshot } from '../helpers/worker-harness.ts'
import { assertServing, BUILD, exchange, H, headerOf, sleep, startEdge, type Build, type Edge, type Outcome } from './edge-harness.ts'

let e: Edge
let workerExited = false

before(async () => {
  e = await startEdge()
  const svc = service({ host: '127.0.0.1', port: e.up.port, retries: 0 })
  await e.h.publish(snapshot([svc], [route({ paths: ['/api'], strip_path: false }, svc)]))
  for (const w of e.h.workers) void w.exited.then(() => { workerExited = true })
})
after(async () => { await e?.stop() })

type Label = 'req' | 'smuggled'
interface Want {
  statuses: number[]
  state: 'closed' | 'open'
  /** What reached the upstream, in order. */
  upstream: Label[]
  /** Body the upstream received for `req`. */
  body?: string
}
type PerBuild = Record<Build, Want | Want[]>

interface Case {
  id: string
  /** What the case is (RFC section or desync class). */
  name: string
  /** What Kong 3.10 answers (documentation, for the README table). */
  kong: string
  /** The bytes: `p` is the request's own path, `hid` a request to hide behind it. */
  data: (p: string, hid: string) => string | Buffer
  /** true: sent to `/api/<id>` (proxied); false: to `/<id>` (answered by the gateway). */
  proxied: boolean
  expect: Want | PerBuild
  heads?: number
  /** Extra assertion on what the upstream got for `req`. */
  check?: (r: RawRequest) => void
  /** A uWS parser behaviour JavaScript never sees (README "Known limits at the edge"): asserted as it is, per build. */
  limit?: boolean
  /** A known failure outside the edge: the reason, where the fix belongs. */
  todo?: string
}

const ok = (body?: string): Want => ({ statuses: [200], state: 'open', upstream: ['req'], body })
const refused = (status: number): Want => ({ statuses: [status], state: 'closed', upstream: [] })
/** uWS closes at once, no response. */
const closed: Want = { statuses: [], state: 'closed', upstream: [] }
/** uWS keeps the bytes and answers nothing (until its idle timeout, 8-12 s on 20.30). */
const held: Want = { statuses: [], state: 'open', upstream: [] }
const both = (w: Want): PerBuild => ({ '20.30': w, '20.57': w })

const post = (p: string, framing: string, body: string): string => `POST ${p} HTTP/1.1\r\n${H}${framing}\r\n${body}`
const chunkedPost = (p: string, body: string, te = 'chunked'): string => post(p, `Transfer-Encoding: ${te}\r\n`, body)
const get = (p: string, extra = '', line = 'HTTP/1.1'): string => `GET ${p} ${line}\r\n${H}${extra}\r\n`
const field = (p: string, f: string): string => `GET ${p} HTTP/1.1\r\n${H}${f}\r\n\r\n`
const hdr = (r: RawRequest, name: string): string[] => r.headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v)

/**
 * A request with a chunked body that the gateway answers itself (404, 405, a plugin's exit) is
 * answered one turn later and closed (responses.ts holdLocalAnswer): uWS frames chunked bodies
 * leniently, and bytes it parses as a next request behind a pending request make it close the
 * connection (the client then gets no status), where behind a request already answered they
 * would be dispatched to the upstream.
 */
const HELD_CLOSED: Want = { statuses: [], state: 'closed', upstream: [] }

const cases: Case[] = [
  // ---- Content-Length (RFC 9112 6.2, 6.3; RFC 9110 8.6)
  { id: 'cl-neg', name: 'Content-Length -5', kong: '400', proxied: true, data: (p) => post(p, 'Content-Length: -5\r\n', 'hello'), expect: { '20.30': closed, '20.57': refused(400) } },
  { id: 'cl-hex', name: 'Content-Length 0x5', kong: '400', proxied: true, data: (p) => post(p, 'Content-Length: 0x5\r\n', 'hello'), expect: { '20.30': closed, '20.57': refused(400) } },
  { id: 'cl-inner-sp', name: 'Content-Length `5 5`', kong: '400', proxied: true, data: (p) => post(p, 'Content-Length: 5 5\r\n', 'hello'), expect: { '20.30': closed, '20.57': refused(400) } },
  { id: 'cl-ows', name: 'Content-Length with trailing SP / leading HTAB (OWS)', kong: '200', proxied: true, data: (p) => post(p, 'Content-Length:\t5 \r\n', 'hello'), expect: ok('hello') },
  { id: 'cl-empty', name: 'Content-Length empty', kong: '400', proxied: true, data: (p) => post(p, 'Content-Length:\r\n', 'hello'), expect: refused(400) },
  { id: 'cl-0-5', name: 'Content-Length 0 then 5', kong: '400', proxied: true, data: (p, hid) => post(p, 'Content-Length: 0\r\nContent-Length: 5\r\n', 'hello' + hid), expect: closed },
  { id: 'cl-ws-colon', name: '`Content-Length : 5` (space before the colon)', kong: '400', proxied: true, data: (p) => post(p, 'Content-Length : 5\r\n', 'hello'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'cl-fold', name: 'Content-Length value on an obs-fold line', kong: '400', proxied: true, data: (p) => post(p, 'Content-Length:\r\n 5\r\n', 'hello'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'cl-get', name: 'GET with a Content-Length body: forwarded with its length', kong: '200', proxied: true, data: (p) => post(p, 'Content-Length: 5\r\n', 'hello').replace('POST', 'GET'), expect: ok('hello'), check: (r) => assert.deepEqual(hdr(r, 'content-length'), ['5']) },
  { id: 'cl-get-hidden', name: 'GET whose Content-Length body is a request: one request', kong: '404', proxied: false, data: (p, hid) => `GET ${p} HTTP/1.1\r\n${H}Content-Length: ${hid.length}\r\n\r\n${hid}`, expect: { statuses: [404], state: 'open', upstream: [] } },
  { id: 'cl-head', name: 'HEAD with a Content-Length body', kong: '200', proxied: true, heads: 1, data: (p) => post(p, 'Content-Length: 5\r\n', 'hello').replace('POST', 'HEAD'), expect: ok('hello') },

  // ---- Transfer-Encoding (RFC 9112 6.1, 6.3; nginx: exactly `chunked`, else 501)
  { id: 'te-identity', name: 'Transfer-Encoding `chunked, identity`', kong: '501', proxied: true, data: (p, hid) => chunkedPost(p, '5\r\nhello\r\n0\r\n\r\n' + hid, 'chunked, identity'), expect: closed },
  { id: 'te-identity-only', name: 'Transfer-Encoding `identity`', kong: '501', proxied: true, data: (p, hid) => chunkedPost(p, '5\r\nhello\r\n0\r\n\r\n' + hid, 'identity'), expect: closed },
  { id: 'te-leading-comma', name: 'Transfer-Encoding `,chunked`', kong: '501', proxied: true, data: (p) => chunkedPost(p, '5\r\nhello\r\n0\r\n\r\n', ',chunked'), expect: refused(501) },
  { id: 'te-quoted', name: 'Transfer-Encoding `"chunked"`', kong: '501', proxied: true, data: (p) => chunkedPost(p, '5\r\nhello\r\n0\r\n\r\n', '"chunked"'), expect: refused(501) },
  { id: 'te-ows', name: 'Transfer-Encoding with HTAB / trailing SP (OWS)', kong: '200', proxied: true, data: (p) => post(p, 'Transfer-Encoding:\tchunked \r\n', '5\r\nhello\r\n0\r\n\r\n'), expect: ok('hello') },
  { id: 'te-vt', name: 'Transfer-Encoding `chunked<VT>`', kong: '501', proxied: true, data: (p) => chunkedPost(p, '5\r\nhello\r\n0\r\n\r\n', 'chunked\x0b'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'te-ws-colon', name: '`Transfer-Encoding : chunked` (space before the colon)', kong: '400', proxied: true, data: (p) => post(p, 'Transfer-Encoding : chunked\r\n', '5\r\nhello\r\n0\r\n\r\n'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'te-fold', name: 'Transfer-Encoding on an obs-fold line', kong: '400', proxied: true, data: (p) => post(p, 'Transfer-Encoding:\r\n chunked\r\n', '5\r\nhello\r\n0\r\n\r\n'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'te-fold-list', name: 'Transfer-Encoding `gzip` + obs-fold `,chunked`', kong: '400', proxied: true, data: (p) => post(p, 'Transfer-Encoding: gzip\r\n ,chunked\r\n', '5\r\nhello\r\n0\r\n\r\n'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'te-cl0-first', name: 'Content-Length: 0 then Transfer-Encoding: chunked', kong: '400', proxied: true, data: (p, hid) => post(p, 'Content-Length: 0\r\nTransfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\n\r\n' + hid), expect: { '20.30': closed, '20.57': refused(400) } },
  { id: 'te-cl0-after', name: 'Transfer-Encoding: chunked then Content-Length: 0', kong: '400', proxied: true, data: (p, hid) => post(p, 'Transfer-Encoding: chunked\r\nContent-Length: 0\r\n', '5\r\nhello\r\n0\r\n\r\n' + hid), expect: { '20.30': closed, '20.57': refused(400) } },
  { id: 'te-underscore', name: '`Transfer_Encoding: chunked` (underscore)', kong: 'an ordinary field (underscores_in_headers on), proxied; frames nothing', proxied: true, data: (p) => post(p, 'Transfer_Encoding: chunked\r\n', '5\r\nhello\r\n0\r\n\r\n'), expect: { '20.30': held, '20.57': ok('') }, check: (r) => { assert.deepEqual(hdr(r, 'transfer_encoding'), ['chunked']); assert.deepEqual(hdr(r, 'transfer-encoding'), []) } },
  { id: 'name-underscore', name: '`X_Foo: 1` (underscore: Kong sets `underscores_in_headers on`)', kong: 'proxied, 200', proxied: true, data: (p) => field(p, 'X_Foo: 1'), expect: { '20.30': held, '20.57': ok() }, check: (r) => assert.deepEqual(hdr(r, 'x_foo'), ['1']) },
  { id: 'te-get', name: 'GET with a chunked body: forwarded with a Content-Length', kong: '200', proxied: true, data: (p) => chunkedPost(p, '5\r\nhello\r\n0\r\n\r\n').replace('POST', 'GET'), expect: ok('hello'), check: (r) => assert.equal(r.framing, 'length') },

  // ---- Chunked coding (RFC 9112 7.1); parsed by uWS, never seen by Sluice
  { id: 'ch-neg', name: 'chunk size -5', kong: '400', proxied: true, data: (p) => chunkedPost(p, '-5\r\nhello\r\n0\r\n\r\n'), expect: { '20.30': closed, '20.57': refused(400) } },
  { id: 'ch-0x', name: 'chunk size 0x5', kong: '400', proxied: true, data: (p) => chunkedPost(p, '0x5\r\nhello\r\n0\r\n\r\n'), expect: { '20.30': closed, '20.57': refused(400) } },
  { id: 'ch-lead-sp', name: 'chunk size ` 5` (leading SP: uWS reads a last chunk)', kong: '400', proxied: true, data: (p) => chunkedPost(p, ' 5\r\nhello\r\n0\r\n\r\n'), expect: ok('') },
  { id: 'ch-lead-sp-hidden', name: 'chunk size ` 5` with a request hidden as its data', kong: '400', proxied: true, data: (p, hid) => chunkedPost(p, ' 5\r\n\r\n' + hid), expect: closed },
  { id: 'ch-trail-junk', name: 'chunk size `5 junk` (uWS skips to the LF)', kong: '400', proxied: true, data: (p) => chunkedPost(p, '5 junk\r\nhello\r\n0\r\n\r\n'), expect: ok('hello') },
  { id: 'ch-zeros', name: 'chunk size with 20 leading zeros', kong: '200', proxied: true, data: (p) => chunkedPost(p, '000000000000000000005\r\nhello\r\n0\r\n\r\n'), expect: ok('hello') },
  { id: 'ch-ext-quoted', name: 'chunk extension with a quoted `;`', kong: '200', proxied: true, data: (p) => chunkedPost(p, '5;a="b;c"\r\nhello\r\n0\r\n\r\n'), expect: { '20.30': closed, '20.57': refused(400) } },
  { id: 'ch-ext-lf', name: 'bare LF inside a chunk extension', kong: '400', proxied: true, data: (p) => chunkedPost(p, '5;a\nb\r\nhello\r\n0\r\n\r\n'), expect: held },
  { id: 'ch-last-00', name: 'last chunk `00`', kong: '200', proxied: true, data: (p) => chunkedPost(p, '5\r\nhello\r\n00\r\n\r\n'), expect: ok('hello') },
  { id: 'ch-no-final-crlf', name: 'no CRLF after the last chunk (uWS ends the body at `0\\r\\n`)', kong: 'waits for it', proxied: true, data: (p) => chunkedPost(p, '5\r\nhello\r\n0\r\n'), expect: ok('hello') },
  { id: 'ch-no-final-crlf-hidden', name: 'a request right after `0\\r\\n`', kong: '400', proxied: true, data: (p, hid) => chunkedPost(p, '5\r\nhello\r\n0\r\n' + hid), expect: closed },
  { id: 'ch-long-data', name: 'chunk data longer than its size (uWS skips 2 bytes)', kong: '400', proxied: true, data: (p) => chunkedPost(p, '3\r\nhello\r\n0\r\n\r\n'), expect: ok('hel') },
  { id: 'ch-long-data-hidden', name: 'a request inside over-long chunk data', kong: '400', proxied: true, data: (p, hid) => chunkedPost(p, '3\r\nhelXX' + hid + '0\r\n\r\n'), expect: { '20.30': closed, '20.57': refused(400) } },
  { id: 'ch-data-lf', name: 'chunk data followed by a bare LF', kong: '400', proxied: true, data: (p) => chunkedPost(p, '5\r\nhello\n0\r\n\r\n'), expect: ok('hello') },
  {
    id: 'ch-trailer-framing',
    name: 'trailer fields Content-Length / Transfer-Encoding / Host: never merged',
    kong: '200',
    proxied: true,
    data: (p) => chunkedPost(p, '5\r\nhello\r\n0\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\nHost: evil\r\n\r\n'),
    // 20.57 reads the trailer section (after skipping 2 bytes) as a request line: 505 and close,
    // which aborts the POST before or after it was sent upstream.
    expect: { '20.30': ok('hello'), '20.57': [refused(505), { statuses: [505], state: 'closed', upstream: ['req'], body: 'hello' }, { statuses: [200, 505], state: 'closed', upstream: ['req'], body: 'hello' }] },
    check: (r) => { assert.equal(hdr(r, 'host').length, 1); assert.ok(!hdr(r, 'host')[0]!.includes('evil')); assert.deepEqual(hdr(r, 'content-length'), ['5']) },
  },

  // ---- Line endings, control bytes (RFC 9112 2.2, 3; RFC 9110 5.5)
  { id: 'lf-only', name: 'bare LF line ends', kong: '200 (nginx accepts LF)', proxied: true, data: (p) => `GET ${p} HTTP/1.1\nHost: t\n\n`, expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'lf-mixed', name: 'one field line ended by a bare LF', kong: '200', proxied: true, data: (p) => `GET ${p} HTTP/1.1\r\nHost: t\nX-A: 1\r\n\r\n`, expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'cr-name', name: 'bare CR inside a field name', kong: '400', proxied: true, data: (p) => field(p, 'X\rA: 1'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'ctl-value', name: 'control byte 0x01 in a field value', kong: '200', proxied: true, data: (p) => field(p, 'X-A: a\x01b'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'esc-value', name: 'ESC in a field value', kong: '200', proxied: true, data: (p) => field(p, 'X-A: a\x1bb'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'del-value', name: 'DEL in a field value (refused by the upstream client)', kong: '200', proxied: true, data: (p) => field(p, 'X-A: a\x7fb'), expect: refused(400) },
  { id: 'tab-value', name: 'HTAB inside a field value (valid)', kong: '200', proxied: true, data: (p) => field(p, 'X-A: a\tb'), expect: ok(), check: (r) => assert.deepEqual(hdr(r, 'x-a'), ['a\tb']) },
  { id: 'nul-value', name: 'NUL in a field value', kong: '400', proxied: true, data: (p) => field(p, 'X-A: a\0b'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'nul-target', name: 'NUL in the target', kong: '400', proxied: true, data: (p) => get(`${p}\0x`), expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'ctl-target', name: 'control byte 0x01 in the target', kong: '400', proxied: true, data: (p) => get(`${p}\x01x`), expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'del-target', name: 'DEL in the target', kong: '400', proxied: true, data: (p) => get(`${p}\x7fx`), expect: refused(400) },
  { id: 'tab-target', name: 'HTAB in the target', kong: '400', proxied: true, data: (p) => get(`${p}\tx`), expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'sp-target', name: 'SP in the target (three tokens and more)', kong: '400', proxied: true, data: (p) => get(`${p} x`), expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'frag-target', name: '`#` fragment in the target: forwarded as sent', kong: '200', proxied: true, data: (p) => get(`${p}#f`), expect: ok() },
  { id: 'rel-target', name: 'target not starting with `/`', kong: '400', proxied: true, data: () => `GET api HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },

  // ---- Field names (RFC 9110 5.1: token; nginx: space/CTL 400, other bytes ignored)
  { id: 'name-space', name: 'SP inside a field name', kong: '400', proxied: true, data: (p) => field(p, 'X A: 1'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'name-paren', name: '`(` in a field name', kong: 'field ignored, 200', proxied: true, data: (p) => field(p, 'X(A): 1'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'name-ctl', name: 'control byte in a field name', kong: '400', proxied: true, data: (p) => field(p, 'X\x01A: 1'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'name-high', name: 'byte 0xE9 in a field name', kong: 'field ignored, 200', proxied: true, data: (p) => Buffer.from(field(p, 'X\xe9A: 1'), 'latin1'), expect: { '20.30': held, '20.57': refused(400) } },
  { id: 'name-token', name: 'field name of token characters `X.A~!#$%&\'*+^`|`', kong: '200', proxied: true, data: (p) => field(p, 'X.A~!#$%&\'*+^`|: 1'), expect: { '20.30': held, '20.57': ok() } },
  { id: 'name-empty', name: 'empty field name `: 1`', kong: '400', proxied: true, data: (p) => field(p, ': 1'), expect: ok() },
  {
    id: 'name-empty-cl',
    name: 'empty field name before Content-Length, request hidden in the body, behind a 404 (known limit: uWS ends the header section at the empty name, the body is read as the next request)',
    kong: '400',
    proxied: false,
    limit: true,
    data: (p, hid) => `POST ${p} HTTP/1.1\r\n${H}: x\r\nContent-Length: ${hid.length}\r\n\r\n${hid}`,
    expect: { '20.30': { statuses: [404, 200], state: 'open', upstream: ['smuggled'] }, '20.57': { statuses: [404, 200], state: 'open', upstream: ['smuggled'] } },
  },
  { id: 'no-colon', name: 'field line without a colon', kong: '200 (nginx: empty value)', proxied: true, data: (p) => field(p, 'XA'), expect: { '20.30': held, '20.57': refused(400) } },

  // ---- Request line and versions (RFC 9112 2.3, 3; RFC 9110 2.5)
  { id: 'v-lower', name: '`http/1.1` (lowercase)', kong: '400', proxied: true, data: (p) => get(p, '', 'http/1.1'), expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'v-1.10', name: '`HTTP/1.10`', kong: '400', proxied: true, data: (p) => get(p, '', 'HTTP/1.10'), expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'v-01.1', name: '`HTTP/01.1`', kong: '400', proxied: true, data: (p) => get(p, '', 'HTTP/01.1'), expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'v-trail-sp', name: 'SP after the version', kong: '400', proxied: true, data: (p) => get(p, '', 'HTTP/1.1 '), expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'v-none', name: 'no version (HTTP/0.9 form) followed by fields', kong: '400', proxied: true, data: (p) => `GET ${p}\r\n${H}\r\n`, expect: held },
  { id: 'extra-token', name: 'a fourth token on the request line', kong: '400', proxied: true, data: (p) => get(p, '', 'HTTP/1.1 x'), expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'lead-crlf', name: 'an empty line before the request line (RFC 9112 2.2: SHOULD ignore)', kong: '200', proxied: true, data: (p) => '\r\n' + get(p), expect: held },
  { id: 'tls-hello', name: 'TLS ClientHello bytes on the plain port', kong: '400', proxied: true, data: () => Buffer.from('160301010001000100030300', 'hex'), expect: { '20.30': held, '20.57': refused(505) } },
  { id: 'garbage', name: 'garbage line', kong: '400', proxied: true, data: () => 'HELLO\r\n\r\n', expect: held },
  { id: 'authority-form', name: 'CONNECT authority-form', kong: '405', proxied: true, data: () => `CONNECT t:443 HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },

  // ---- Host (RFC 9112 3.2, 3.2.2)
  { id: 'host-userinfo', name: 'Host `user@evil` (nginx accepts)', kong: '200', proxied: true, data: (p) => `GET ${p} HTTP/1.1\r\nHost: user@evil\r\n\r\n`, expect: ok() },
  { id: 'host-case-dup', name: 'Host and host', kong: '400', proxied: true, data: (p, hid) => `GET ${p} HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n${hid}`, expect: { '20.30': closed, '20.57': refused(400) } },
  { id: 'host-empty-dup', name: 'Host, then an empty Host', kong: '400', proxied: true, data: (p) => `GET ${p} HTTP/1.1\r\nHost: a\r\nHost:\r\n\r\n`, expect: refused(400) },
  { id: 'host-abs-mismatch', name: 'absolute-form target whose authority differs from Host', kong: '200 (authority wins)', proxied: true, data: (p) => `GET http://other${p} HTTP/1.1\r\n${H}\r\n`, expect: { '20.30': held, '20.57': refused(505) } },

  // ---- Expect (RFC 9110 10.1.1)
  {
    id: 'expect-100',
    name: 'Expect: 100-continue: 100 then the answer; Expect is not forwarded',
    kong: '100, 200',
    proxied: true,
    data: (p) => post(p, 'Expect: 100-continue\r\nContent-Length: 5\r\n', 'hello'),
    expect: { statuses: [100, 200], state: 'open', upstream: ['req'], body: 'hello' },
    check: (r) => assert.deepEqual(hdr(r, 'expect'), []),
  },
  { id: 'expect-other', name: 'Expect: 200-ok (unknown expectation: ignored, not forwarded)', kong: '200', proxied: true, data: (p) => post(p, 'Expect: 200-ok\r\nContent-Length: 5\r\n', 'hello'), expect: ok('hello'), check: (r) => assert.deepEqual(hdr(r, 'expect'), []) },

  // ---- Connection and hop-by-hop fields (RFC 9110 7.6.1)
  { id: 'conn-cl', name: 'Connection: Content-Length: the body keeps its framing', kong: '200', proxied: true, data: (p) => post(p, 'Connection: Content-Length\r\nContent-Length: 5\r\n', 'hello'), expect: ok('hello'), check: (r) => assert.deepEqual(hdr(r, 'content-length'), ['5']) },
  { id: 'conn-te', name: 'Connection: Transfer-Encoding: re-framed', kong: '200', proxied: true, data: (p) => post(p, 'Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\n\r\n'), expect: ok('hello') },
  { id: 'conn-host', name: 'Connection: Host: Host still sent', kong: '200', proxied: true, data: (p) => get(p, 'Connection: Host\r\n'), expect: ok(), check: (r) => assert.deepEqual(hdr(r, 'host').length, 1) },
  { id: 'conn-list', name: 'Connection: X-Foo, close: X-Foo dropped, answered then closed', kong: '200, closed', proxied: true, data: (p) => get(p, 'Connection: X-Foo, close\r\nX-Foo: 1\r\nX-Bar: 2\r\n'), expect: { statuses: [200], state: 'closed', upstream: ['req'] }, check: (r) => { assert.deepEqual(hdr(r, 'x-foo'), []); assert.deepEqual(hdr(r, 'x-bar'), ['2']); assert.ok(!hdr(r, 'connection').some((v) => /x-foo/i.test(v))) } },
  { id: 'upgrade-h2c', name: 'Upgrade: h2c with HTTP2-Settings: both dropped, served as HTTP/1.1', kong: '200', proxied: true, data: (p) => get(p, 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n'), expect: ok(), check: (r) => { assert.deepEqual(hdr(r, 'upgrade'), []); assert.deepEqual(hdr(r, 'http2-settings'), []) } },
  { id: 'upgrade-ws-no-conn', name: 'Upgrade: websocket without Connection: Upgrade: a plain request', kong: '200', proxied: true, data: (p) => get(p, 'Upgrade: websocket\r\n'), expect: ok(), check: (r) => assert.deepEqual(hdr(r, 'upgrade'), []) },

  // ---- Hidden requests behind a request the gateway answers itself (404 no route)
  { id: 'sync-cl', name: 'pipelined behind a 404 with a Content-Length body: answered in order', kong: '404, 200', proxied: false, data: (p, hid) => post(p, 'Content-Length: 5\r\n', 'hello') + hid, expect: { statuses: [404, 200], state: 'open', upstream: ['smuggled'] } },
  { id: 'sync-cl-dup', name: 'two different Content-Length, request hidden in the longer body', kong: '400', proxied: false, data: (p, hid) => post(p, `Content-Length: 1\r\nContent-Length: ${hid.length + 1}\r\n`, 'a' + hid), expect: closed },
  { id: 'sync-chunked-alone', name: 'a 404 to a request with a chunked body: answered, then closed', kong: '404', proxied: false, data: (p) => chunkedPost(p, '5\r\nhello\r\n0\r\n\r\n'), expect: { statuses: [404], state: 'closed', upstream: [] } },
  { id: 'sync-chunked-split', name: 'a 404 to a chunked request whose body is still arriving: answered, then closed', kong: '404', proxied: false, data: (p) => chunkedPost(p, '5\r\nhello\r\n'), expect: { statuses: [404], state: 'closed', upstream: [] } },
  { id: 'sync-chunked', name: 'pipelined behind a 404 with a valid chunked body: closed (the 404 is held one turn)', kong: '404, 200', proxied: false, data: (p, hid) => chunkedPost(p, '5\r\nhello\r\n0\r\n\r\n') + hid, expect: HELD_CLOSED },
  { id: 'sync-trailer-hidden', name: 'request hidden in the trailer section, behind a 404', kong: '404 then 400 (invalid trailer line)', proxied: false, data: (p, hid) => chunkedPost(p, '5\r\nhello\r\n0\r\nXX' + hid), expect: HELD_CLOSED },
  { id: 'sync-lead-sp-hidden', name: 'chunk size ` 5` hiding a request, behind a 404', kong: '400', proxied: false, data: (p, hid) => chunkedPost(p, ' 5\r\n\r\n' + hid), expect: HELD_CLOSED },
  { id: 'sync-size-junk-hidden', name: 'last chunk `0 junk` then a request, behind a 404', kong: '400', proxied: false, data: (p, hid) => chunkedPost(p, '5\r\nhello\r\n0 junk\r\n\r\n' + hid), expect: HELD_CLOSED },
  { id: 'sync-crlf-skip-hidden', name: 'chunk data not followed by CRLF, then a request, behind a 404', kong: '400', proxied: false, data: (p, hid) => chunkedPost(p, '5\r\nhelloXX0\r\n\r\n' + hid), expect: HELD_CLOSED },
  { id: 'proxied-trailer-hidden', name: 'request hidden in the trailer section, behind a proxied request', kong: '400', proxied: true, data: (p, hid) => chunkedPost(p, '5\r\nhello\r\n0\r\nXX' + hid), expect: closed },
  { id: 'refused-then-pipelined', name: 'a request pipelined behind a 400 (repeated Host)', kong: '400, closed', proxied: true, data: (p, hid) => `GET ${p} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${hid}`, expect: { '20.30': closed, '20.57': refused(400) } },
]

function wants (c: Case): Want[] {
  const x = c.expect
  if ('statuses' in x) return [x as Want]
  const per = (x as PerBuild)[BUILD ?? '20.30']
  return Array.isArray(per) ? per : [per]
}

interface Got { statuses: number[]; state: 'closed' | 'open'; upstream: Label[]; body?: string }

function matches (g: Got, w: Want): boolean {
  return isDeepStrictEqual([g.statuses, g.state, g.upstream], [w.statuses, w.state, w.upstream]) &&
    (w.body === undefined || g.body === w.body)
}

async function run (c: Case): Promise<{ got: Got; out: Outcome; reqs: RawRequest[] }> {
  // Each case has its own path prefix, so cases can run side by side.
  const base = c.proxied ? `/api/${c.id}/r` : `/${c.id}/r`
  const hidden = `/api/${c.id}/smuggled`
  const out = await exchange(e.port, c.data(base, `GET ${hidden} HTTP/1.1\r\n${H}\r\n`), { heads: c.heads, holdMs: 600 })
  await sleep(50)
  const reqs = e.up.requests.filter((r) => r.target.startsWith(`/api/${c.id}/`))
  const upstream = reqs.map((r): Label => r.target === hidden ? 'smuggled' : 'req')
  const own = reqs.find((r) => r.target !== hidden)
  return { got: { statuses: out.statuses, state: out.state, upstream, body: own?.body.toString('latin1') }, out, reqs }
}

describe(`request smuggling and malformed input (uWS ${BUILD ?? 'unknown'})`, { concurrency: 4 }, () => {
  test('uWS build is known', () => { assert.ok(BUILD !== null, 'unknown uWS build: record its outcomes (EDGE_PRINT=1) and add its column') })
  for (const c of cases) {
    const opts = c.todo !== undefined ? { todo: c.todo } : {}
    test(`${c.id}: ${c.name}`, opts, async () => {
      const { got, out, reqs } = await run(c)
      if (process.env.EDGE_PRINT !== undefined) process.stderr.write(`| ${c.id} | ${c.name} | ${BUILD}: ${got.statuses.join(', ') || '-'} ${got.state} upstream=[${got.upstream.join(',')}] | Kong: ${c.kong} |${c.limit === true ? ' known limit |' : ''}\n`)
      const want = wants(c)
      assert.ok(want.some((w) => matches(got, w)), `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
      assert.equal(out.leftover, '', 'every byte the client got belongs to a complete response')
      // A refusal says it closes, and does.
      for (const r of out.responses) {
        if (r.status < 400 || r.status === 404 || r.status === 405) continue
        assert.equal(out.state, 'closed', `${r.status}: the connection is closed after it`)
        // Sluice's own refusals (an nginx error page with a request id) say so; uWS's 400/505 may not.
        if (r.body.includes('request_id')) assert.equal(headerOf(r, 'connection'), 'close')
      }
      // What reached the upstream is Sluice's own framing: HTTP/1.1, at most one of Content-Length or chunked.
      for (const r of reqs) {
        assert.ok(r.raw.toString('latin1').startsWith(`${r.method} ${r.target} HTTP/1.1\r\n`))
        assert.ok(hdr(r, 'content-length').length + hdr(r, 'transfer-encoding').length <= 1)
        assert.deepEqual(r.trailers, [])
      }
      const own = reqs.find((r) => !r.target.endsWith('/smuggled'))
      if (own !== undefined) c.check?.(own)
    })
  }
})

describe('after all of them', () => {
  test('the upstream saw only well-framed requests, the worker never exited, and the gateway still serves', async () => {
    assert.deepEqual(e.up.violations, [])
    assert.equal(workerExited, false)
    await assertServing(e, 'api/after-smuggling')
  })
})
