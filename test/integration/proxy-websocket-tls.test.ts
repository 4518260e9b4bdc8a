/**
 * WebSocket over TLS on both hops: `wss` from clients to the TLS listener (tls.ts endpoints
 * register the same behaviour), and `wss` to an upstream of a service with protocol https.
 * Kong: spec/02-integration/05-proxy/09-websockets_spec.lua "with kong under HTTPS".
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import WebSocket from 'ws'
import { makeCert } from '../helpers/tls.ts'
import { route, service, snapshot, startWorkers } from '../helpers/worker-harness.ts'
import { startWsUpstream } from '../helpers/ws-upstream.ts'

// A time limit: a proxied WebSocket that stops relaying must fail this test, not hold its file forever
// (seen on the uWS 20.57 stand-in before handshake.ts stopped corking the client upgrade there).
test('websocket over TLS: wss client -> TLS listener -> wss upstream (service protocol https); text, ping and close codes', { timeout: 30_000 }, async (t) => {
  const up = await startWsUpstream({ https: makeCert('ws.upstream.test') })
  t.after(() => up.close())
  const svc = service({ host: '127.0.0.1', port: up.port, protocol: 'https' })
  const h = await startWorkers({ ssl: true, snapshot: snapshot([svc], [route({ paths: ['/ws'], protocols: ['http', 'https'] }, svc)]) })
  t.after(() => h.stop())

  const ws = new WebSocket(`wss://127.0.0.1:${h.tlsPort}/ws/secure`, ['v1'], { rejectUnauthorized: false })
  await once(ws, 'open')
  assert.equal(ws.protocol, 'v1')
  const hs = up.handshakes[0]!
  assert.equal(hs.url, '/secure')
  assert.equal(hs.headers['x-forwarded-proto'], 'https')
  assert.equal(hs.headers['x-forwarded-port'], String(h.tlsPort))
  assert.equal((hs.socket as unknown as { encrypted?: boolean }).encrypted, true)

  ws.send('hello over tls')
  const [data, isBinary] = await once(ws, 'message') as [Buffer, boolean]
  assert.equal(isBinary, false)
  assert.equal(data.toString(), 'hello over tls')
  const pong = once(ws, 'pong') as Promise<[Buffer]>
  ws.ping('p')
  assert.equal((await pong)[0].toString(), 'p')

  const closed = once(ws, 'close') as Promise<[number, Buffer]>
  ws.send('close-me')
  const [code, reason] = await closed
  assert.equal(code, 4001)
  assert.equal(reason.toString(), 'asked to')
})

test('websocket over TLS: an https route refuses a plain ws handshake with Kong\'s 426', async (t) => {
  const up = await startWsUpstream()
  t.after(() => up.close())
  const svc = service({ host: '127.0.0.1', port: up.port })
  const h = await startWorkers({ ssl: true, snapshot: snapshot([svc], [route({ paths: ['/ws'], protocols: ['https'] }, svc)]) })
  t.after(() => h.stop())
  const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`)
  ws.on('error', () => {})
  const [, res] = await once(ws, 'unexpected-response') as [unknown, { statusCode: number }]
  assert.equal(res.statusCode, 426)
  ws.terminate()
  assert.equal(up.handshakes.length, 0)
})
