/**
 * The prometheus plugin against a real node (PostgreSQL, two workers, the Status API's /metrics):
 * which request series a request feeds follows the prometheus instance that applies to it
 * (Kong's scopes: route, service, global, consumer), with that instance's switches
 * (status_code_metrics, latency_metrics, bandwidth_metrics, per_consumer); without an enabled
 * instance the page holds only the node-level families (kong/plugins/prometheus/exporter.lua,
 * spec/03-plugins/26-prometheus 02-access_spec per-consumer metrics, 04-status_api_spec granular
 * metrics switch, 07-optional_fields_spec).
 *
 * The workers send their counts once a second: every scrape below waits until
 * sluice_requests_finished_total has every request this file sent, so counts are exact.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { freePort } from '../helpers/ports.ts'
import { startEcho, type Upstream } from '../helpers/upstream.ts'
import { adminCall, until, type AdminAnswer } from '../helpers/admin-api.ts'
import { parseMetrics, sumOf, type Family } from '../../src/metrics/parse.ts'

let db: TestDb
let gw: Gateway
let echo: Upstream
let status: string
let sent = 0
const ids: Record<string, string> = {}
const admin = (method: string, path: string, body?: unknown): Promise<AdminAnswer> => adminCall(gw.admin, method, path, body)

async function created (path: string, body: unknown): Promise<string> {
  const r = await admin('POST', path, body)
  assert.equal(r.status, 201, `${path}: ${JSON.stringify(r.json)}`)
  return r.json.id as string
}

async function send (path: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const codes: number[] = []
  for (let i = 0; i < n; i++) {
    const r = await request(`${gw.proxy}${path}`, { headers })
    await r.body.dump()
    sent++
    codes.push(r.statusCode)
  }
  return codes
}

/** The page once every request sent so far is in it. */
async function scrape (): Promise<{ text: string; m: Map<string, Family> }> {
  return await until('every request counted', async () => {
    const r = await request(`${status}/metrics`)
    assert.equal(r.statusCode, 200)
    const text = await r.body.text()
    const m = parseMetrics(text)
    return sumOf(m, 'sluice_requests_finished_total') === sent ? { text, m } : undefined
  }, 15_000)
}

const REQUEST_FAMILIES = ['kong_http_requests_total', 'kong_bandwidth_bytes', 'kong_kong_latency_ms', 'kong_request_latency_ms', 'kong_upstream_latency_ms']

before(async () => {
  echo = await startEcho()
  db = await createTestDb()
  const port = await freePort()
  status = `http://127.0.0.1:${port}`
  gw = await startGateway(db.settings, { status_listen: `127.0.0.1:${port}` })
  await created('/services', { name: 'svc-a', url: echo.url })
  await created('/services', { name: 'svc-b', url: echo.url })
  ids.a1 = await created('/services/svc-a/routes', { name: 'a1', paths: ['/a1'] })
  ids.a2 = await created('/services/svc-a/routes', { name: 'a2', paths: ['/a2'] })
  ids.b = await created('/services/svc-b/routes', { name: 'b', paths: ['/b'] })
  ids.k = await created('/services/svc-b/routes', { name: 'k', paths: ['/k'] })
  ids.k2 = await created('/services/svc-b/routes', { name: 'k2', paths: ['/k2'] })
  await created('/routes/k/plugins', { name: 'key-auth' })
  await created('/routes/k2/plugins', { name: 'key-auth' })
  ids.alice = await created('/consumers', { username: 'alice' })
  ids.bob = await created('/consumers', { username: 'bob' })
  ids.nameless = await created('/consumers', { custom_id: 'c-42' })
  await created('/consumers/alice/key-auth', { key: 'alice-key' })
  await created('/consumers/bob/key-auth', { key: 'bob-key' })
  await created(`/consumers/${ids.nameless}/key-auth`, { key: 'nameless-key' })
  await gw.primary.sync()
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await echo?.close()
})

test('no prometheus plugin: the page has the node-level families only, and the requests are not recorded', async () => {
  assert.deepEqual(await send('/a1', 3), [200, 200, 200])
  const { text, m } = await scrape()
  for (const name of [...REQUEST_FAMILIES, 'kong_nginx_metric_errors_total', 'kong_upstream_target_health']) assert.equal(text.includes(name), false, name)
  for (const name of ['kong_datastore_reachable', 'kong_memory_lua_shared_dict_bytes', 'kong_memory_workers_lua_vms_bytes', 'kong_nginx_connections_total', 'kong_nginx_requests_total', 'kong_nginx_timers', 'kong_node_info']) {
    assert.ok(m.has(name), name)
  }
  assert.equal(sumOf(m, 'kong_node_info', { node_id: gw.primary.nodeId }), 1)
  // Sluice's own node-wide latency still sees every request.
  assert.equal(sumOf(m, 'sluice_latency_us_count', { kind: 'request' }), sent)
})

