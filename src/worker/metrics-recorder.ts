/**
 * What a worker records about each finished request, and the delta it sends the primary once a
 * second (metrics/delta.ts).
 *
 * Every request, from lifecycle.ts `maybeFinish` (recordRequest, before the plugins' log phase):
 * the node-wide request and kong latencies in microseconds into hdr-histograms (sluice_latency_us),
 * the finished count, and the access log line.
 *
 * Per route, only as Kong's prometheus plugin does it: from the plugin's log phase (the handler
 * below), with the switches of the instance that applies to the request. That instance is chosen
 * when the snapshot is compiled (worker/plugin-chains.ts, Kong's scopes: route+service, route,
 * service, global, and the consumer-scoped ones once a consumer is known); its `prepare` turned
 * the config into PrometheusFlags. A request with no prometheus instance costs nothing here; one
 * whose instance has every switch off costs a return. Requests without a matched route are not in
 * the per-route families (Kong's exporter). With the switches on:
 * - status_code_metrics: counts by (code, source): source `service` when the response came from
 *   the upstream, `kong` when the gateway produced it (kong.response.get_source() ~= "service");
 * - latency_metrics: Kong's buckets: request (total), upstream (time to the upstream's response
 *   head, Kong's latencies.proxy) when proxied, kong (time before the upstream request went out,
 *   or the whole time of a gateway-generated response: Kong's latencies.kong);
 * - bandwidth_metrics: ingress (request line + headers + body, nginx $request_length, estimated
 *   from the copied headers) and egress (response body bytes written, `ctx.bytesOut`: nginx
 *   $body_bytes_sent);
 * - per_consumer: status and bandwidth carry the authenticated consumer's username as the
 *   `consumer` label ('' without a consumer, or for a consumer without a username); latency has
 *   no consumer label.
 *
 * The series map is keyed by the compiled route object (and the username below it): no key string
 * is built per request. It is emptied by takeMetricsDelta(), so a route removed by a snapshot swap
 * is forgotten within a second.
 */
import { getHeapStatistics } from 'node:v8'
import { HIST_SLOTS, KIND_BOUNDS, KIND_OFFSET, bucketIndex } from '../metrics/buckets.ts'
import { SOURCE_KONG, SOURCE_SERVICE, type MetricsDelta } from '../metrics/delta.ts'
import { newHistogram, recordUs, takeEncoded } from '../metrics/hdr.ts'
import { prepareFlags, type PrometheusFlags } from '../plugins/prometheus/flags.ts'
import type { AnyPluginHandler } from '../plugins/types.ts'
import { accessLogOn, takeAccessLogDropped, writeAccessLog, type AccessFacts } from './access-log.ts'
import { ST_STREAMING, type RequestContext } from './context.ts'

class Series {
  readonly service: string
  readonly route: string
  readonly consumer: string
  /** Flat triples [status, source, count]: a handful of distinct statuses per route. */
  readonly status: number[] = []
  /** Latency buckets: on the route's own series only (Kong's histograms have no consumer label). */
  readonly hist: Uint32Array | null
  requestSum = 0
  upstreamSum = 0
  kongSum = 0
  ingress = 0
  egress = 0
  /** Per-consumer series of this route, by username (per_consumer). */
  consumers: Map<string, Series> | null = null

  constructor (service: string, route: string, consumer: string) {
    this.service = service
    this.route = route
    this.consumer = consumer
    this.hist = consumer === '' ? new Uint32Array(HIST_SLOTS) : null
  }

  count (status: number, source: number): void {
    const a = this.status
    for (let i = 0; i < a.length; i += 3) {
      if (a[i] === status && a[i + 1] === source) { a[i + 2]!++; return }
    }
    a.push(status, source, 1)
  }

  observe (kind: number, ms: number): void {
    this.hist![KIND_OFFSET[kind]! + bucketIndex(KIND_BOUNDS[kind]!, ms)]!++
  }

