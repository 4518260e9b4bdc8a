/**
 * /metrics families of Kong's prometheus exporter that are not per request, against a real node
 * (PostgreSQL, two workers, the Status API): kong_nginx_timers, the shared dicts (Sluice's
 * rate-limit counter table), the workers' memory, and kong_upstream_target_health, which Kong
 * writes only while a prometheus plugin has upstream_health_metrics (spec/03-plugins/26-prometheus
 * 02-access_spec and 04-status_api_spec).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { freePort } from '../helpers/ports.ts'
import { startEcho, type Upstream } from '../helpers/upstream.ts'
import { adminCall, type AdminAnswer } from '../helpers/admin-api.ts'
import { parseMetrics, sumOf, type Family } from '../../src/metrics/parse.ts'

let db: TestDb
let gw: Gateway
let echo: Upstream
let status: string
const admin = (method: string, path: string, body?: unknown): Promise<AdminAnswer> => adminCall(gw.admin, method, path, body)

async function scrape (): Promise<{ text: string; m: Map<string, Family> }> {
  const r = await request(`${status}/metrics`)
  assert.equal(r.statusCode, 200)
  const text = await r.body.text()
  return { text, m: parseMetrics(text) }
}

before(async () => {
  echo = await startEcho()
  db = await createTestDb()
  const port = await freePort()
  status = `http://127.0.0.1:${port}`
  gw = await startGateway(db.settings, { status_listen: `127.0.0.1:${port}` })
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await echo?.close()
})

test('node families: timers, shared dicts and worker memory with Kong\'s labels', async () => {
  const { text, m } = await scrape()
  const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
  // Kong's 04-status_api_spec: kong_nginx_timers{state="running"} %d+ and {state="pending"}
  assert.match(text, /^kong_nginx_timers\{state="running"\} 0$/m)
  assert.match(text, /^kong_nginx_timers\{state="pending"\} \d+$/m)
  assert.ok(sumOf(m, 'kong_nginx_timers', { state: 'pending' }) >= 1, 'the primary has timers armed (sync, rate-limit flush)')
  assert.deepEqual(m.get('kong_nginx_timers')!.samples.map((s) => Object.keys(s.labels)), [['state'], ['state']])
  // 02-access_spec: kong_memory_workers_lua_vms_bytes{node_id=UUID,pid=%d+,kong_subsystem="http"} %d+
  const vms = await (async () => {
    for (let i = 0; i < 50; i++) { // the workers' first deltas (once a second)
      // the family is written once it has a sample
      const f = (await scrape()).m.get('kong_memory_workers_lua_vms_bytes')
      if (f !== undefined && f.samples.length === 2) return f
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.fail('no memory gauge per worker')
  })()
  for (const s of vms.samples) {
    assert.match(s.labels.node_id!, new RegExp(`^${UUID}$`))
    assert.match(s.labels.pid!, /^\d+$/)
    assert.equal(s.labels.kong_subsystem, 'http')
    assert.ok(s.value > 1_000_000)
  }
  // 02-access_spec: kong_memory_lua_shared_dict_total_bytes{node_id=UUID,shared_dict=..,kong_subsystem="http"} %d+
  assert.match(text, new RegExp(`^kong_memory_lua_shared_dict_total_bytes\\{node_id="${UUID}",shared_dict="kong_rate_limiting_counters",kong_subsystem="http"\\} \\d+$`, 'm'))
  const bytes = gw.primary.rateLimit.initMessage().table.byteLength
  assert.equal(sumOf(m, 'kong_memory_lua_shared_dict_total_bytes', { shared_dict: 'kong_rate_limiting_counters' }), bytes)
  assert.equal(sumOf(m, 'kong_memory_lua_shared_dict_bytes', { shared_dict: 'kong_rate_limiting_counters' }), bytes)
  assert.ok(bytes > 0)
  for (const name of ['kong_node_info', 'kong_datastore_reachable', 'kong_nginx_connections_total', 'kong_nginx_requests_total']) {
    assert.ok(m.has(name), name)
  }
  // No prometheus plugin: Kong's exporter lists its local gauges only (no metric errors counter).
  assert.equal(m.has('kong_nginx_metric_errors_total'), false)
  assert.equal(sumOf(m, 'kong_node_info', { node_id: gw.primary.nodeId }), 1)
})

test('kong_upstream_target_health: four states per address while a prometheus plugin asks for them', async () => {
  const up = await admin('POST', '/upstreams', { name: 'mock-upstream' })
  assert.equal(up.status, 201)
  const target = `127.0.0.1:${echo.port}`
  assert.equal((await admin('POST', '/upstreams/mock-upstream/targets', { target })).status, 201)
  assert.equal((await admin('POST', '/upstreams/mock-upstream/targets', { target: 'some-random-dns.invalid:80' })).status, 201)
  // the health the Admin API reports is the one the page shows
  const h = await admin('GET', '/upstreams/mock-upstream/health')
  assert.equal(h.status, 200)
  const bodyHealth = Object.fromEntries((h.json.data as Array<{ target: string; health: string }>).map((t) => [t.target, t.health]))
  assert.deepEqual(bodyHealth, { [target]: 'HEALTHCHECKS_OFF', 'some-random-dns.invalid:80': 'DNS_ERROR' })

  // no prometheus plugin asks: the family has no sample, so it is not written (Kong: export_upstream_health_metrics off)
  assert.equal((await scrape()).text.includes('kong_upstream_target_health'), false)
  // an instance without the switch: still none
  const plain = await admin('POST', '/plugins', { name: 'prometheus', config: { status_code_metrics: true } })
  assert.equal(plain.status, 201, JSON.stringify(plain.json))
  await gw.primary.sync()
  const withPlain = await scrape()
  assert.equal(withPlain.text.includes('kong_upstream_target_health'), false)
  assert.equal(sumOf(withPlain.m, 'kong_nginx_metric_errors_total'), 0, 'an enabled prometheus plugin: the errors counter is listed')
  assert.equal((await admin('DELETE', `/plugins/${plain.json.id as string}`)).status, 204)

  const p = await admin('POST', '/plugins', { name: 'prometheus', config: { upstream_health_metrics: true } })
  assert.equal(p.status, 201, JSON.stringify(p.json))
  await gw.primary.sync()
  const { text, m } = await scrape()
  const line = (t: string, address: string, state: string, v: number): string =>
    `kong_upstream_target_health{upstream="mock-upstream",target="${t}",address="${address}",state="${state}",subsystem="http"} ${v}`
  for (const [state, v] of [['healthchecks_off', 1], ['healthy', 0], ['unhealthy', 0], ['dns_error', 0]] as const) {
    assert.ok(text.includes(line(target, target, state, v)), line(target, target, state, v))
  }
  for (const [state, v] of [['healthchecks_off', 0], ['healthy', 0], ['unhealthy', 0], ['dns_error', 1]] as const) {
    assert.ok(text.includes(line('some-random-dns.invalid:80', '', state, v)), line('some-random-dns.invalid:80', '', state, v))
  }
  assert.equal(m.get('kong_upstream_target_health')!.samples.length, 8)

  // the switch follows the plugin: disabled, the samples go
  assert.equal((await admin('PATCH', `/plugins/${p.json.id as string}`, { enabled: false })).status, 200)
  await gw.primary.sync()
  assert.equal((await scrape()).m.has('kong_upstream_target_health'), false)
})

test('GET /metrics on the Admin API too (Kong\'s prometheus api.lua; 02-access_spec scrapes it there): the same exposition', async () => {
  const r = await request(`${gw.admin}/metrics`)
  assert.equal(r.statusCode, 200)
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  const text = await r.body.text()
  const fromAdmin = [...parseMetrics(text).keys()].sort()
  const fromStatus = [...(await scrape()).m.keys()].sort()
  assert.deepEqual(fromAdmin, fromStatus)
  // Only GET, as in Kong.
  assert.equal((await admin('POST', '/metrics', {})).status, 405)
})

test('no /metrics on the Admin API when prometheus is not an enabled plugin', async () => {
  const db2 = await createTestDb()
  const gw2 = await startGateway(db2.settings, { plugins: 'key-auth' })
  try {
    const r = await request(`${gw2.admin}/metrics`)
    assert.equal(r.statusCode, 404)
    await r.body.dump()
  } finally {
    await gw2.stop()
    await db2.drop()
  }
})
