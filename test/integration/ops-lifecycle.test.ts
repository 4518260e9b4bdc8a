/**
 * The service lifecycle as an operator (or systemd) drives it, each step a separate `sluice`
 * process acting on a node through its pid file and configuration file: readiness before and
 * after the first snapshot, start, reload with a changed configuration while traffic flows, a
 * refused reload, log reopening, quit with a drain wait, stop.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { parseMetrics, sumOf } from '../../src/metrics/parse.ts'
import { foreground, opsNode, reloadWithoutResets, simpleUpstream, waitFor, type OpsNode } from './ops-harness.ts'

const dbs: TestDb[] = []
const nodes: OpsNode[] = []
after(async () => {
  for (const n of nodes) {
    await n.cli(['stop', '-t', '20']).catch(() => {})
    rmSync(n.prefix, { recursive: true, force: true })
  }
  for (const d of dbs) await d.drop()
})

async function get (url: string, opts: { close?: boolean } = {}): Promise<{ status: number; text: string }> {
  const r = await request(url, { reset: opts.close === true, headersTimeout: 10_000, bodyTimeout: 10_000 })
  return { status: r.statusCode, text: await r.body.text() }
}

async function post (url: string, body: unknown): Promise<number> {
  const r = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  await r.body.dump()
  return r.statusCode
}

test('ops: /status/ready is 503 before the first snapshot, 200 once every worker serves it, 503 draining on quit -w', async () => {
  const db = await createTestDb()
  dbs.push(db)
  const node = await opsNode(db)
  // Hold the first configuration load: the node's SELECT on services waits for this lock.
  const locker = await db.pool.connect()
  await locker.query('begin')
  await locker.query('lock table services in access exclusive mode')
  const fg = foreground(node)
  try {
    const first = await waitFor('the Status API', async () => {
      const r = await get(`${node.status}/status/ready`)
      return r
    }, 60_000)
    assert.equal(first.status, 503, first.text)
    assert.deepEqual(JSON.parse(first.text), { message: 'no configuration available' })
    const metrics = parseMetrics((await get(`${node.status}/metrics`)).text)
    assert.equal(sumOf(metrics, 'sluice_ready'), 0)
    const status = JSON.parse((await get(`${node.status}/status`)).text) as { database: { reachable: boolean }; sluice: { ready: { ok: boolean } } }
    assert.equal(status.sluice.ready.ok, false)
    await sleep(300)
    assert.equal((await get(`${node.status}/status/ready`)).status, 503, 'still no configuration while the load waits')
  } finally {
    await locker.query('commit')
    locker.release()
  }
  const ready = await waitFor('readiness', async () => {
    const r = await get(`${node.status}/status/ready`)
    return r.status === 200 ? r : null
  }, 60_000)
  assert.deepEqual(JSON.parse(ready.text), { message: 'ready' })
  assert.equal(sumOf(parseMetrics((await get(`${node.status}/metrics`)).text), 'sluice_ready'), 1)
  const h = await node.cli(['health'])
  assert.equal(h.code, 0, h.out + h.err)
  assert.match(h.out, /ready\.+yes/)

  // quit -w 2: readiness goes 503 "draining" first while the proxy still serves, then the node stops.
  const quitting = node.cli(['quit', '-w', '2', '-t', '20'])
  const draining = await waitFor('draining', async () => {
    const r = await get(`${node.status}/status/ready`)
    return r.status === 503 ? r : null
  }, 10_000)
  assert.deepEqual(JSON.parse(draining.text), { message: 'draining' })
  assert.equal((await get(`${node.proxy}/anything`)).status, 404, 'still proxying (no route: 404) while draining')
  const q = await quitting
  assert.equal(q.code, 0, q.out + q.err)
  assert.equal(await fg.exited, 0, fg.output())
  assert.match(fg.output(), /SIGQUIT received: draining/)
})

test('ops: start, reload with more workers under traffic (no failed request), refused reload, reopen, stop', async (t) => {
  const db = await createTestDb()
  dbs.push(db)
  const up = await simpleUpstream()
  const node = await opsNode(db)
  nodes.push(node)
  try {
    const started = await node.cli(['start'])
    assert.equal(started.code, 0, started.out + started.err)
    assert.match(started.out, /Sluice started \(pid \d+\)/)
    const pid = Number(readFileSync(join(node.prefix, 'sluice.pid'), 'utf8'))
    assert.equal(await post(`${node.admin}/services`, { name: 'up', url: up.url }), 201)
    assert.equal(await post(`${node.admin}/services/up/routes`, { name: 'r', paths: ['/r'] }), 201)
    await waitFor('the route', async () => (await get(`${node.proxy}/r/ok`)).status === 200)

    let h = await node.cli(['health'])
    assert.equal(h.code, 0, h.out + h.err)
    assert.match(h.out, /worker 1\.+running/)
    assert.doesNotMatch(h.out, /worker 2/)

    // Traffic on fresh connections through the whole reload.
    const statuses = new Map<number | string, number>()
    let running = true
    let during = 0
    let reloading = false
    const client = async (): Promise<void> => {
      while (running) {
        let k: number | string
        try { k = (await get(`${node.proxy}/r/ok`, { close: true })).status } catch (err) { k = (err as { code?: string }).code ?? String(err) }
        statuses.set(k, (statuses.get(k) ?? 0) + 1)
        if (reloading) during++
      }
    }
    const clients = [client(), client(), client(), client()]
    await sleep(300)
    node.write({ nginx_worker_processes: '3', log_level: 'info' })
    reloading = true
    const reloaded = await node.cli(['reload'])
    reloading = false
    await sleep(500)
    running = false
    await Promise.all(clients)
    assert.equal(reloaded.code, 0, reloaded.out + reloaded.err)
    assert.match(reloaded.out, /Sluice reloaded: .*generation 2, 3 worker\(s\), changed: (log_level, nginx_worker_processes|nginx_worker_processes, log_level)/)
    assert.ok(during > 0, 'requests were in flight during the reload')
    const strict = reloadWithoutResets()
    if (strict.ok) {
      assert.deepEqual([...statuses.keys()], [200], `every request succeeded: ${JSON.stringify([...statuses])}`)
    } else {
      // Without both, a connection queued on (or just accepted by) an old worker's listener may be
      // reset or closed before its request is read: never an HTTP error, and rare.
      t.diagnostic(`no-reset guarantee not checked: ${strict.why}; outcomes ${JSON.stringify([...statuses])}`)
      const total = [...statuses.values()].reduce((a, b) => a + b, 0)
      for (const [k, n] of statuses) {
        if (k === 200) continue
        assert.ok(k === 'ECONNRESET' || k === 'UND_ERR_SOCKET', `only connections closed without an answer, never an HTTP error: ${JSON.stringify([...statuses])}`)
        assert.ok(n <= Math.max(5, total / 100), `resets stay rare: ${JSON.stringify([...statuses])}`)
      }
    }

    h = await node.cli(['health'])
    assert.equal(h.code, 0, h.out + h.err)
    assert.match(h.out, /worker 2\.+running/)
    assert.match(h.out, /ready\.+yes/)
    let m = parseMetrics((await get(`${node.status}/metrics`)).text)
    assert.equal(sumOf(m, 'sluice_workers', { state: 'serving' }), 3)
    assert.equal(sumOf(m, 'sluice_config_reloads_total', { result: 'ok' }), 1)

    // A configuration that does not load: `sluice reload` refuses it before signalling ...
    node.write({ nginx_worker_processes: 'banana' })
    const refused = await node.cli(['reload'])
    assert.equal(refused.code, 1)
    assert.match(refused.err, /nginx_worker_processes: expected 'auto' or a number/)
    // ... and a node sent SIGHUP anyway keeps running on its configuration.
    const asked = Date.now()
    process.kill(pid, 'SIGHUP')
    const state = await waitFor('the reload outcome', async () => {
      const s = JSON.parse(readFileSync(join(node.prefix, 'reload.json'), 'utf8')) as { at: number; ok: boolean; message: string }
      return s.at >= asked ? s : null
    })
    assert.equal(state.ok, false)
    assert.match(state.message, /reload refused, the node keeps its configuration: nginx_worker_processes/)
    assert.equal((await get(`${node.proxy}/r/ok`)).status, 200)
    node.write({ nginx_worker_processes: '3' })
    h = await node.cli(['health'])
    assert.equal(h.code, 0, h.out + h.err)
    m = parseMetrics((await get(`${node.status}/metrics`)).text)
    assert.equal(sumOf(m, 'sluice_config_reloads_total', { result: 'failed' }), 1)
    assert.equal(sumOf(m, 'sluice_workers', { state: 'serving' }), 3)

    // logrotate: move the error log away, reopen, the node writes to a new file.
    const errorLog = join(node.prefix, 'logs', 'error.log')
    assert.match(readFileSync(errorLog, 'utf8'), /reloaded in \d+ ms: generation 2/)
    renameSync(errorLog, `${errorLog}.1`)
    const reopened = await node.cli(['reopen'])
    assert.equal(reopened.code, 0, reopened.err)
    await waitFor('a new error log', async () => existsSync(errorLog) && /logs reopened/.test(readFileSync(errorLog, 'utf8')))
    assert.doesNotMatch(readFileSync(errorLog, 'utf8'), /generation 2/)

    const stopped = await node.cli(['stop'])
    assert.equal(stopped.code, 0, stopped.err)
    const down = await node.cli(['health'])
    assert.notEqual(down.code, 0)
    assert.match(down.err, /not running/)
    await assert.rejects(get(`${node.status}/status/ready`))
  } finally {
    await up.close()
  }
})