  forConsumer (username: string): Series {
    const m = this.consumers ?? (this.consumers = new Map())
    let s = m.get(username)
    if (s === undefined) {
      s = new Series(this.service, this.route, username)
      m.set(username, s)
    }
    return s
  }
}

type RouteLike = NonNullable<RequestContext['route']>

let series = new Map<RouteLike, Series>()
let finished = 0
const hdrRequest = newHistogram()
const hdrKong = newHistogram()
let sumRequestUs = 0
let sumKongUs = 0

// The finishing request, as recordRequest measured it: the prometheus log step runs right after,
// in the same maybeFinish call (lifecycle.ts), once ctx.state has moved on to done.
let cur: RequestContext | null = null
let curTotalMs = 0
let curStatus = 0
let curFromService = false
/** -1: not computed yet for `cur`. */
let curRequestLength = -1

// Registers filled by scanHeaders (one pass over the copied headers).
let hReferer: string | null = null
let hUserAgent: string | null = null
let hLength = 0

function scanHeaders (headers: readonly string[]): void {
  let referer: string | null = null
  let ua: string | null = null
  let n = 0
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const k = headers[i]!
    const v = headers[i + 1]!
    n += k.length + v.length + 4
    if (k.length === 7 && k === 'referer') { if (referer === null) referer = v } else if (k.length === 10 && k === 'user-agent') { if (ua === null) ua = v }
  }
  hReferer = referer
  hUserAgent = ua
  hLength = n
}

/** nginx $request_length, estimated: request line, the copied headers, CRLF, body. */
function requestLength (ctx: RequestContext, headerBytes: number): number {
  let n = ctx.method.length + ctx.path.length + 12 + headerBytes + 2 + ctx.bodyBytes
  if (ctx.query !== null) n += ctx.query.length + 1
  return n
}

const facts: AccessFacts = { status: 0, bytesOut: 0, requestLength: 0, totalMs: 0, referer: null, userAgent: null, service: null, route: null }

/** Records one finished request (node-wide metrics and access log). Never throws into the caller. */
export function recordRequest (ctx: RequestContext): void {
  try {
    const totalMs = performance.now() - ctx.t0
    finished++
    // nginx logs 499 for a request whose client went away before a response status was set.
    const status = ctx.resStatus !== 0 ? ctx.resStatus : 499
    const proxied = ctx.proxyLatency >= 0

    recordUs(hdrRequest, totalMs * 1000)
    sumRequestUs += Math.round(totalMs * 1000)
    const kongUs = proxied ? (ctx.tUpstream - ctx.t0) * 1000 : totalMs * 1000
    recordUs(hdrKong, kongUs)
    sumKongUs += Math.round(kongUs)

    cur = ctx
    curTotalMs = totalMs
    curStatus = status
    curFromService = ctx.state === ST_STREAMING
    curRequestLength = -1

    if (accessLogOn) {
      scanHeaders(ctx.headers)
      curRequestLength = requestLength(ctx, hLength)
      const route = ctx.route
      const svc = route === null ? null : route.service
      facts.status = status
      facts.bytesOut = ctx.bytesOut
      facts.requestLength = curRequestLength
      facts.totalMs = totalMs
      facts.referer = hReferer
      facts.userAgent = hUserAgent
      facts.service = route === null ? null : svc === null ? '' : (svc.name ?? svc.target.host)
      facts.route = route === null ? null : (route.name ?? route.id)
      writeAccessLog(ctx, facts)
    }
  } catch {
    // Bookkeeping must never break a request; a failure here only loses one sample.
  }
}

/**
 * The prometheus plugin's log phase: the request's route series, as `flags` (the applying
 * instance's switches) ask. Runs after recordRequest for the same request.
 */
