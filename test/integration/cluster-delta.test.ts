/**
 * Config deltas on a live gateway: a delta a worker cannot use (not on its base, or one whose
 * content fails to compile) never takes the worker down: it keeps serving, asks for the full
 * snapshot, and applies the deltas that follow.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { encodeDelta } from '../../src/common/codec.ts'
import type { WorkerToPrimary } from '../../src/common/protocol.ts'
import type { WorkerState } from '../../src/primary/workers.ts'

let db: TestDb
let gw: Gateway
let upstream: Server

before(async () => {
  upstream = createServer((req, res) => { res.end(`upstream saw ${req.url}`) })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const port = (upstream.address() as { port: number }).port
  db = await createTestDb()
  gw = await startGateway(db.settings)
  const s = await request(`${gw.admin}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 's', url: `http://127.0.0.1:${port}` }) })
  assert.equal(s.statusCode, 201)
  await s.body.dump()
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await new Promise((resolve) => upstream?.close(resolve))
})

async function addRoute (path: string): Promise<void> {
  const r = await request(`${gw.admin}/services/s/routes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ paths: [path] }) })
  assert.equal(r.statusCode, 201)
  await r.body.dump()
  await gw.primary.sync() // every worker acknowledged the version that carries it
}

/** Every worker answers: requests on fresh connections until each worker id has served one. */
async function servedByAll (path: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const r = await request(gw.proxy + path, { reset: true })
    assert.equal(r.statusCode, 200, path)
    await r.body.dump()
  }
}

function worker0 (): WorkerState {
  const w = gw.primary.supervisor.workers.get(0)
  assert.ok(w !== undefined)
  return w
}

/** Posts a delta to worker 0 and resolves with its resync request, then the ack of the full snapshot. */
async function sendBadDelta (w: WorkerState, base: number, version: number, changes: unknown[]): Promise<{ resync: WorkerToPrimary; acked: number }> {
  const msgs: WorkerToPrimary[] = []
  const onMsg = (m: WorkerToPrimary): void => { msgs.push(m) }
  w.thread.on('message', onMsg)
  try {
    const bytes = encodeDelta({ base, version, hash: 'f'.repeat(32), changes: changes as never })
    w.thread.postMessage({ type: 'snapshot-delta', base, version, bytes })
    for (;;) {
      const resync = msgs.find((m) => m.type === 'snapshot-resync')
      const ack = resync === undefined ? undefined : msgs.slice(msgs.indexOf(resync)).find((m) => m.type === 'snapshot-ack')
      if (resync !== undefined && ack !== undefined && ack.type === 'snapshot-ack') return { resync, acked: ack.version }
      await once(w.thread, 'message')
    }
  } finally {
    w.thread.off('message', onMsg)
  }
}

test('delta: a delta on a base the worker does not serve makes it resync, and it keeps serving', async () => {
  await addRoute('/a')
  const w = worker0()
  const v = gw.primary.version()
  const { resync, acked } = await sendBadDelta(w, v + 5, v + 6, [])
  assert.equal(resync.type === 'snapshot-resync' && resync.version, v)
  assert.equal(acked, v)
  await servedByAll('/a/x')
  await addRoute('/b') // the next real delta applies on every worker
  await servedByAll('/b/x')
  assert.equal(gw.primary.supervisor.summary().every((s) => s.restarts === 0), true)
})

test('delta: a delta that fails to compile leaves the worker serving the last version, then the full snapshot', async () => {
  const w = worker0()
  const v = gw.primary.version()
  const bad = { id: '5d1c1f70-1d8d-4c2a-9d0b-52c5a7a7e001', protocols: 42, paths: ['/zz-bad'], service: null }
  const { resync, acked } = await sendBadDelta(w, v, v + 1, [{ table: 'routes', id: bad.id, row: bad }])
  assert.equal(resync.type === 'snapshot-resync' && resync.version, v)
  assert.equal(acked, v, 'the full snapshot of the current version, compiled again')
  await servedByAll('/a/x')
  const r = await request(gw.proxy + '/zz-bad', { reset: true })
  assert.equal(r.statusCode, 404, 'nothing of the bad delta is served')
  await r.body.dump()
  await addRoute('/c')
  await servedByAll('/c/x')
  assert.equal(gw.primary.supervisor.summary().every((s) => s.restarts === 0 && s.snapshot_version === gw.primary.version()), true)
})
