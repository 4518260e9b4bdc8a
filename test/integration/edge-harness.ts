/**
 * Shared pieces of the edge-*.test.ts files: real worker threads (test/helpers/worker-harness.ts)
 * with one catch-all route to a raw recording upstream (test/helpers/raw-upstream.ts), and a raw
 * node:net client that sends exact bytes and reads back exactly what the gateway wrote.
 *
 * `exchange()` parses what came back as a sequence of HTTP/1.1 responses, framed strictly by their
 * own Content-Length / chunked / no-body rules; bytes left over after the last complete response
 * are reported (`leftover`): a desynchronised client connection shows up there.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { prepareUwsEnv, uwsInfo } from '../../src/worker/uws-load.ts'
import { startRawUpstream, type RawRequest, type RawUpstream } from '../helpers/raw-upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'

// What the primary does before it spawns workers (see the edge report: src/primary/workers.ts):
// uWS builds that read UWS_HTTP_MAX_HEADERS_SIZE (20.57) take the head limit nginx allows,
// large_client_header_buffers N x size (4 x 8k), so that Sluice's own 414 / 400 answer below it.
prepareUwsEnv(4 * 8192)

export type Build = '20.30' | '20.57'
const build = uwsInfo().build
export const BUILD: Build | null = build === '20.30.0-unofficial.0' ? '20.30' : build === '20.57.0' ? '20.57' : null

export interface Edge {
  up: RawUpstream
  h: Harness
  port: number
  stop (): Promise<void>
}

export async function startEdge (conf: Record<string, string> = {}, workers = 1, retries = 0): Promise<Edge> {
  const up = await startRawUpstream()
  const svc = service({ host: '127.0.0.1', port: up.port, retries })
  const h = await startWorkers({ workers, snapshot: snapshot([svc], [route({ paths: ['/'], strip_path: false }, svc)]), conf })
  return {
    up,
    h,
    port: h.port,
    async stop () {
      await h.stop()
      await up.close()
    },
  }
}

export interface Response {
  status: number
  headers: Array<[string, string]>
  body: string
}

export interface Outcome {
  /** Every byte the gateway wrote (latin1). */
  text: string
  /** Complete responses parsed from `text`, in order. */
  responses: Response[]
  statuses: number[]
  /** Bytes after the last complete response (a partial response, or garbage). */
  leftover: string
  /** closed: the gateway closed (or reset) the connection within holdMs; open: it did not. */
  state: 'closed' | 'open'
  /** ms from connect to close (or to holdMs). */
  ms: number
}

function header (r: Response, name: string): string | undefined {
  return r.headers.find(([k]) => k.toLowerCase() === name)?.[1]
}

export function headerOf (r: Response | undefined, name: string): string | undefined {
  return r === undefined ? undefined : header(r, name.toLowerCase())
}

/** Splits a byte stream into responses (1xx included); stops at the first incomplete or bad one. */
export function parseResponses (text: string, headRequests = 0): { responses: Response[]; leftover: string } {
  const responses: Response[] = []
  let rest = text
  let heads = headRequests
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) break
    const lines = rest.slice(0, end).split('\r\n')
    const m = /^HTTP\/1\.1 (\d{3}) [^\r\n]*$/.exec(lines[0]!)
    if (m === null) break
    const status = Number(m[1])
    const headers: Array<[string, string]> = []
    let bad = false
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':')
      if (c <= 0) { bad = true; break }
      headers.push([l.slice(0, c), l.slice(c + 1).trim()])
    }
    if (bad) break
    const r: Response = { status, headers, body: '' }
    let pos = end + 4
    const cl = header(r, 'content-length')
    const te = header(r, 'transfer-encoding')
    const noBody = status < 200 || status === 204 || status === 304 || (heads > 0 && status >= 200)
    if (status >= 200 && heads > 0) heads--
    if (noBody) {
      // no body
    } else if (te !== undefined) {
      if (te.toLowerCase() !== 'chunked' || cl !== undefined) break
      let body = ''
      let ok = false
      for (;;) {
        const eol = rest.indexOf('\r\n', pos)
        if (eol < 0) break
        const size = parseInt(rest.slice(pos, eol), 16)
        if (!/^[0-9a-fA-F]+$/.test(rest.slice(pos, eol))) break
        pos = eol + 2
        if (size === 0) {
          if (rest.slice(pos, pos + 2) !== '\r\n') break
          pos += 2
          ok = true
          break
        }
        if (rest.length < pos + size + 2 || rest.slice(pos + size, pos + size + 2) !== '\r\n') break
        body += rest.slice(pos, pos + size)
        pos += size + 2
      }
      if (!ok) break
      r.body = body
    } else if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) break
      const n = Number(cl)
      if (rest.length < pos + n) break
      r.body = rest.slice(pos, pos + n)
      pos += n
    } else {
      // Close-delimited: only complete once the connection closed; taken as the rest.
      r.body = rest.slice(pos)
      pos = rest.length
    }
    responses.push(r)
    rest = rest.slice(pos)
  }
  return { responses, leftover: rest }
}

