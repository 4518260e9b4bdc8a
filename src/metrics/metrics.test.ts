import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bucketIndex, HIST_SLOTS, KIND_OFFSET, KONG_LATENCY_BUCKETS, UPSTREAM_LATENCY_BUCKETS } from './buckets.ts'
import type { MetricsDelta } from './delta.ts'
import { renderMetrics, type NodeInfo } from './exposition.ts'
import { newHistogram, recordUs, takeEncoded } from './hdr.ts'
import { parseMetrics, sumOf } from './parse.ts'
import { registerCollector, registerNodeSources } from './registry.ts'
import { MetricsStore } from './store.ts'
import { escapeLabel } from './text.ts'

const NODE = '3f1e7c9a-0000-4000-8000-000000000001'

function info (over: Partial<NodeInfo> = {}): NodeInfo {
  return {
    nodeId: NODE,
    version: '0.1.0',
    datastoreReachable: true,
    snapshotVersion: 3,
    workers: [
      { id: 0, thread_id: 11, state: 'serving', snapshot_version: 3, requests: 10, connections: 1, restarts: 0 },
      { id: 1, thread_id: 12, state: 'serving', snapshot_version: 3, requests: 5, connections: 0, restarts: 1 },
    ],
    reloads: { ok: 1, failed: 0 },
    ready: true,
    ...over,
  }
}

/** A delta as a worker would send it, built by hand. */
function delta (series: Array<{ service: string; route: string; status: Array<[number, number, number]>; req?: number[]; up?: number[]; kong?: number[]; ingress?: number; egress?: number }>, hdr?: number[]): MetricsDelta {
  const n = series.length
  const labels: string[] = []
  const status: number[] = []
  const buckets = new Uint32Array(n * HIST_SLOTS)
  const sums = new Float64Array(n * 3)
  const bytes = new Float64Array(n * 2)
  series.forEach((s, i) => {
    labels.push(s.service, s.route, '')
    for (const [code, source, count] of s.status) status.push(i, code, source, count)
    const obs = (kind: number, bounds: readonly number[], values: number[] | undefined): void => {
      for (const v of values ?? []) {
        buckets[i * HIST_SLOTS + KIND_OFFSET[kind]! + bucketIndex(bounds, v)]!++
        sums[3 * i + kind]! += v
      }
    }
    obs(0, UPSTREAM_LATENCY_BUCKETS, s.req)
    obs(1, UPSTREAM_LATENCY_BUCKETS, s.up)
    obs(2, KONG_LATENCY_BUCKETS, s.kong)
    bytes[2 * i] = s.ingress ?? 0
    bytes[2 * i + 1] = s.egress ?? 0
  })
  const h = newHistogram()
  let sum = 0
  for (const v of hdr ?? []) { recordUs(h, v); sum += v }
  return {
    finished: series.reduce((a, s) => a + s.status.reduce((b, x) => b + x[2], 0), 0),
    heapUsed: 1_000_000,
    heapTotal: 2_000_000,
    labels,
    status,
    buckets,
    sums,
    bytes,
    hdr: [takeEncoded(h), ''],
    hdrSums: [sum, 0],
    logDropped: 0,
  }
}

test('buckets: a value equal to a bound is in that bucket (le), above the last in +Inf', () => {
  assert.equal(bucketIndex(KONG_LATENCY_BUCKETS, 0), 0)
  assert.equal(bucketIndex(KONG_LATENCY_BUCKETS, 1), 0)
  assert.equal(bucketIndex(KONG_LATENCY_BUCKETS, 1.5), 1)
  assert.equal(bucketIndex(KONG_LATENCY_BUCKETS, 6000), KONG_LATENCY_BUCKETS.length - 1)
  assert.equal(bucketIndex(KONG_LATENCY_BUCKETS, 6001), KONG_LATENCY_BUCKETS.length)
  assert.equal(bucketIndex(UPSTREAM_LATENCY_BUCKETS, 25), 0)
  assert.equal(bucketIndex(UPSTREAM_LATENCY_BUCKETS, 26), 1)
  assert.equal(bucketIndex(UPSTREAM_LATENCY_BUCKETS, 60000), 12)
  assert.equal(bucketIndex(UPSTREAM_LATENCY_BUCKETS, 1e9), 13)
  for (let v = 0; v < 70000; v += 7) {
    const i = bucketIndex(UPSTREAM_LATENCY_BUCKETS, v)
    assert.ok(i === UPSTREAM_LATENCY_BUCKETS.length || v <= UPSTREAM_LATENCY_BUCKETS[i]!)
    assert.ok(i === 0 || v > UPSTREAM_LATENCY_BUCKETS[i - 1]!)
  }
})

