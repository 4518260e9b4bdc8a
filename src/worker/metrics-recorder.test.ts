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
import { prepareFlags, type PrometheusFlags } from '../plugins/prometheus/flags.ts'
import { HANDLERS } from '../plugins/handlers.ts'
import { compileSnapshot } from './compile.ts'
import { prometheusHandler, recordPrometheus, recordRequest, takeMetricsDelta } from './metrics-recorder.ts'

const svcA = { id: 'sa', name: 'svc-a', target: { host: 'a.example' } }
const svcNoName = { id: 'sb', name: null, target: { host: 'b.example' } }
const r1 = { id: 'r1-id', name: 'r1', service: svcA }
const r2 = { id: 'r2-id', name: null, service: svcNoName }
const r3 = { id: 'r3-id', name: 'orphan', service: null }

/** The fields the recorder reads, as the proxy leaves them when a request finishes. */
function ctx (o: { route: object | null; status: number; upstream?: boolean; ms: number; upstreamMs?: number; kongMs?: number; body?: number; out?: number; consumer?: object }): RequestContext {
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
    consumer: o.consumer ?? null,
    remoteAddr: '127.0.0.1',
    requestIdValue: '',
  } as unknown as RequestContext
}

const ALL = prepareFlags({ status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true })

/** What lifecycle.ts maybeFinish does: recordRequest, then the log phase (the prometheus step when one applies). */
function finish (c: RequestContext, flags: PrometheusFlags | null): void {
  recordRequest(c)
  if (flags !== null) prometheusHandler.log!(c as never, flags)
}

const info = { nodeId: 'n', version: 'v', datastoreReachable: true, snapshotVersion: 1, workers: [], reloads: { ok: 0, failed: 0 }, ready: true }

test('recorder: requests become a delta the primary merges into Kong\'s families', () => {
  takeMetricsDelta()
  finish(ctx({ route: r1, status: 200, upstream: true, ms: 12, upstreamMs: 9, kongMs: 2, out: 100 }), ALL)
  finish(ctx({ route: r1, status: 200, upstream: true, ms: 40, upstreamMs: 30, kongMs: 3, out: 50 }), ALL)
  finish(ctx({ route: r1, status: 401, ms: 1 }), ALL)
  finish(ctx({ route: r2, status: 502, ms: 5, upstreamMs: 4, kongMs: 1 }), ALL)
  finish(ctx({ route: r3, status: 503, ms: 0.2 }), ALL)
  finish(ctx({ route: null, status: 404, ms: 0.1 }), ALL)
  finish(ctx({ route: r1, status: 0, ms: 3 }), ALL)
  const d = takeMetricsDelta()
  assert.equal(d.finished, 7)
  assert.equal(d.labels.length, 9, 'three routed series; the no-route request has none')
  const store = new MetricsStore()
  store.ingest({ id: 0, threadId: 1 }, d)
  const m = parseMetrics(renderMetrics(store, info))
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

test('recorder: each series follows the switches of the prometheus instance that applies; none without one', () => {
  takeMetricsDelta()
  const alice = { id: 'c1', username: 'alice', custom_id: null }
  const anon = { id: 'c2', username: null, custom_id: 'x' }
  // no prometheus instance: node-wide figures only
  finish(ctx({ route: r1, status: 200, upstream: true, ms: 2, upstreamMs: 1, kongMs: 1, out: 9 }), null)
  // an instance with every switch off (Kong's defaults)
  finish(ctx({ route: r1, status: 200, upstream: true, ms: 2, upstreamMs: 1, kongMs: 1, out: 9 }), prepareFlags({}))
  let d = takeMetricsDelta()
  assert.equal(d.finished, 2)
  assert.equal(d.labels.length, 0, 'no route series')
  assert.equal(d.hdr[0] === '', false, 'the node-wide latency still counts them')

  const status = prepareFlags({ status_code_metrics: true })
  const latency = prepareFlags({ latency_metrics: true })
  const bandwidth = prepareFlags({ bandwidth_metrics: true })
  const perConsumer = prepareFlags({ status_code_metrics: true, bandwidth_metrics: true, per_consumer: true })
  finish(ctx({ route: r1, status: 200, upstream: true, ms: 2, upstreamMs: 1, kongMs: 1, out: 7 }), status)
  finish(ctx({ route: r2, status: 200, upstream: true, ms: 2, upstreamMs: 1, kongMs: 1, out: 7 }), latency)
  finish(ctx({ route: r3, status: 200, upstream: true, ms: 2, upstreamMs: 1, kongMs: 1, out: 7 }), bandwidth)
  // per_consumer: the username; '' without a consumer or for one without a username
  finish(ctx({ route: r1, status: 200, upstream: true, ms: 2, upstreamMs: 1, kongMs: 1, out: 11, consumer: alice }), perConsumer)
  finish(ctx({ route: r1, status: 200, upstream: true, ms: 2, upstreamMs: 1, kongMs: 1, out: 11, consumer: alice }), perConsumer)
  finish(ctx({ route: r1, status: 401, ms: 1 }), perConsumer)
  finish(ctx({ route: r1, status: 200, upstream: true, ms: 2, upstreamMs: 1, kongMs: 1, out: 11, consumer: anon }), perConsumer)
  // the consumer is labelled only with per_consumer
  finish(ctx({ route: r1, status: 200, upstream: true, ms: 2, upstreamMs: 1, kongMs: 1, out: 11, consumer: alice }), status)
  d = takeMetricsDelta()
  const store = new MetricsStore()
  store.ingest({ id: 0, threadId: 1 }, d)
  const m = parseMetrics(renderMetrics(store, info))
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'r1', code: '200', consumer: '' }), 3)
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'r1', code: '200', consumer: 'alice' }), 2)
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'r1', code: '401', consumer: '' }), 1)
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'r2-id' }), 0, 'latency only: no count')
  assert.equal(sumOf(m, 'kong_http_requests_total', { route: 'orphan' }), 0, 'bandwidth only: no count')
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'r1', direction: 'egress', consumer: 'alice' }), 22)
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'r1', direction: 'egress', consumer: '' }), 11, 'the anonymous-username request; not the status-only ones')
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'orphan', direction: 'egress' }), 7)
  assert.ok(sumOf(m, 'kong_bandwidth_bytes', { route: 'orphan', direction: 'ingress' }) > 0)
  assert.equal(sumOf(m, 'kong_bandwidth_bytes', { route: 'r2-id' }), 0)
  assert.equal(sumOf(m, 'kong_request_latency_ms_count', { route: 'r2-id' }), 1)
  assert.equal(sumOf(m, 'kong_request_latency_ms_count', { route: 'r1' }), 0, 'no latency switch on r1')
  assert.equal(sumOf(m, 'kong_request_latency_ms_count', { route: 'orphan' }), 0)
})

