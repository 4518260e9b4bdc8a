/**
 * /metrics against real traffic: a node started as an operator would, requests of known outcome
 * (proxied 200s, upstream 500s, unrouted 404s), then the exposition parsed and its counts checked
 * against what was sent, with Kong's metric names, labels and buckets; the access log agrees.
 * The request families come from a global prometheus plugin with status, latency and bandwidth
 * metrics on (the plugin's log step in metrics-recorder.ts), the node-wide ones from
 * recordRequest in lifecycle.ts maybeFinish; the `metrics-delta` message in worker/main.ts and
 * primary/workers.ts carries them.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { parseMetrics, sumOf, type Family } from '../../src/metrics/parse.ts'
import { KONG_LATENCY_BUCKETS, UPSTREAM_LATENCY_BUCKETS } from '../../src/metrics/buckets.ts'
import { opsNode, simpleUpstream, waitFor, type OpsNode } from './ops-harness.ts'

const dbs: TestDb[] = []
const nodes: OpsNode[] = []
after(async () => {
  for (const n of nodes) {
    await n.cli(['stop', '-t', '20']).catch(() => {})
    rmSync(n.prefix, { recursive: true, force: true })
  }
  for (const d of dbs) await d.drop()
})

async function send (url: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await request(url, { headers })
  await r.body.dump()
  return r.statusCode
}

async function post (url: string, body: unknown): Promise<number> {
  const r = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  await r.body.dump()
  return r.statusCode
}

async function scrape (node: OpsNode): Promise<Map<string, Family>> {
  const r = await request(`${node.status}/metrics`)
  assert.equal(r.statusCode, 200)
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  return parseMetrics(await r.body.text())
}

test('ops: /metrics counts real traffic with Kong\'s names, labels and buckets; the access log agrees', async () => {
  const db = await createTestDb()
  dbs.push(db)
  const up = await simpleUpstream()
  const node = await opsNode(db, { proxy_access_log: 'logs/access.log json' })
  nodes.push(node)
  try {
    const started = await node.cli(['start'])
    assert.equal(started.code, 0, started.out + started.err)
    // Without a prometheus plugin the page has only the node-level families (Kong's exporter).
    const bare = await scrape(node)
    assert.equal(bare.has('kong_http_requests_total'), false)
    assert.ok(bare.has('kong_node_info') && bare.has('kong_nginx_requests_total'))
    // The request families are Kong's prometheus plugin's: a global instance with its switches on.
    assert.equal(await post(`${node.admin}/plugins`, { name: 'prometheus', config: { status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true } }), 201)
    assert.equal(await post(`${node.admin}/services`, { name: 'echo-svc', url: up.url }), 201)
    assert.equal(await post(`${node.admin}/services/echo-svc/routes`, { name: 'ok-route', paths: ['/m'] }), 201)
    // A service without a name is labelled by its host, a route without a name by its id (Kong).
    const svc = await request(`${node.admin}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `${up.url}/fail` }) })
    const svcId = (await svc.body.json() as { id: string }).id
    const rt = await request(`${node.admin}/services/${svcId}/routes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ paths: ['/f'] }) })
    const routeId = (await rt.body.json() as { id: string }).id
    // Every warm-up request is counted (404s while the routes propagate included), so count them
    // and take the baseline only when all have reached the exposition: a baseline taken while
    // warm-up deltas are still in flight would make the exact count below overshoot.
    let warmup = 0
    await waitFor('both routes', async () => {
      warmup++
      if ((await send(`${node.proxy}/m/ok`)) !== 200) return false
      warmup++
      return (await send(`${node.proxy}/f`)) === 500
    })
    const before = await waitFor('the warm-up counted', async () => {
      const m = await scrape(node)
      return sumOf(m, 'sluice_requests_finished_total') === warmup ? m : null
    }, 15_000, 100)
    const base = {
      ok: sumOf(before, 'kong_http_requests_total', { route: 'ok-route' }),
      fail: sumOf(before, 'kong_http_requests_total', { route: routeId }),
      all: sumOf(before, 'sluice_requests_finished_total'),
    }

    const OK = 25
    const FAIL = 7
    const UNROUTED = 5
    for (let i = 0; i < OK; i++) assert.equal(await send(`${node.proxy}/m/ok?i=${i}`, { 'user-agent': 'ops-test' }), 200)
    for (let i = 0; i < FAIL; i++) assert.equal(await send(`${node.proxy}/f`), 500)
    for (let i = 0; i < UNROUTED; i++) assert.equal(await send(`${node.proxy}/nowhere`), 404)

    const m = await waitFor('the deltas', async () => {
      const x = await scrape(node)
      return sumOf(x, 'sluice_requests_finished_total') === base.all + OK + FAIL + UNROUTED ? x : null
    }, 15_000, 200)

    const okLabels = { service: 'echo-svc', route: 'ok-route', code: '200', source: 'service', workspace: 'default', consumer: '' }
    assert.equal(sumOf(m, 'kong_http_requests_total', okLabels) - base.ok, OK)
    assert.equal(sumOf(m, 'kong_http_requests_total', { service: '127.0.0.1', route: routeId, code: '500', source: 'service' }) - base.fail, FAIL)
    assert.equal(sumOf(m, 'kong_http_requests_total', { code: '404' }), 0, 'Kong does not count requests without a route')

    for (const [name, bounds] of [['kong_request_latency_ms', UPSTREAM_LATENCY_BUCKETS], ['kong_upstream_latency_ms', UPSTREAM_LATENCY_BUCKETS], ['kong_kong_latency_ms', KONG_LATENCY_BUCKETS]] as const) {
      const f = m.get(name)!
      assert.equal(f.type, 'histogram')
      const les = f.samples.filter((s) => s.name === `${name}_bucket` && s.labels.route === 'ok-route').map((s) => s.labels.le)
      assert.deepEqual(les, [...bounds.map(String), '+Inf'], name)
      assert.equal(sumOf(m, `${name}_count`, { service: 'echo-svc', route: 'ok-route', workspace: 'default' }), base.ok + OK, name)
    }
    // Loopback requests are fast: nearly all in the first buckets.
    assert.ok(sumOf(m, 'kong_request_latency_ms_bucket', { route: 'ok-route', le: '25' }) >= OK - 2)
    assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'ok-route', direction: 'egress' }), (base.ok + OK) * 'hello'.length)
    assert.ok(sumOf(m, 'kong_bandwidth_bytes', { route: 'ok-route', direction: 'ingress' }) > OK * 20)
    assert.equal(sumOf(m, 'sluice_latency_us_count', { kind: 'request' }), base.all + OK + FAIL + UNROUTED)
    const heap = m.get('kong_memory_workers_lua_vms_bytes')!.samples
    assert.equal(heap.length, 2, 'one memory gauge per worker')
    for (const s of heap) assert.ok(s.value > 1_000_000)
    assert.equal(sumOf(m, 'kong_nginx_metric_errors_total'), 0)
    assert.equal(sumOf(m, 'kong_datastore_reachable'), 1)

    // The access log (json) has one line per request, with the same outcomes.
    const lines = readFileSync(join(node.prefix, 'logs', 'access.log'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const ours = lines.filter((l) => l.user_agent === 'ops-test')
    assert.equal(ours.length, OK)
    assert.ok(ours.every((l) => l.status === 200 && l.route === 'ok-route' && l.service === 'echo-svc' && l.body_bytes_sent === 5))
    assert.equal(lines.filter((l) => l.status === 404 && l.uri === '/nowhere').length, UNROUTED)

    // logrotate: the workers reopen the access log on `sluice reopen` (SIGUSR1).
    const accessLog = join(node.prefix, 'logs', 'access.log')
    renameSync(accessLog, `${accessLog}.1`)
    assert.equal((await node.cli(['reopen'])).code, 0)
    await waitFor('the reopened access log', async () => {
      await send(`${node.proxy}/m/ok?after=reopen`)
      return existsSync(accessLog) && readFileSync(accessLog, 'utf8').includes('after=reopen')
    }, 10_000, 200)
    assert.doesNotMatch(readFileSync(accessLog, 'utf8'), /ops-test/)
  } finally {
    await up.close()
  }
})