test('store: deltas of two workers merge into Kong-named families with Kong labels and buckets', () => {
  const store = new MetricsStore()
  store.ingest({ id: 0, threadId: 11 }, delta([
    { service: 'svc-a', route: 'r1', status: [[200, 1, 3], [404, 0, 1]], req: [3, 30, 3000], up: [2, 20], kong: [1, 1, 7], ingress: 300, egress: 1200 },
  ]))
  store.ingest({ id: 1, threadId: 12 }, delta([
    { service: 'svc-a', route: 'r1', status: [[200, 1, 2]], req: [70000], up: [65000], kong: [6500], ingress: 100, egress: 0 },
    { service: 'svc-b', route: 'r2', status: [[502, 0, 1]], req: [12], kong: [12], ingress: 50, egress: 90 },
  ]))
  const text = renderMetrics(store, info())
  const m = parseMetrics(text)

  assert.equal(sumOf(m, 'kong_http_requests_total', { service: 'svc-a', route: 'r1', code: '200', source: 'service', workspace: 'default', consumer: '' }), 5)
  assert.equal(sumOf(m, 'kong_http_requests_total', { code: '404', source: 'kong' }), 1)
  assert.equal(sumOf(m, 'kong_http_requests_total', { service: 'svc-b', code: '502', source: 'kong' }), 1)
  assert.equal(sumOf(m, 'kong_http_requests_total'), 7)
  const req = m.get('kong_http_requests_total')!.samples[0]!
  assert.deepEqual(Object.keys(req.labels), ['service', 'route', 'code', 'source', 'workspace', 'consumer'])

  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { service: 'svc-a', direction: 'ingress' }), 400)
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { service: 'svc-a', direction: 'egress' }), 1200)
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { service: 'svc-b', direction: 'egress' }), 90)
  assert.deepEqual(Object.keys(m.get('kong_bandwidth_bytes')!.samples[0]!.labels), ['service', 'route', 'direction', 'workspace', 'consumer'])

  // Histograms: Kong's bounds, cumulative, +Inf == _count, sums.
  const rq = m.get('kong_request_latency_ms')!
  assert.equal(rq.type, 'histogram')
  const les = rq.samples.filter((s) => s.name === 'kong_request_latency_ms_bucket' && s.labels.service === 'svc-a').map((s) => s.labels.le)
  assert.deepEqual(les, [...UPSTREAM_LATENCY_BUCKETS.map(String), '+Inf'])
  assert.equal(sumOf(m, 'kong_request_latency_ms_bucket', { service: 'svc-a', le: '25' }), 1)
  assert.equal(sumOf(m, 'kong_request_latency_ms_bucket', { service: 'svc-a', le: '50' }), 2)
  assert.equal(sumOf(m, 'kong_request_latency_ms_bucket', { service: 'svc-a', le: '60000' }), 3)
  assert.equal(sumOf(m, 'kong_request_latency_ms_bucket', { service: 'svc-a', le: '+Inf' }), 4)
  assert.equal(sumOf(m, 'kong_request_latency_ms_count', { service: 'svc-a' }), 4)
  assert.equal(sumOf(m, 'kong_request_latency_ms_sum', { service: 'svc-a' }), 3 + 30 + 3000 + 70000)
  assert.deepEqual(Object.keys(rq.samples[0]!.labels), ['service', 'route', 'workspace', 'le'])
  const kl = m.get('kong_kong_latency_ms')!
  assert.deepEqual(kl.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.service === 'svc-a').map((s) => s.labels.le), [...KONG_LATENCY_BUCKETS.map(String), '+Inf'])
  assert.equal(sumOf(m, 'kong_kong_latency_ms_bucket', { service: 'svc-a', le: '1' }), 2)
  assert.equal(sumOf(m, 'kong_kong_latency_ms_bucket', { service: 'svc-a', le: '6000' }), 3)
  assert.equal(sumOf(m, 'kong_kong_latency_ms_count', { service: 'svc-a' }), 4)
  // svc-b was never proxied: no upstream series for it.
  assert.equal(m.get('kong_upstream_latency_ms')!.samples.filter((s) => s.labels.service === 'svc-b').length, 0)
  assert.equal(sumOf(m, 'kong_upstream_latency_ms_count', { service: 'svc-a' }), 3)

  // Node-level families.
  assert.equal(sumOf(m, 'kong_datastore_reachable'), 1)
  assert.equal(sumOf(m, 'kong_nginx_connections_total', { node_id: NODE, subsystem: 'http', state: 'total' }), 15)
  assert.equal(sumOf(m, 'kong_nginx_requests_total', { node_id: NODE }), 15)
  assert.equal(sumOf(m, 'kong_nginx_metric_errors_total'), 0)
  assert.equal(sumOf(m, 'kong_memory_workers_lua_vms_bytes', { pid: '11', kong_subsystem: 'http' }), 1_000_000)
  // Kong writes a family only when it has a sample: no prometheus plugin asks for target health.
  assert.equal(m.has('kong_upstream_target_health'), false)
  assert.equal(text.includes('kong_upstream_target_health'), false)
  assert.equal(sumOf(m, 'kong_node_info', { node_id: NODE }), 1)
  assert.equal(sumOf(m, 'sluice_worker_snapshot_version', { worker: '1' }), 3)
  assert.equal(sumOf(m, 'sluice_requests_finished_total'), 7)
  assert.equal(sumOf(m, 'sluice_workers', { state: 'serving' }), 2)
  assert.equal(sumOf(m, 'sluice_config_reloads_total', { result: 'ok' }), 1)
})

