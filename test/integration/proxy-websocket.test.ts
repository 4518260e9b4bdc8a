/**
 * WebSocket proxying through real worker threads (no database needed: hand-built snapshots):
 * real `ws` servers as upstreams, real `ws` clients. Kong: spec/02-integration/05-proxy/
 * 09-websockets_spec.lua (text echo, ping/pong, Via on the 101, wss), plus the upgrade handling
 * of kong/runloop/handler.lua (upstream headers on the handshake).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { connect, createServer as createTcpServer, type Socket } from 'node:net'
import { request } from 'undici'
import WebSocket, { WebSocketServer } from 'ws'
import type { GenericRow, Snapshot } from '../../src/common/snapshot.ts'
import { freePort } from '../helpers/ports.ts'
import { plugin, withEntities } from '../helpers/kong-rows.ts'
import { startWsUpstream, type WsUpstream } from '../helpers/ws-upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'

function open (url: string, protocols?: string[], options?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options)
  return new Promise((resolve, reject) => {
    ws.once('open', () => { resolve(ws) })
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => { reject(new Error(`status ${res.statusCode}`)) })
  })
}

function nextMessage (ws: WebSocket): Promise<{ data: Buffer, isBinary: boolean }> {
  return new Promise((resolve) => { ws.once('message', (data: Buffer, isBinary: boolean) => { resolve({ data, isBinary }) }) })
}

function closed (ws: WebSocket): Promise<{ code: number, reason: string }> {
  return new Promise((resolve) => { ws.once('close', (code: number, reason: Buffer) => { resolve({ code, reason: reason.toString() }) }) })
}

async function gateway (t: { after: (fn: () => Promise<void>) => void }, up: WsUpstream, svcFields: Record<string, unknown> = {}, routeFields: Record<string, unknown> = {}): Promise<Harness> {
  const svc = service({ host: '127.0.0.1', port: up.port, ...svcFields })
  const h = await startWorkers({ snapshot: snapshot([svc], [route({ paths: ['/ws'], ...routeFields }, svc)]) })
  t.after(() => h.stop())
  return h
}

test('websocket: text and binary messages round-trip with their types; Kong headers on the 101 and upstream handshake headers', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up)
  const wsUrl = h.url.replace('http:', 'ws:')
  const ws = new WebSocket(`${wsUrl}/ws/chat?room=1`)
  const upgraded = once(ws, 'upgrade') as Promise<[IncomingMessage]>
  await once(ws, 'open')
  const [res] = await upgraded
  assert.equal(res.statusCode, 101)
  assert.match(String(res.headers.via), /kong|sluice/i)
  assert.ok(res.headers['x-kong-upstream-latency'] !== undefined)

  ws.send('hello websocket')
  const m1 = await nextMessage(ws)
  assert.equal(m1.isBinary, false)
  assert.equal(m1.data.toString(), 'hello websocket')
  ws.send(Buffer.from([0, 1, 2, 255]))
  const m2 = await nextMessage(ws)
  assert.equal(m2.isBinary, true)
  assert.deepEqual([...m2.data], [0, 1, 2, 255])

  const hs = up.handshakes[0]!
  assert.equal(hs.url, '/chat?room=1') // strip_path
  assert.equal(hs.headers['x-forwarded-for'], '127.0.0.1')
  assert.equal(hs.headers['x-forwarded-proto'], 'http')
  assert.equal(hs.headers['x-forwarded-port'], String(h.port))
  assert.equal(hs.headers['x-real-ip'], '127.0.0.1')
  assert.equal(hs.headers.host, `127.0.0.1:${up.port}`)
  assert.equal(hs.headers.upgrade, 'websocket')
  const c = closed(ws)
  ws.close(1000, 'done')
  assert.equal((await c).code, 1000)
})

test('websocket: the client closing with a code reaches the upstream with that code and reason', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up)
  const ws = await open(`${h.url.replace('http:', 'ws:')}/ws`)
  const serverSide = await up.socket(0)
  const upstreamClosed = closed(serverSide)
  ws.close(4002, 'client says bye')
  const got = await upstreamClosed
  assert.equal(got.code, 4002)
  assert.equal(got.reason, 'client says bye')
})

test('websocket: the upstream closing with a code reaches the client with that code and reason', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up)
  const ws = new WebSocket(`${h.url.replace('http:', 'ws:')}/ws/close/4005`)
  const c = closed(ws)
  const got = await c
  assert.equal(got.code, 4005)
  assert.equal(got.reason, 'bye from upstream')

  const ws2 = await open(`${h.url.replace('http:', 'ws:')}/ws`)
  const c2 = closed(ws2)
  ws2.send('close-me')
  assert.deepEqual(await c2, { code: 4001, reason: 'asked to' })
})

const wsBase = (h: Harness): string => h.url.replace('http:', 'ws:')

test('websocket: subprotocol negotiation: the client offer goes upstream, the upstream choice comes back', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up)
  const ws = await open(`${wsBase(h)}/ws`, ['chat.v1', 'chat.v2'])
  assert.equal(ws.protocol, 'chat.v2')
  assert.equal(up.handshakes[0]!.headers['sec-websocket-protocol'], 'chat.v1,chat.v2') // as the client sent it
  ws.close()
  const plain = await open(`${wsBase(h)}/ws`)
  assert.equal(plain.protocol, '')
  assert.equal(up.handshakes[1]!.headers['sec-websocket-protocol'], undefined)
  plain.close()
})

test('websocket: a 1 MB binary message and a 1 MB text message arrive intact, one message each', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up)
  const ws = await open(`${wsBase(h)}/ws`)
  const big = randomBytes(1024 * 1024)
  ws.send(big)
  const got = await nextMessage(ws)
  assert.equal(got.isBinary, true)
  assert.equal(got.data.length, big.length)
  assert.ok(got.data.equals(big))
  const text = 'é'.repeat(512 * 1024)
  ws.send(text)
  const gotText = await nextMessage(ws)
  assert.equal(gotText.isBinary, false)
  assert.equal(gotText.data.toString(), text)
  ws.close()
})

test('websocket: pings are relayed both ways and each hop answers its own pongs', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up)
  const ws = await open(`${wsBase(h)}/ws`)
  const serverSide = await up.socket(0)
  const upstreamPing = once(serverSide, 'ping') as Promise<[Buffer]>
  const pong = once(ws, 'pong') as Promise<[Buffer]>
  ws.ping('give me a pong')
  assert.equal((await pong)[0].toString(), 'give me a pong')
  assert.equal((await upstreamPing)[0].toString(), 'give me a pong')
  const clientPing = once(ws, 'ping') as Promise<[Buffer]>
  serverSide.ping('are you there')
  assert.equal((await clientPing)[0].toString(), 'are you there')
  ws.close()
})

test('websocket: an upstream refusing the handshake is passed on as an ordinary response', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up, {}, { strip_path: false })
  const ws = new WebSocket(`${wsBase(h)}/ws/deny`)
  ws.on('error', () => {})
  const [, res] = await once(ws, 'unexpected-response') as [unknown, IncomingMessage]
  assert.equal(res.statusCode, 403)
  let body = ''
  for await (const c of res) body += String(c)
  assert.equal(body, 'nope')
  assert.match(String(res.headers.via), /kong/)
  ws.terminate()
})

test('websocket: a refused upstream gives Kong\'s 502; no route gives 404', async (t) => {
  const port = await freePort()
  const svc = service({ host: '127.0.0.1', port, retries: 1 })
  const h = await startWorkers({ snapshot: snapshot([svc], [route({ paths: ['/ws'] }, svc)]) })
  t.after(() => h.stop())
  for (const [path, status, message] of [['/ws', 502, 'An invalid response was received from the upstream server\n'], ['/nowhere', 404, '{\n  "message":"no Route matched with those values"']] as const) {
    const ws = new WebSocket(`${wsBase(h)}${path}`)
    ws.on('error', () => {})
    const [, res] = await once(ws, 'unexpected-response') as [unknown, IncomingMessage]
    assert.equal(res.statusCode, status)
    let body = ''
    for await (const c of res) body += String(c)
    assert.ok(body.startsWith(message), body)
    ws.terminate()
  }
  // The workers keep serving WebSockets and plain requests.
  const r = await request(`${h.url}/nowhere`)
  assert.equal(r.statusCode, 404)
  await r.body.dump()
})

test('websocket: Connection: upgrade without Upgrade: websocket is an ordinary request', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up)
  const s = connect(h.port, '127.0.0.1')
  await once(s, 'connect')
  s.write('GET /ws/x HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  let raw = ''
  s.setEncoding('latin1')
  for await (const c of s) {
    raw += c
    if (raw.includes('upgrade=')) break
  }
  s.destroy()
  assert.match(raw, /^HTTP\/1\.1 200 /)
  assert.match(raw, /plain GET \/x upgrade=$/)
  assert.equal(up.handshakes.length, 0)
})

test('websocket: a client message over the 16 MiB limit closes that connection (both sides); other connections are unaffected', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up)
  const a = await open(`${wsBase(h)}/ws`)
  const aUpstream = closed(await up.socket(0))
  const b = await open(`${wsBase(h)}/ws`)
  const c = closed(a)
  a.send(Buffer.alloc(16 * 1024 * 1024 + 1))
  // uWS closes an over-long message's connection at once, without a close frame.
  assert.equal((await c).code, 1006)
  assert.equal((await aUpstream).code, 1006)
  // An upstream connection dropped without a close frame: its client sees 1006, the other one works.
  const d = await open(`${wsBase(h)}/ws`)
  const dClosed = closed(d)
  ;(await up.socket(up.sockets.length - 1)).terminate()
  assert.equal((await dClosed).code, 1006)
  b.send('still here')
  assert.equal((await nextMessage(b)).data.toString(), 'still here')
  b.close()
})

test('websocket: a client that stops reading pauses the upstream (bounded memory), then everything arrives in order', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up)
  const ws = await open(`${wsBase(h)}/ws`)
  const serverSide = await up.socket(0)
  ws.pause()
  const chunk = 64 * 1024
  const count = 1024 // 64 MiB
  let flushed = 0
  let sent = 0
  const sendNext = (): void => {
    if (sent === count) return
    const b = Buffer.alloc(chunk, sent & 0xff)
    b.writeUInt32BE(sent, 0)
    sent++
    serverSide.send(b, { binary: true }, (err) => { if (err === undefined || err === null) { flushed += chunk; sendNext() } })
  }
  sendNext()
  // Wait until the upstream's writes stop completing (nothing to await: progress is polled).
  let last = -1
  let still = 0
  while (still < 5 && flushed < count * chunk) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    if (flushed === last) still++
    else { still = 0; last = flushed }
  }
  assert.ok(flushed < 32 * 1024 * 1024, `the gateway took ${flushed} bytes from the upstream while the client read nothing`)
  let received = 0
  let inOrder = true
  const all = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      if (data.length !== chunk || data.readUInt32BE(0) !== received) inOrder = false
      received++
      if (received === count) resolve()
    })
  })
  ws.resume()
  await all
  assert.equal(inOrder, true)
  ws.close()
})

test('websocket: no data from the upstream for the service read_timeout ends the connection', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up, { read_timeout: 1000 })
  const ws = await open(`${wsBase(h)}/ws`)
  const serverSide = await up.socket(0)
  const upstreamClosed = closed(serverSide)
  const t0 = Date.now()
  const c = await closed(ws)
  const elapsed = Date.now() - t0
  assert.equal(c.code, 1006)
  assert.ok(elapsed >= 900 && elapsed < 10_000, `closed after ${elapsed} ms`)
  await upstreamClosed
})

test('websocket: shutdown closes WebSocket connections with 1001 on both sides', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const svc = service({ host: '127.0.0.1', port: up.port })
  const h = await startWorkers({ snapshot: snapshot([svc], [route({ paths: ['/ws'] }, svc)]) })
  const ws = await open(`${wsBase(h)}/ws`)
  const serverSide = await up.socket(0)
  const clientClosed = closed(ws)
  const upstreamClosed = closed(serverSide)
  await h.stop(30_000)
  assert.equal((await clientClosed).code, 1001)
  assert.equal((await upstreamClosed).code, 1001)
})

function balanced (name: string, algorithm: string, targets: string[]): { snap: Snapshot } {
  const u: GenericRow = {
    id: randomUUID(),
    name,
    algorithm,
    hash_on: 'none',
    hash_fallback: 'none',
    hash_on_cookie_path: '/',
    slots: 10000,
    host_header: null,
    healthchecks: { threshold: 0, passive: { type: 'http', healthy: { successes: 0, http_statuses: [200] }, unhealthy: { tcp_failures: 0, timeouts: 0, http_failures: 0, http_statuses: [500] } } },
  }
  const svc = service({ host: name, port: 1 })
  const snap = snapshot([svc], [route({ paths: ['/ws'] }, svc)])
  snap.entities = { upstreams: [u], targets: targets.map((t) => ({ id: randomUUID(), upstream: { id: u.id }, target: t, weight: 100 })) }
  return { snap }
}

test('websocket: least-connections counts open WebSocket connections until they close', async (t) => {
  const a = await startWsUpstream()
  const b = await startWsUpstream()
  t.after(async () => { await a.close(); await b.close() })
  const { snap } = balanced('lc.upstream', 'least-connections', [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`])
  const h = await startWorkers({ workers: 1, snapshot: snap })
  t.after(() => h.stop())
  const first = await open(`${wsBase(h)}/ws`)
  const firstOn = a.handshakes.length === 1 ? a : b
  const other = firstOn === a ? b : a
  const second = await open(`${wsBase(h)}/ws`)
  assert.equal(other.handshakes.length, 1, 'the second connection goes to the target without one')
  const firstUpstream = closed(await firstOn.socket(0))
  const firstClosed = closed(first)
  first.close()
  await firstUpstream
  await firstClosed
  const third = await open(`${wsBase(h)}/ws`)
  assert.equal(firstOn.handshakes.length, 2, 'after the first closed, its target has the fewest again')
  second.close()
  third.close()
})

test('websocket: a refused target is retried on another address (service retries)', async (t) => {
  const live = await startWsUpstream()
  t.after(() => live.close())
  const dead = await freePort()
  const { snap } = balanced('rr.upstream', 'round-robin', [`127.0.0.1:${dead}`, `127.0.0.1:${live.port}`])
  const h = await startWorkers({ workers: 1, snapshot: snap })
  t.after(() => h.stop())
  for (let i = 0; i < 4; i++) {
    const ws = await open(`${wsBase(h)}/ws`)
    ws.send(`n${i}`)
    assert.equal((await nextMessage(ws)).data.toString(), `n${i}`)
    ws.close()
  }
  assert.equal(live.handshakes.length, 4)
})

test('websocket: the edge checks apply to handshakes (invalid Host, differing Content-Length: 400, never upstream)', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const h = await gateway(t, up)
  const handshake = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
  for (const head of [`GET /ws HTTP/1.1\r\nHost: a/b\r\n${handshake}\r\n`, `GET /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n${handshake}\r\nab`]) {
    const s = connect(h.port, '127.0.0.1')
    await once(s, 'connect')
    s.write(head)
    let raw = ''
    s.setEncoding('latin1')
    for await (const c of s) raw += c
    assert.match(raw, /^HTTP\/1\.1 400 /)
    assert.match(raw, /\r\nConnection: close\r\n/)
  }
  assert.equal(up.handshakes.length, 0)
})

/** tunnel.ts UPSTREAM_LIMIT: what the gateway holds for an upstream that does not read. */
const UPSTREAM_LIMIT = 2 * 16 * 1024 * 1024 + 1024 * 1024

