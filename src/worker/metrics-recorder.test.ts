import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { loadConfig } from '../config/load.ts'
import { renderMetrics } from '../metrics/exposition.ts'
import { parseMetrics, sumOf } from '../metrics/parse.ts'
import { MetricsStore } from '../metrics/store.ts'
import { closeAccessLog, initAccessLog } from './access-log.ts'
import { ST_ROUTING, ST_STREAMING, type RequestContext } from './context.ts'
import { recordRequest, takeMetricsDelta } from './metrics-recorder.ts'

const svcA = { id: 'sa', name: 'svc-a', target: { host: 'a.example' } }
const svcNoName = { id: 'sb', name: null, target: { host: 'b.example' } }
const r1 = { id: 'r1-id', name: 'r1', service: svcA }
const r2 = { id: 'r2-id', name: null, service: svcNoName }
const r3 = { id: 'r3-id', name: 'orphan', service: null }

/** The fields the recorder reads, as the proxy leaves them when a request finishes. */
function ctx (o: { route: object | null; status: number; upstream?: boolean; ms: number; upstreamMs?: number; kongMs?: number; body?: number; out?: number }): RequestContext {
  const now = performance.now()
  return {
    t0: now - o.ms,
    resStatus: o.status,
    state: o.upstream === true ? ST_STREAMING : ST_ROUTING,
    proxyLatency: o.kongMs ?? -1,
    upstreamLatency: o.upstreamMs ?? -1,
    tUpstream: o.kongMs !== undefined ? now - o.ms + o.kongMs : 0,
    headers: ['host', 'example.com', 'user-agent', 'curl/8 "x"', 'referer', 'http://r/'],
    method: 'GET',
    path: '/p',
    query: 'a=1',
    bodyBytes: o.body ?? 0,
    bytesOut: o.out ?? 0,
    route: o.route,
    remoteAddr: '127.0.0.1',
    requestIdValue: '',
  } as unknown as RequestContext
}

test('recorder: requests become a delta the primary merges into Kong\'s families', () => {
  takeMetricsDelta()
  recordRequest(ctx({ route: r1, status: 200, upstream: true, ms: 12, upstreamMs: 9, kongMs: 2, out: 100 }))
  recordRequest(ctx({ route: r1, status: 200, upstream: true, ms: 40, upstreamMs: 30, kongMs: 3, out: 50 }))
  recordRequest(ctx({ route: r1, status: 401, ms: 1 }))
  recordRequest(ctx({ route: r2, status: 502, ms: 5, upstreamMs: 4, kongMs: 1 }))
  recordRequest(ctx({ route: r3, status: 503, ms: 0.2 }))
  recordRequest(ctx({ route: null, status: 404, ms: 0.1 }))
  recordRequest(ctx({ route: r1, status: 0, ms: 3 }))
  const d = takeMetricsDelta()
  assert.equal(d.finished, 7)
  assert.equal(d.labels.length, 9, 'three routed series; the no-route request has none')
  const store = new MetricsStore()
  store.ingest({ id: 0, threadId: 1 }, d)
  const m = parseMetrics(renderMetrics(store, {
    nodeId: 'n', version: 'v', datastoreReachable: true, snapshotVersion: 1, workers: [], reloads: { ok: 0, failed: 0 }, ready: true,
  }))
  assert.equal(sumOf(m, 'kong_http_requests_total', { service: 'svc-a', route: 'r1', code: '200', source: 'service' }), 2)
  assert.equal(sumOf(m, 'kong_http_requests_total', { service: 'svc-a', route: 'r1', code: '401', source: 'kong' }), 1)
  assert.equal(sumOf(m, 'kong_http_requests_total', { service: 'svc-a', route: 'r1', code: '499' }), 1, 'client gone before a status: 499')
  // Kong's label values: service name or host, route name or id; no service: ''.
  assert.equal(sumOf(m, 'kong_http_requests_total', { service: 'b.example', route: 'r2-id', code: '502', source: 'kong' }), 1)
  assert.equal(sumOf(m, 'kong_http_requests_total', { service: '', route: 'orphan', code: '503' }), 1)
  assert.equal(sumOf(m, 'kong_http_requests_total', { code: '404' }), 0)
  assert.equal(sumOf(m, 'kong_upstream_latency_ms_count', { route: 'r1' }), 2)
  assert.equal(sumOf(m, 'kong_upstream_latency_ms_sum', { route: 'r1' }), 39)
  assert.equal(sumOf(m, 'kong_upstream_latency_ms_bucket', { route: 'r1', le: '25' }), 1)
  assert.equal(sumOf(m, 'kong_kong_latency_ms_sum', { route: 'r1' }), 2 + 3 + 1 + 3)
  assert.equal(sumOf(m, 'kong_request_latency_ms_count', { route: 'r1' }), 4)
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'r1', direction: 'egress' }), 150)
  // GET /p?a=1 HTTP/1.1 + 3 headers + CRLF, per request.
  const line = 'GET /p?a=1 HTTP/1.1\r\n'.length + 'host: example.com\r\n'.length + 'user-agent: curl/8 "x"\r\n'.length + 'referer: http://r/\r\n'.length + 2
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'r1', direction: 'ingress' }), 4 * line)
  assert.equal(sumOf(m, 'sluice_latency_us_count', { kind: 'request' }), 7)
  assert.equal(sumOf(m, 'sluice_latency_us_count', { kind: 'kong' }), 7)
  assert.equal(takeMetricsDelta().labels.length, 0, 'a delta resets the counters')
})

test('recorder: access log lines in combined and json formats', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-al-'))
  try {
    for (const fmt of ['combined', 'json'] as const) {
      const config = loadConfig({ env: {}, overrides: { prefix: dir, proxy_access_log: `logs/${fmt}.log ${fmt}` } })
      initAccessLog(config, 3)
      recordRequest(ctx({ route: r1, status: 200, upstream: true, ms: 12, upstreamMs: 9, kongMs: 2, out: 100 }))
      recordRequest(ctx({ route: null, status: 404, ms: 1 }))
      closeAccessLog()
      const lines = readFileSync(join(dir, 'logs', `${fmt}.log`), 'utf8').trimEnd().split('\n')
      assert.equal(lines.length, 2)
      if (fmt === 'combined') {
        assert.match(lines[0]!, /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/p\?a=1 HTTP\/1\.1" 200 100 "http:\/\/r\/" "curl\/8 \\x22x\\x22"$/)
        assert.match(lines[1]!, /" 404 0 "/)
      } else {
        const j = JSON.parse(lines[0]!) as Record<string, unknown>
        assert.equal(j.status, 200)
        assert.equal(j.uri, '/p?a=1')
        assert.equal(j.service, 'svc-a')
        assert.equal(j.route, 'r1')
        assert.equal(j.upstream_latency_ms, 9)
        assert.equal(j.user_agent, 'curl/8 "x"')
        assert.equal(j.worker, 3)
        assert.equal((JSON.parse(lines[1]!) as Record<string, unknown>).route, null)
      }
    }
  } finally {
    closeAccessLog()
    rmSync(dir, { recursive: true, force: true })
  }
})