test('store: label values are escaped; counters only grow; a gone worker loses its gauges, not its counts', () => {
  const store = new MetricsStore()
  const odd = 'we"ird\\name\nx'
  store.ingest({ id: 0, threadId: 21 }, delta([{ service: odd, route: 'r', status: [[200, 1, 1]], req: [1] }]))
  store.ingest({ id: 0, threadId: 21 }, delta([{ service: odd, route: 'r', status: [[200, 1, 2]], req: [1] }]))
  const m = parseMetrics(renderMetrics(store, info({ workers: [] })))
  assert.ok(renderMetrics(store, info()).includes(`service="${escapeLabel(odd)}"`))
  assert.equal(sumOf(m, 'kong_http_requests_total', { service: odd }), 3)
  assert.equal(sumOf(m, 'kong_memory_workers_lua_vms_bytes'), 0, 'worker 21 is not live any more')
})

test('store: a malformed delta is counted in kong_nginx_metric_errors_total and changes nothing else', () => {
  const store = new MetricsStore()
  store.ingest({ id: 0, threadId: 1 }, { finished: 1, labels: ['a', 'b'] })
  store.ingest({ id: 0, threadId: 1 }, null)
  const m = parseMetrics(renderMetrics(store, info()))
  assert.equal(sumOf(m, 'kong_nginx_metric_errors_total'), 2)
  assert.equal(sumOf(m, 'kong_http_requests_total'), 0)
})

test('hdr: per-worker histograms merge into windowed quantiles; the window forgets old slots', () => {
  let now = 1_000_000
  const store = new MetricsStore(() => now)
  const a: number[] = []
  const b: number[] = []
  for (let i = 1; i <= 900; i++) a.push(100 + i) // 101..1000 us
  for (let i = 1; i <= 100; i++) b.push(50_000) // 50 ms
  store.ingest({ id: 0, threadId: 1 }, delta([], a))
  store.ingest({ id: 1, threadId: 2 }, delta([], b))
  let m = parseMetrics(renderMetrics(store, info()))
  const q = (quantile: string): number => sumOf(m, 'sluice_latency_us', { kind: 'request', quantile })
  assert.ok(Math.abs(q('0.5') - 600) <= 1, `p50 ${q('0.5')}`)
  assert.ok(Math.abs(q('0.99') - 50_000) <= 50, `p99 ${q('0.99')}`)
  assert.equal(sumOf(m, 'sluice_latency_us_count', { kind: 'request' }), 1000)
  assert.equal(sumOf(m, 'sluice_latency_us_sum', { kind: 'request' }), a.reduce((x, y) => x + y, 0) + 5_000_000)
  now += 120_000
  m = parseMetrics(renderMetrics(store, info()))
  assert.ok(Number.isNaN(q('0.5')), 'nothing in the last minute')
  assert.equal(sumOf(m, 'sluice_latency_us_count', { kind: 'request' }), 1000, 'count is since start')
})

test('registry: a collector adds families at scrape time; one that throws is skipped and counted', () => {
  const offA = registerCollector('test-a', (w) => {
    w.family('sluice_test_gauge', 'gauge', 'A test gauge')
    w.sample('sluice_test_gauge', '{x="1"}', 42)
  })
  const offB = registerCollector('test-b', (w) => {
    w.family('sluice_half_written', 'gauge', 'Never complete')
    throw new Error('boom')
  })
  try {
    const m = parseMetrics(renderMetrics(new MetricsStore(), info()))
    assert.equal(sumOf(m, 'sluice_test_gauge', { x: '1' }), 42)
    assert.equal(m.has('sluice_half_written'), false)
    assert.equal(sumOf(m, 'kong_nginx_metric_errors_total'), 1)
  } finally {
    offA()
    offB()
  }
  assert.equal(parseMetrics(renderMetrics(new MetricsStore(), info())).has('sluice_test_gauge'), false)
})

