/**
 * A worker thread that dies is replaced by the primary at once (no back-off: the new thread starts
 * in the same turn as the exit is seen), and the node keeps serving: only requests in flight on
 * that worker may fail. How long the new thread takes to boot depends on the machine's load, so
 * the test checks the order of events, not a wall-clock bound.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

let db: TestDb
let gw: Gateway
let upstream: Server

before(async () => {
  upstream = createServer((_req, res) => { res.end('ok') })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  db = await createTestDb()
  gw = await startGateway(db.settings)
  const port = (upstream.address() as { port: number }).port
  for (const [path, body] of [['/services', { name: 's', url: `http://127.0.0.1:${port}` }], ['/services/s/routes', { paths: ['/'] }]] as const) {
    const r = await request(gw.admin + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    assert.equal(r.statusCode, 201)
    await r.body.dump()
  }
  await gw.primary.sync()
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await new Promise((resolve) => upstream?.close(resolve))
})

test('faults: a crashed worker is replaced at once and serves the current snapshot', async () => {
  const sup = gw.primary.supervisor
  const victim = sup.workers.get(0)!
  const oldThread = victim.threadId
  const ready = once(sup, 'ready')
  // Right after the 'exit' event's turn, the replacement must already be starting.
  const startedOnExit = once(sup, 'exit').then(() => new Promise<number | undefined>((resolve) => { queueMicrotask(() => { resolve(sup.workers.get(0)?.threadId) }) }))
  // The worker leaves as a crashing one would, from the supervisor's point of view: it exits while
  // the supervisor counts it as serving. (worker.terminate() cannot stand in for a crash: with uWS
  // sockets open, Node aborts the whole process on a terminated thread; see README known limits.)
  victim.thread.postMessage({ type: 'shutdown', graceMs: 0 })
  const starting = await startedOnExit
  assert.ok(starting !== undefined && starting !== oldThread, 'no replacement thread was started when the worker exited')
  const [id] = await ready as [number]
  assert.equal(id, 0)
  const replacement = sup.workers.get(0)!
  assert.equal(replacement.threadId, starting)
  assert.notEqual(replacement.threadId, oldThread)
  assert.equal(replacement.restarts, 1)
  assert.equal(replacement.snapshotVersion, gw.primary.version())
  let ok = 0
  for (let i = 0; i < 50; i++) {
    const r = await request(gw.proxy + '/x')
    await r.body.dump()
    if (r.statusCode === 200) ok++
  }
  assert.equal(ok, 50)
})