test('recorder: the worker compiles prometheus instances into the log chain, most specific scope first', () => {
  assert.ok(HANDLERS.includes(prometheusHandler), 'the worker runs the prometheus handler')
  const plugin = (id: string, config: Record<string, unknown>, scope: { route?: string; service?: string }, enabled = true): Record<string, unknown> =>
    ({ id, name: 'prometheus', config, enabled, protocols: ['http', 'https'], route: scope.route === undefined ? null : { id: scope.route }, service: scope.service === undefined ? null : { id: scope.service }, consumer: null })
  const flagsOf = (c: ReturnType<typeof compileSnapshot>, route: string, service: string | null): unknown => c.plugins.chainsFor(route, service)?.log?.find((s) => s.name === 'prometheus')?.conf ?? null
  const snap = (plugins: Array<Record<string, unknown>>): never => ({ version: 1, hash: 'x', services: [], routes: [], entities: { plugins } }) as never
  const c = compileSnapshot(snap([
    plugin('g', { status_code_metrics: true }, {}),
    plugin('s', { latency_metrics: true }, { service: 'svc1' }),
    plugin('r', { bandwidth_metrics: true, per_consumer: true }, { route: 'rt1' }),
    plugin('off', { status_code_metrics: true, latency_metrics: true }, { route: 'rt3' }, false),
  ]))
  assert.deepEqual(flagsOf(c, 'rt1', 'svc1'), prepareFlags({ bandwidth_metrics: true, per_consumer: true }))
  assert.deepEqual(flagsOf(c, 'rt2', 'svc1'), prepareFlags({ latency_metrics: true }))
  assert.deepEqual(flagsOf(c, 'rt2', null), prepareFlags({ status_code_metrics: true }))
  assert.deepEqual(flagsOf(c, 'rt3', null), prepareFlags({ status_code_metrics: true }), 'a disabled route instance leaves the global one')
  assert.equal(compileSnapshot(snap([])).plugins.chainsFor('rt1', 'svc1'), null, 'no plugin: no chain, no log step')
})

test('recorder: access log lines in combined and json formats', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-al-'))
  try {
    for (const fmt of ['combined', 'json'] as const) {
      const config = loadConfig({ env: {}, overrides: { prefix: dir, proxy_access_log: `logs/${fmt}.log ${fmt}` } })
      initAccessLog(config, 3)
      finish(ctx({ route: r1, status: 200, upstream: true, ms: 12, upstreamMs: 9, kongMs: 2, out: 100 }), null)
      finish(ctx({ route: null, status: 404, ms: 1 }), null)
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