export interface ExchangeOptions {
  /** How long to wait for the gateway to close after the last piece (default 600 ms). */
  holdMs?: number
  /** Pause between pieces (default 30 ms). */
  gapMs?: number
  /** Stop waiting once this many final responses arrived (the connection is then left as 'open'). */
  responses?: number
  /** HEAD requests among the pipelined ones (their responses have no body). */
  heads?: number
}

/** Sends `pieces` on one new connection and reports what came back. */
export function exchange (port: number, pieces: string | Buffer | Array<string | Buffer>, opts: ExchangeOptions = {}): Promise<Outcome> {
  const list = Array.isArray(pieces) ? pieces : [pieces]
  const t0 = Date.now()
  return new Promise((resolve) => {
    let text = ''
    let done = false
    let timer: NodeJS.Timeout | null = null
    const s = connect(port, '127.0.0.1', () => {
      void (async () => {
        for (let i = 0; i < list.length; i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, opts.gapMs ?? 30))
          if (s.destroyed) return
          s.write(list[i]!)
        }
        timer = setTimeout(() => finish('open'), opts.holdMs ?? 600)
      })()
    })
    s.setEncoding('latin1')
    const finish = (state: 'closed' | 'open'): void => {
      if (done) return
      done = true
      if (timer !== null) clearTimeout(timer)
      s.destroy()
      const { responses, leftover } = parseResponses(text, opts.heads ?? 0)
      resolve({ text, responses, statuses: responses.map((r) => r.status), leftover, state, ms: Date.now() - t0 })
    }
    s.on('data', (d: string) => {
      text += d
      if (opts.responses !== undefined && parseResponses(text, opts.heads ?? 0).responses.filter((r) => r.status >= 200).length >= opts.responses) finish('open')
    })
    s.on('close', () => finish('closed'))
    s.on('error', () => finish('closed'))
  })
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Targets the upstream received while `fn` ran (plus a short settle time for late arrivals). */
export async function upstreamDuring (up: RawUpstream, fn: () => Promise<void>, settleMs = 50): Promise<RawRequest[]> {
  const before = up.requests.length
  await fn()
  await sleep(settleMs)
  return up.requests.slice(before)
}

/** The gateway still serves a fresh connection, and the upstream sees that one request, well-formed. */
export async function assertServing (e: Edge, tag = 'probe'): Promise<void> {
  const before = e.up.requests.length
  const o = await exchange(e.port, `GET /${tag} HTTP/1.1\r\nHost: t\r\n\r\n`, { responses: 1, holdMs: 3000 })
  assert.deepEqual(o.statuses, [200], `gateway still serving: ${JSON.stringify(o.text.slice(0, 200))}`)
  assert.equal(o.leftover, '')
  assert.deepEqual(e.up.requests.slice(before).map((r) => r.target), [`/${tag}`])
  assert.deepEqual(e.up.violations, [], 'the upstream saw only well-framed requests')
}

export const H = 'Host: t\r\n'

/**
 * Keep-alive: sends each request on one connection after the previous one's final response is
 * complete (never pipelined). Stops early when the connection closes or holdMs passes without
 * progress; `statuses` lists the final responses received.
 */
export function sequential (port: number, requests: string[], opts: { holdMs?: number; heads?: number } = {}): Promise<Outcome> {
  const t0 = Date.now()
  return new Promise((resolve) => {
    let text = ''
    let done = false
    let sent = 0
    let timer: NodeJS.Timeout | null = null
    const s = connect(port, '127.0.0.1', () => { next() })
    const arm = (): void => {
      if (timer !== null) clearTimeout(timer)
      timer = setTimeout(() => finish('open'), opts.holdMs ?? 2000)
    }
    const finals = (): number => parseResponses(text, opts.heads ?? 0).responses.filter((r) => r.status >= 200).length
    const next = (): void => {
      if (sent < requests.length) { s.write(requests[sent++]!); arm() } else { finish('open') }
    }
    s.setEncoding('latin1')
    const finish = (state: 'closed' | 'open'): void => {
      if (done) return
      done = true
      if (timer !== null) clearTimeout(timer)
      s.destroy()
      const { responses, leftover } = parseResponses(text, opts.heads ?? 0)
      resolve({ text, responses, statuses: responses.filter((r) => r.status >= 200).map((r) => r.status), leftover, state, ms: Date.now() - t0 })
    }
    s.on('data', (d: string) => {
      text += d
      if (finals() >= sent) next()
    })
    s.on('close', () => finish('closed'))
    s.on('error', () => finish('closed'))
  })
}