export function recordPrometheus (ctx: RequestContext, flags: PrometheusFlags): void {
  if (!flags.any || ctx !== cur) return
  const route = ctx.route
  if (route === null) return
  let s = series.get(route)
  if (s === undefined) {
    const svc = route.service
    s = new Series(svc === null ? '' : (svc.name ?? svc.target.host), route.name ?? route.id, '')
    series.set(route, s)
  }
  if (flags.latency) {
    const requestMs = Math.round(curTotalMs)
    s.observe(0, requestMs)
    s.requestSum += requestMs
    const upstreamMs = ctx.upstreamLatency
    if (upstreamMs >= 0) {
      s.observe(1, upstreamMs)
      s.upstreamSum += upstreamMs
    }
    const kongMs = ctx.proxyLatency >= 0 ? ctx.proxyLatency : requestMs
    s.observe(2, kongMs)
    s.kongSum += kongMs
  }
  if (flags.status || flags.bandwidth) {
    let t = s
    if (flags.perConsumer) {
      const c = ctx.consumer
      const name = c === null ? null : c.username
      if (name !== null && name !== '' && typeof name === 'string') t = s.forConsumer(name)
    }
    if (flags.status) t.count(curStatus, curFromService ? SOURCE_SERVICE : SOURCE_KONG)
    if (flags.bandwidth) {
      if (curRequestLength < 0) {
        scanHeaders(ctx.headers)
        curRequestLength = requestLength(ctx, hLength)
      }
      t.ingress += curRequestLength
      t.egress += ctx.bytesOut
    }
  }
}

/**
 * Kong's prometheus handler (PRIORITY 13) as the worker runs it: `prepare` turns an instance's
 * config into its switches once per snapshot, `log` records the request's series. The Admin API
 * side (schema) is plugins/prometheus/schema.ts; the /metrics page is metrics/exposition.ts.
 */
export const prometheusHandler: AnyPluginHandler = {
  name: 'prometheus',
  priority: 13,
  prepare: (conf: Record<string, unknown>) => prepareFlags(conf),
  log: (ctx: unknown, flags: PrometheusFlags) => { try { recordPrometheus(ctx as RequestContext, flags) } catch { /* one lost sample */ } },
}

/** The delta since the previous call; resets the worker's counters. Called once a second. */
export function takeMetricsDelta (): MetricsDelta {
  const all: Series[] = []
  for (const s of series.values()) {
    all.push(s)
    if (s.consumers !== null) for (const c of s.consumers.values()) all.push(c)
  }
  const n = all.length
  const labels = new Array<string>(n * 3)
  const status: number[] = []
  const buckets = new Uint32Array(n * HIST_SLOTS)
  const sums = new Float64Array(n * 3)
  const bytes = new Float64Array(n * 2)
  for (let i = 0; i < n; i++) {
    const s = all[i]!
    labels[3 * i] = s.service
    labels[3 * i + 1] = s.route
    labels[3 * i + 2] = s.consumer
    const st = s.status
    for (let k = 0; k < st.length; k += 3) status.push(i, st[k]!, st[k + 1]!, st[k + 2]!)
    if (s.hist !== null) buckets.set(s.hist, i * HIST_SLOTS)
    sums[3 * i] = s.requestSum
    sums[3 * i + 1] = s.upstreamSum
    sums[3 * i + 2] = s.kongSum
    bytes[2 * i] = s.ingress
    bytes[2 * i + 1] = s.egress
  }
  series = new Map()
  const heap = getHeapStatistics()
  const delta: MetricsDelta = {
    finished,
    heapUsed: heap.used_heap_size,
    heapTotal: heap.total_heap_size,
    labels,
    status,
    buckets,
    sums,
    bytes,
    hdr: [takeEncoded(hdrRequest), takeEncoded(hdrKong)],
    hdrSums: [sumRequestUs, sumKongUs],
    logDropped: takeAccessLogDropped(),
  }
  finished = 0
  sumRequestUs = 0
  sumKongUs = 0
  return delta
}
