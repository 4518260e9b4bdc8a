/**
 * The primary's worker start (src/primary/workers.ts Supervisor.start) with real worker threads:
 * a first snapshot the workers refuse (`snapshot-error`) fails the start at once, naming the
 * worker and its message, and the workers are stopped the ordinary way (listen sockets closed,
 * clean exit) before start() rejects, so nothing is left listening; a refused snapshot that a
 * newer one has already replaced does not; and a snapshot refused once the workers serve leaves
 * them serving the previous one.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { encodeSnapshot } from '../../src/common/codec.ts'
import { configureLog } from '../../src/common/log.ts'
import { loadConfig, type Config } from '../../src/config/load.ts'
import { Supervisor } from '../../src/primary/workers.ts'
import { freePort } from '../helpers/ports.ts'
import { startEcho, type Received, type Upstream } from '../helpers/upstream.ts'
import { route, service, snapshot } from '../helpers/worker-harness.ts'

configureLog(process.env.SLUICE_TEST_LOG ?? 'crit')

/** Bytes no worker can decode: its compile throws, it answers `snapshot-error`. */
const UNDECODABLE = new Uint8Array([0xc1, 0xc1, 0xc1])

let echo: Upstream
let prefix: string

before(async () => {
  echo = await startEcho()
  prefix = mkdtempSync(join(tmpdir(), 'sluice-sup-start-'))
})

after(async () => {
  await echo?.close()
  if (prefix !== undefined) rmSync(prefix, { recursive: true, force: true })
})

async function nodeConfig (): Promise<{ config: Config; port: number }> {
  const port = await freePort()
  const config = loadConfig({
    env: {},
    overrides: {
      prefix,
      proxy_listen: `127.0.0.1:${port}`,
      admin_listen: 'off',
      status_listen: 'off',
      nginx_worker_processes: '2',
      drain_timeout: '500',
      log_level: process.env.SLUICE_TEST_LOG ?? 'crit',
    },
  })
  return { config, port }
}

/** Exit codes of the supervisor's worker threads, by worker id, as they come. */
function exitCodes (sup: Supervisor): Map<number, number> {
  const codes = new Map<number, number>()
  sup.on('exit', (id: number, code: number) => { codes.set(id, code) })
  return codes
}

/** Binding the port with no SO_REUSEPORT fails while any worker still listens on it. */
async function portIsFree (port: number): Promise<void> {
  const s = createServer()
  s.listen(port, '127.0.0.1')
  await once(s, 'listening')
  await new Promise<void>((resolve) => s.close(() => resolve()))
}

async function get (port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await request(`http://127.0.0.1:${port}${path}`)
  return { status: r.statusCode, body: await r.body.text() }
}

test('a first snapshot the workers refuse fails the start with the worker and its message; the workers stop cleanly', async () => {
  const { config, port } = await nodeConfig()
  const sup = new Supervisor(config)
  const codes = exitCodes(sup)
  await assert.rejects(sup.start({ version: 1, bytes: UNDECODABLE }), (err: Error) => {
    assert.match(err.message, /^worker [01] could not start: it rejected configuration snapshot 1: \S/)
    return true
  })
  // start() returned only after every thread exited, each through its own shutdown (exit code 0;
  // a terminated thread would exit with 1)
  assert.equal(sup.workers.size, 0)
  assert.deepEqual([...codes.entries()].sort(), [[0, 0], [1, 0]])
  await portIsFree(port)
  await sup.stop(0) // what a caller's cleanup does after a failed start: nothing left to stop
})

test('a worker that already listens when the start fails closes its listener before it exits', async () => {
  const { config, port } = await nodeConfig()
  const sup = new Supervisor(config)
  const codes = exitCodes(sup)
  const ready: number[] = []
  sup.on('ready', (id: number) => { ready.push(id) })
  const started = sup.start({ version: 1, bytes: UNDECODABLE })
  // Worker 0 also gets a snapshot it can serve, queued behind the one it refuses: it listens (and
  // says `ready`) before the shutdown that the failed start sends it. Worker 1 only refuses.
  const svc = service({ host: '127.0.0.1', port: echo.port })
  sup.sendTo(0, { type: 'snapshot', version: 1, bytes: encodeSnapshot(snapshot([svc], [route({ paths: ['/app'] }, svc)], 1)) })
  await assert.rejects(started, /^Error: worker [01] could not start: it rejected configuration snapshot 1: \S/)
  assert.deepEqual(ready, [0])
  assert.equal(sup.workers.size, 0)
  assert.deepEqual([...codes.entries()].sort(), [[0, 0], [1, 0]])
  await portIsFree(port)
})

test('a refused snapshot already replaced by a newer one does not fail the start', async () => {
  const { config, port } = await nodeConfig()
  const sup = new Supervisor(config)
  const errors: Array<[number, number]> = []
  sup.on('snapshot-error', (id: number, version: number) => { errors.push([id, version]) })
  const started = sup.start({ version: 1, bytes: UNDECODABLE })
  const svc = service({ host: '127.0.0.1', port: echo.port, path: '/v2' })
  sup.broadcast({ version: 2, bytes: encodeSnapshot(snapshot([svc], [route({ paths: ['/app'] }, svc)], 2)) })
  try {
    await started
    assert.deepEqual(errors.sort(), [[0, 1], [1, 1]])
    assert.deepEqual(sup.summary().map((w) => [w.id, w.state, w.snapshot_version]), [[0, 'serving', 2], [1, 'serving', 2]])
    const r = await get(port, '/app/x')
    assert.equal(r.status, 200)
    assert.equal((JSON.parse(r.body) as Received).url, '/v2/x')
  } finally {
    await sup.stop(500)
  }
})

test('a snapshot refused once the workers serve leaves them serving the previous one', async () => {
  const { config, port } = await nodeConfig()
  const sup = new Supervisor(config)
  const svc = service({ host: '127.0.0.1', port: echo.port, path: '/v1' })
  await sup.start({ version: 1, bytes: encodeSnapshot(snapshot([svc], [route({ paths: ['/app'] }, svc)], 1)) })
  try {
    const refused = new Set<number>()
    const bothRefused = new Promise<void>((resolve) => {
      sup.on('snapshot-error', (id: number, version: number) => {
        if (version === 2) refused.add(id)
        if (refused.size === 2) resolve()
      })
    })
    sup.broadcast({ version: 2, bytes: UNDECODABLE })
    await bothRefused
    assert.deepEqual(sup.summary().map((w) => [w.id, w.state, w.snapshot_version]), [[0, 'serving', 1], [1, 'serving', 1]])
    for (let i = 0; i < 4; i++) {
      const r = await get(port, `/app/${i}`)
      assert.equal(r.status, 200)
      assert.equal((JSON.parse(r.body) as Received).url, `/v1/${i}`)
    }
  } finally {
    await sup.stop(500)
  }
})
