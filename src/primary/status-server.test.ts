import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { request } from 'undici'
import { loadConfig } from '../config/load.ts'
import { parseMetrics, sumOf } from '../metrics/parse.ts'
import { bytesToStr, startStatusServer } from './status-server.ts'
import type { Supervisor } from './workers.ts'

class FakeSupervisor extends EventEmitter {
  workers = new Map<number, { id: number; threadId: number; state: string }>()
  summary () {
    return [...this.workers.values()].map((w) => ({ id: w.id, thread_id: w.threadId, state: w.state, snapshot_version: 1, compile_ms: 0, requests: 0, connections: 0, restarts: 0 }))
  }
}

async function call (url: string, method = 'GET', body?: string): Promise<{ status: number; text: string; type: string }> {
  const r = await request(url, { method: method as 'GET', body, headers: body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {} })
  return { status: r.statusCode, text: await r.body.text(), type: String(r.headers['content-type'] ?? '') }
}

test('status API: readiness follows the snapshot and the workers; draining; /status units; /metrics', async () => {
  const sup = new FakeSupervisor()
  let snapshot: { version: number; hash: string } | null = null
  const config = loadConfig({ env: {}, overrides: { prefix: '/tmp/sluice-status-unit', status_listen: '127.0.0.1:0' } })
  const s = await startStatusServer(config, { nodeId: 'node-1', pool: null, supervisor: () => sup as unknown as Supervisor, snapshot: () => snapshot })
  const base = `http://127.0.0.1:${s.ports[0]}`
  try {
    const ready = async (): Promise<[number, string]> => { const r = await call(`${base}/status/ready`); return [r.status, (JSON.parse(r.text) as { message: string }).message] }
    assert.deepEqual(await ready(), [503, 'no configuration available'])
    snapshot = { version: 1, hash: 'abc' }
    assert.deepEqual(await ready(), [503, 'no configuration available (no worker started yet)'])
    sup.workers.set(0, { id: 0, threadId: 5, state: 'serving' })
    sup.workers.set(1, { id: 1, threadId: 6, state: 'starting' })
    assert.deepEqual(await ready(), [503, 'router builds not yet complete, router ready in 1 of 2 workers'])
    sup.workers.get(1)!.state = 'serving'
    assert.deepEqual(await ready(), [200, 'ready'])

    // The metrics store hears the workers' deltas through the attached supervisor.
    s.attach(sup as unknown as Supervisor)
    sup.emit('metrics-delta', { id: 0, threadId: 5 }, { bogus: true })
    let m = parseMetrics((await call(`${base}/metrics`)).text)
    assert.equal(sumOf(m, 'kong_nginx_metric_errors_total'), 1)
    assert.equal(sumOf(m, 'sluice_ready'), 1)
    s.detach(sup as unknown as Supervisor)
    sup.emit('metrics-delta', { id: 0, threadId: 5 }, { bogus: true })
    m = parseMetrics((await call(`${base}/metrics`)).text)
    assert.equal(sumOf(m, 'kong_nginx_metric_errors_total'), 1)

    const st = await call(`${base}/status?unit=k&scale=1`)
    assert.equal(st.status, 200)
    assert.match(st.type, /^application\/json/)
    const body = JSON.parse(st.text) as { memory: { workers_lua_vms: Array<{ http_allocated_gc: string; pid: number }> }; server: Record<string, number>; database: { reachable: boolean }; configuration_hash: string }
    assert.deepEqual(body.memory.workers_lua_vms, [{ http_allocated_gc: '0.0 KiB', pid: 5 }, { http_allocated_gc: '0.0 KiB', pid: 6 }])
    assert.equal(body.database.reachable, true)
    assert.equal(body.configuration_hash, 'abc')
    assert.deepEqual(Object.keys(body.server).sort(), ['connections_accepted', 'connections_active', 'connections_handled', 'connections_reading', 'connections_waiting', 'connections_writing', 'total_requests'])
    const bad = await call(`${base}/status?unit=x`)
    assert.equal(bad.status, 400)
    assert.deepEqual(JSON.parse(bad.text), { message: "invalid unit 'x' (expected 'k/K', 'm/M', or 'g/G')" })

    assert.equal((await call(`${base}/status/ready`, 'POST', 'status=other')).status, 400)
    assert.equal((await call(`${base}/status/ready`, 'POST', 'status=draining')).status, 204)
    assert.deepEqual(await ready(), [503, 'draining'])
    assert.equal((await call(`${base}/nope`)).status, 404)
    assert.equal((await call(`${base}/metrics`, 'DELETE')).status, 405)
  } finally {
    await s.close()
  }
  assert.equal(bytesToStr(5497558), '5497558')
  assert.equal(bytesToStr(5497558, 'm'), '5.24 MiB')
  assert.equal(bytesToStr(5497558, 'G', 3), '0.005 GiB')
})

test('status API: status_listen off binds nothing; a port in use fails start-up with the key named', async () => {
  const off = await startStatusServer(loadConfig({ env: {}, overrides: { prefix: '/tmp/x', status_listen: 'off' } }), { nodeId: 'n', pool: null, supervisor: () => new FakeSupervisor() as unknown as Supervisor, snapshot: () => null })
  assert.deepEqual(off.ports, [])
  await off.close()
  const first = await startStatusServer(loadConfig({ env: {}, overrides: { prefix: '/tmp/x', status_listen: '127.0.0.1:0' } }), { nodeId: 'n', pool: null, supervisor: () => new FakeSupervisor() as unknown as Supervisor, snapshot: () => null })
  try {
    await assert.rejects(startStatusServer(loadConfig({ env: {}, overrides: { prefix: '/tmp/x', status_listen: `127.0.0.1:${first.ports[0]}` } }), { nodeId: 'n', pool: null, supervisor: () => new FakeSupervisor() as unknown as Supervisor, snapshot: () => null }), /status_listen: .*EADDRINUSE/)
  } finally {
    await first.close()
  }
})