/** Kong's ingress bandwidth of every route, summed over the workers' metrics deltas received so far. */
function ingressSoFar (h: Harness): number {
  let total = 0
  for (const w of h.workers) {
    for (const m of w.messages) {
      if (m.type !== 'metrics-delta') continue
      const b = m.delta.bytes
      for (let i = 0; i < b.length; i += 2) total += b[i]!
    }
  }
  return total
}

test('websocket: an upstream that stops reading: the gateway holds at most its bound for it, then closes the client with 1013', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const svc = service({ host: '127.0.0.1', port: up.port })
  const r = route({ paths: ['/ws'] }, svc)
  // prometheus with bandwidth_metrics: the worker reports the route's ingress bytes.
  const snap = withEntities(snapshot([svc], [r]), { plugins: [plugin('prometheus', { bandwidth_metrics: true }, { route: r })] })
  const h = await startWorkers({ workers: 1, snapshot: snap })
  t.after(() => h.stop())
  const ws = await open(`${wsBase(h)}/ws`)
  const serverSide = await up.socket(0)
  // The upstream reads nothing (its socket is paused; the kernel's buffers on that hop fill up).
  serverSide.removeAllListeners('message')
  serverSide.pause()
  const c = closed(ws)
  let sent = 0
  let done = false
  let allSent: () => void = () => {}
  const everything = new Promise<'all sent'>((resolve) => { allSent = () => { resolve('all sent') } })
  void c.then(() => { done = true })
  const msg = Buffer.alloc(1024 * 1024, 7)
  const sendNext = (): void => {
    if (done || ws.readyState !== WebSocket.OPEN) return
    if (sent === 200) { allSent(); return }
    ws.send(msg, { binary: true }, (err) => {
      if (err !== undefined && err !== null) return
      sent++
      // Through the event loop: a write the kernel takes at once calls back in the same tick, and
      // a chain of those would keep this client from ever reading the gateway's close frame.
      setImmediate(sendNext)
    })
  }
  sendNext()
  const first = await Promise.race([c, everything])
  assert.notEqual(first, 'all sent', 'the client pushed 200 MiB and the gateway never closed it')
  const got = await c
  assert.equal(got.code, 1013)
  assert.equal(got.reason, 'upstream not reading')

  // What reached the gateway: its own count of the connection's bytes (Kong's ingress bandwidth,
  // prometheus bandwidth_metrics: the handshake and every message uWS handed over), reported once
  // the connection has ended.
  while (ingressSoFar(h) === 0) await h.workers[0]!.next('metrics-delta')
  const reached = ingressSoFar(h)
  // What the gateway passed on: the kernel's buffers on the upstream hop still deliver it to the
  // upstream once it reads again (the gateway dropped its side of that connection).
  let forwarded = 0
  serverSide.on('message', (data: Buffer) => { forwarded += data.length })
  serverSide.on('error', () => {})
  const upstreamGone = closed(serverSide)
  serverSide.resume()
  await upstreamGone
  const held = reached - forwarded
  // The bound is the gateway's own: it closed once its unflushed bytes passed UPSTREAM_LIMIT, one
  // 1 MiB message after the check; the last message the kernel took may be cut short (not counted).
  assert.ok(held > UPSTREAM_LIMIT - 64 * 1024, `held ${held} bytes: closed before its bound`)
  assert.ok(held <= UPSTREAM_LIMIT + 2 * msg.length, `held ${held} bytes for an upstream that reads nothing (bound ${UPSTREAM_LIMIT})`)
  t.diagnostic(`reached ${reached}, forwarded ${forwarded}, held ${held}, client sent ${sent} MiB`)
})

test('websocket: an upstream that accepts but never answers the handshake gives Kong\'s 504 after read_timeout', async (t) => {
  const held: Socket[] = []
  const silent = createTcpServer((s) => { held.push(s) })
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.after(() => { for (const s of held) s.destroy(); silent.close() })
  const svc = service({ host: '127.0.0.1', port: (silent.address() as { port: number }).port, read_timeout: 500 })
  const h = await startWorkers({ snapshot: snapshot([svc], [route({ paths: ['/ws'] }, svc)]) })
  t.after(() => h.stop())
  const ws = new WebSocket(`${wsBase(h)}/ws`)
  ws.on('error', () => {})
  const [, res] = await once(ws, 'unexpected-response') as [unknown, IncomingMessage]
  assert.equal(res.statusCode, 504)
  let body = ''
  for await (const c of res) body += String(c)
  assert.match(body, /^The upstream server is timing out/)
  ws.terminate()
})
