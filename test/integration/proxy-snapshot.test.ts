/**
 * Snapshot swaps in running workers: a request in flight finishes on the config it started with
 * (and on its upstream pool, even when the new config no longer references it), new requests use
 * the new config, older versions are ignored, and a snapshot that does not decode or compile is
 * refused while the old one keeps serving.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { startEcho, startSlow, type Received, type SlowUpstream, type Upstream } from '../helpers/upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'
import { encodeSnapshot } from '../../src/common/codec.ts'

let echo: Upstream
let slow: SlowUpstream
let h: Harness

before(async () => {
  echo = await startEcho()
  slow = await startSlow()
  const slowSvc = service({ host: '127.0.0.1', port: slow.port })
  h = await startWorkers({ snapshot: snapshot([slowSvc], [route({ paths: ['/app'] }, slowSvc)], 10) })
})

after(async () => {
  await h?.stop()
  await Promise.all([echo?.close(), slow?.close()])
})

test('a request in flight completes on the old config; new requests use the new one', async () => {
  const arrived = slow.arrived('/hold')
  const inflight = request(`${h.url}/app/hold`)
  await arrived

  const echoSvc = service({ host: '127.0.0.1', port: echo.port, path: '/v2' })
  const acks = await h.publish(snapshot([echoSvc], [route({ paths: ['/app'] }, echoSvc)], 11))
  for (const a of acks) {
    assert.equal(a.type, 'snapshot-ack')
    assert.equal(a.version, 11)
  }

  for (let i = 0; i < 4; i++) {
    const res = await request(`${h.url}/app/new`)
    assert.equal(res.statusCode, 200)
    assert.equal((await res.body.json() as Received).url, '/v2/new')
  }

  // The old request still runs against the old target, whose pool is retired but alive.
  slow.release()
  const old = await inflight
  assert.equal(old.statusCode, 200)
  assert.equal(await old.body.text(), 'held')
})

test('an older snapshot version is ignored; the same version is acknowledged again', async () => {
  const other = service({ host: '127.0.0.1', port: slow.port })
  const stale = snapshot([other], [route({ paths: ['/app'] }, other)], 5)
  for (const w of h.workers) w.post({ type: 'snapshot', version: 5, bytes: encodeSnapshot(stale) })
  // Messages are handled in order: once version 11 is re-acknowledged, version 5 was seen.
  const echoSvc = service({ host: '127.0.0.1', port: echo.port, path: '/v2' })
  const acks = await h.publish(snapshot([echoSvc], [route({ paths: ['/app'] }, echoSvc)], 11))
  for (const a of acks) assert.equal(a.type, 'snapshot-ack')
  const res = await request(`${h.url}/app/still`)
  assert.equal((await res.body.json() as Received).url, '/v2/still')
})

test('a snapshot that cannot be decoded is refused with snapshot-error; the old one keeps serving', async () => {
  const errors = h.workers.map((w) => w.next('snapshot-error', (m) => m.version === 12))
  for (const w of h.workers) w.post({ type: 'snapshot', version: 12, bytes: new Uint8Array([0xc1, 0xc1, 0xc1]) })
  for (const e of await Promise.all(errors)) assert.ok(e.message.length > 0)
  const res = await request(`${h.url}/app/after-error`)
  assert.equal((await res.body.json() as Received).url, '/v2/after-error')
})

test('a snapshot the router cannot build is refused too', async () => {
  const echoSvc = service({ host: '127.0.0.1', port: echo.port })
  const bad = snapshot([echoSvc], [route({ paths: ['/ok'] }, echoSvc)], 13)
  // Not a RouteRow at all: compile throws.
  ;(bad.routes as unknown[]).push({ id: 'x', paths: 42, protocols: 'http' })
  const answers = await h.publish(bad)
  for (const a of answers) assert.equal(a.type, 'snapshot-error')
  const res = await request(`${h.url}/app/still-v2`)
  assert.equal((await res.body.json() as Received).url, '/v2/still-v2')
})

test('metrics: each worker reports requests and in-flight counts once per second', async () => {
  const m = await h.metrics()
  assert.equal(m.length, 2)
  const total = m.reduce((a, x) => a + x.requests, 0)
  assert.ok(total >= 8, `requests ${total}`)
  for (const x of m) assert.ok(x.connections >= 0)
})
