/**
 * Worker lifecycle: src/worker/main.ts loads as a worker thread under tsx, handshakes, serves,
 * drains on shutdown (in-flight requests finish within graceMs, the rest are closed), and exits.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { request } from 'undici'
import { startEcho, startSlow } from '../helpers/upstream.ts'
import { route, service, snapshot, startWorkers } from '../helpers/worker-harness.ts'

test('worker: loads under tsx, posts ready with the shared port, proxies, drains and exits', async (t) => {
  const echo = await startEcho()
  t.after(() => echo.close())
  const svc = service({ host: '127.0.0.1', port: echo.port })
  const h = await startWorkers({ snapshot: snapshot([svc], [route({ paths: ['/'] }, svc)]) })
  const ready = h.workers.map((w) => w.messages.find((m) => m.type === 'ready'))
  for (const r of ready) {
    assert.ok(r !== undefined && r.type === 'ready')
    assert.equal(r.port, h.port)
    assert.equal(r.protocol, 1)
  }
  const res = await request(`${h.url}/hello?x=1`)
  assert.equal(res.statusCode, 200)
  const body = await res.body.json() as { url: string }
  assert.equal(body.url, '/hello?x=1')
  await h.stop()
  for (const w of h.workers) {
    assert.ok(w.messages.some((m) => m.type === 'drained'))
    assert.equal(await w.exited, 0)
  }
})

function refused (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.on('connect', () => { s.destroy(); resolve(false) })
    s.on('error', () => resolve(true))
  })
}

test('shutdown: a request in flight finishes within graceMs, then the workers drain and exit', async (t) => {
  const slow = await startSlow()
  t.after(() => slow.close())
  const svc = service({ host: '127.0.0.1', port: slow.port })
  const h = await startWorkers({ snapshot: snapshot([svc], [route({ paths: ['/'] }, svc)]) })
  const arrived = slow.arrived('/hold')
  const inflight = request(`${h.url}/hold`)
  await arrived
  const drained = h.workers.map((w) => w.next('drained'))
  for (const w of h.workers) w.post({ type: 'shutdown', graceMs: 30_000 })
  // One worker is idle and drains at once; the other waits for its request.
  await Promise.race(drained)
  slow.release()
  const res = await inflight
  assert.equal(res.statusCode, 200)
  assert.equal(await res.body.text(), 'held')
  await Promise.all(drained)
  for (const w of h.workers) assert.equal(await w.exited, 0)
  assert.equal(await refused(h.port), true)
})

test('shutdown: requests still running when graceMs expires are closed; the workers still exit cleanly', async (t) => {
  const slow = await startSlow()
  t.after(() => slow.close())
  const svc = service({ host: '127.0.0.1', port: slow.port })
  const h = await startWorkers({ snapshot: snapshot([svc], [route({ paths: ['/'] }, svc)]) })
  const arrived = slow.arrived('/hang-forever')
  const upstreamClosed = slow.closed('/hang-forever')
  const inflight = request(`${h.url}/hang-forever`)
  await arrived
  const drained = h.workers.map((w) => w.next('drained'))
  for (const w of h.workers) w.post({ type: 'shutdown', graceMs: 100 })
  await assert.rejects(inflight)
  await Promise.all(drained)
  await upstreamClosed
  for (const w of h.workers) assert.equal(await w.exited, 0)
})