test('scopes: each request follows the most specific instance (route, then service, then global), with its switches', async () => {
  ids.pg = await created('/plugins', { name: 'prometheus', config: { status_code_metrics: true } })
  ids.ps = await created('/services/svc-a/plugins', { name: 'prometheus', config: { latency_metrics: true } })
  ids.pr = await created('/routes/a2/plugins', { name: 'prometheus', config: { bandwidth_metrics: true } })
  await gw.primary.sync()
  assert.deepEqual(await send('/a1', 4), [200, 200, 200, 200])
  assert.deepEqual(await send('/a2', 5), [200, 200, 200, 200, 200])
  await send('/b', 6)
  await send('/b/_/status/503', 2)
  const { m } = await scrape()

  // a1: the service's instance (latency only). The 3 requests sent before any plugin are not in it.
  assert.equal(sumOf(m, 'kong_request_latency_ms_count', { service: 'svc-a', route: 'a1', workspace: 'default' }), 4)
  assert.equal(sumOf(m, 'kong_upstream_latency_ms_count', { route: 'a1' }), 4)
  assert.equal(sumOf(m, 'kong_kong_latency_ms_count', { route: 'a1' }), 4)
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'a1' }), 0)
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'a1' }), 0)
  // a2: the route's instance (bandwidth only) wins over the service's and the global one.
  const egress = sumOf(m, 'kong_bandwidth_bytes', { service: 'svc-a', route: 'a2', direction: 'egress', workspace: 'default', consumer: '' })
  assert.ok(egress > 5 * 100, `egress ${egress}: five echoed request descriptions`)
  assert.ok(sumOf(m, 'kong_bandwidth_bytes', { route: 'a2', direction: 'ingress' }) > 5 * 20)
  assert.equal(sumOf(m, 'kong_request_latency_ms_count', { route: 'a2' }), 0)
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'a2' }), 0)
  // b: the global instance (status codes only).
  assert.equal(sumOf(m, 'kong_http_requests_total', { service: 'svc-b', route: 'b', code: '200', source: 'service', workspace: 'default', consumer: '' }), 6)
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'b', code: '503', source: 'service' }), 2)
  assert.equal(sumOf(m, 'kong_request_latency_ms_count', { route: 'b' }), 0)
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'b' }), 0)
  assert.equal(sumOf(m, 'kong_nginx_metric_errors_total'), 0)
})

test('per_consumer with key-auth: the authenticated consumer\'s username labels counts and bandwidth; without the switch it is ""', async () => {
  ids.pk = await created('/routes/k/plugins', { name: 'prometheus', config: { per_consumer: true, status_code_metrics: true, bandwidth_metrics: true } })
  // A consumer-scoped instance applies to bob's requests once key-auth has identified him.
  ids.pc = await created('/consumers/bob/plugins', { name: 'prometheus', config: { per_consumer: true, status_code_metrics: true } })
  await gw.primary.sync()
  assert.deepEqual(await send('/k', 2, { apikey: 'alice-key' }), [200, 200])
  assert.deepEqual(await send('/k', 1), [401])
  assert.deepEqual(await send('/k', 1, { apikey: 'nameless-key' }), [200])
  // k2: the global instance (status codes, no per_consumer) for alice; bob's own instance for bob.
  assert.deepEqual(await send('/k2', 3, { apikey: 'alice-key' }), [200, 200, 200])
  assert.deepEqual(await send('/k2', 2, { apikey: 'bob-key' }), [200, 200])
  const { m } = await scrape()

  const k = { service: 'svc-b', route: 'k', workspace: 'default' }
  assert.equal(sumOf(m, 'kong_http_requests_total', { ...k, code: '200', source: 'service', consumer: 'alice' }), 2)
  // 02-access_spec: the 401 of key-auth is the gateway's, with no consumer
  assert.equal(sumOf(m, 'kong_http_requests_total', { ...k, code: '401', source: 'kong', consumer: '' }), 1)
  // a consumer without a username: ''
  assert.equal(sumOf(m, 'kong_http_requests_total', { ...k, code: '200', source: 'service', consumer: '' }), 1)
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'k' }), 4)
  assert.ok(sumOf(m, 'kong_bandwidth_bytes', { ...k, direction: 'egress', consumer: 'alice' }) > 0)
  assert.ok(sumOf(m, 'kong_bandwidth_bytes', { ...k, direction: 'ingress', consumer: 'alice' }) > 0)
  assert.ok(sumOf(m, 'kong_bandwidth_bytes', { ...k, direction: 'egress', consumer: '' }) > 0)

  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'k2', code: '200', consumer: '' }), 3)
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'k2', code: '200', consumer: 'alice' }), 0)
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'k2', code: '200', consumer: 'bob' }), 2)
})

test('disabling or removing the instances takes the request families off the page; enabling one brings the kept counts back', async () => {
  const before = await scrape()
  const b200 = sumOf(before.m, 'kong_http_requests_total', { route: 'b', code: '200' })
  assert.equal(b200, 6)
  for (const id of [ids.pg, ids.ps, ids.pr, ids.pk]) assert.equal((await admin('PATCH', `/plugins/${id!}`, { enabled: false })).status, 200)
  assert.equal((await admin('DELETE', `/plugins/${ids.pc!}`)).status, 204)
  await gw.primary.sync()
  await send('/b', 2)
  const off = await scrape()
  for (const name of [...REQUEST_FAMILIES, 'kong_nginx_metric_errors_total']) assert.equal(off.text.includes(name), false, name)
  assert.ok(off.m.has('kong_nginx_requests_total'))

  assert.equal((await admin('PATCH', `/plugins/${ids.pg!}`, { enabled: true })).status, 200)
  await gw.primary.sync()
  const on = await scrape()
  // the two requests sent while no instance applied were not counted
  assert.equal(sumOf(on.m, 'kong_http_requests_total', { route: 'b', code: '200' }), 6)
  assert.equal(sumOf(on.m, 'kong_request_latency_ms_count', { route: 'a1' }), 4)
  await send('/b', 1)
  assert.equal(sumOf((await scrape()).m, 'kong_http_requests_total', { route: 'b', code: '200' }), 7)
})