test('parse: rejects what Prometheus would reject', () => {
  assert.throws(() => parseMetrics('x 1\n'), /before its TYPE/)
  assert.throws(() => parseMetrics('# TYPE x gauge\nx{a="1} 1\n'), /bad labels/)
  assert.throws(() => parseMetrics('# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n'), /not together/)
  assert.throws(() => parseMetrics('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 0\n'), /not cumulative/)
  assert.throws(() => parseMetrics('# TYPE x gauge\nx 1'), /newline/)
})

test('exposition: with no prometheus plugin enabled only the node-level families are written (Kong\'s local_only scrape)', () => {
  const store = new MetricsStore()
  store.ingest({ id: 0, threadId: 11 }, delta([
    { service: 'svc-a', route: 'r1', status: [[200, 1, 3]], req: [3], up: [2], kong: [1], ingress: 300, egress: 1200 },
  ]))
  let enabled = false
  const off = registerNodeSources({ prometheusEnabled: () => enabled, sharedDicts: () => [{ name: 'kong_rate_limiting_counters', allocated: 64, capacity: 64 }] })
  try {
    const text = renderMetrics(store, info())
    const m = parseMetrics(text)
    for (const name of ['kong_http_requests_total', 'kong_bandwidth_bytes', 'kong_kong_latency_ms', 'kong_request_latency_ms', 'kong_upstream_latency_ms', 'kong_nginx_metric_errors_total']) {
      assert.equal(text.includes(name), false, name)
    }
    for (const name of ['kong_datastore_reachable', 'kong_memory_lua_shared_dict_bytes', 'kong_memory_lua_shared_dict_total_bytes', 'kong_memory_workers_lua_vms_bytes', 'kong_nginx_connections_total', 'kong_nginx_requests_total', 'kong_nginx_timers', 'kong_node_info', 'sluice_requests_finished_total']) {
      assert.ok(m.has(name), name)
    }
    // The counts were kept: they come back with the plugin.
    enabled = true
    const again = parseMetrics(renderMetrics(store, info()))
    assert.equal(sumOf(again, 'kong_http_requests_total', { route: 'r1' }), 3)
    assert.equal(sumOf(again, 'kong_request_latency_ms_count', { route: 'r1' }), 1)
    assert.equal(sumOf(again, 'kong_nginx_metric_errors_total'), 0)
    // Kong's order: its keys sorted by name (prefix kong_ left out).
    const families = [...again.keys()].filter((k) => k.startsWith('kong_'))
    assert.deepEqual(families, ['kong_bandwidth_bytes', 'kong_datastore_reachable', 'kong_http_requests_total', 'kong_kong_latency_ms',
      'kong_memory_lua_shared_dict_bytes', 'kong_memory_lua_shared_dict_total_bytes', 'kong_memory_workers_lua_vms_bytes',
      'kong_nginx_connections_total', 'kong_nginx_metric_errors_total', 'kong_nginx_requests_total', 'kong_nginx_timers', 'kong_node_info',
      'kong_request_latency_ms', 'kong_upstream_latency_ms'])
  } finally {
    off()
  }
})

test('store: per-consumer series add to the route\'s counts with their consumer label; latency stays per route', () => {
  const store = new MetricsStore()
  const d = delta([
    { service: 'svc-a', route: 'r1', status: [[401, 0, 2]], req: [3, 4], kong: [1, 1], ingress: 10, egress: 20 },
    { service: 'svc-a', route: 'r1', status: [[200, 1, 5]], ingress: 50, egress: 60 },
  ])
  d.labels[5] = 'alice'
  store.ingest({ id: 0, threadId: 11 }, d)
  const m = parseMetrics(renderMetrics(store, info()))
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'r1', code: '200', consumer: 'alice' }), 5)
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'r1', code: '401', consumer: '' }), 2)
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'r1', direction: 'egress', consumer: 'alice' }), 60)
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'r1', direction: 'egress', consumer: '' }), 20)
  assert.equal(store.latency.size, 1, 'one histogram series per (service, route)')
  assert.equal(sumOf(m, 'kong_request_latency_ms_count', { route: 'r1' }), 2)
})
