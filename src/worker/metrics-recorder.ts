/**
 * What a worker records about each finished request, and the delta it sends the primary once a
 * second (metrics/delta.ts). Called once per request from lifecycle.ts `maybeFinish`, before the
 * context is marked done; nothing here allocates per request except the access log line.
 *
 * Per route (Kong's exporter: requests without a matched route are not in the per-series
 * families), as Kong's prometheus plugin with status_code, latency and bandwidth metrics on:
 * - status counts by (code, source): source `service` when the response came from the upstream,
 *   `kong` when the gateway produced it (kong.response.get_source() ~= "service");
 * - latency into Kong's buckets: request (total), upstream (time to the upstream's response
 *   head, Kong's latencies.proxy) when proxied, kong (time before the upstream request went out,
 *   or the whole time of a gateway-generated response: Kong's latencies.kong);
 * - bandwidth: ingress (request line + headers + body, nginx $request_length, estimated from the
 *   copied headers) and egress (response body bytes written, `ctx.bytesOut`: nginx $body_bytes_sent).
 * Node-wide, every request: request and kong latency in microseconds into hdr-histograms.
 *
 * The series map is keyed by the compiled route object: no key string is built per request. It
 * is emptied by takeMetricsDelta(), so a route removed by a snapshot swap is forgotten within a
 * second.
 */
import { getHeapStatistics } from 'node:v8'
import { HIST_SLOTS, KIND_BOUNDS, KIND_OFFSET, bucketIndex } from '../metrics/buckets.ts'
import { SOURCE_KONG, SOURCE_SERVICE, type MetricsDelta } from '../metrics/delta.ts'
import { newHistogram, recordUs, takeEncoded } from '../metrics/hdr.ts'
import { accessLogOn, takeAccessLogDropped, writeAccessLog, type AccessFacts } from './access-log.ts'
import { ST_STREAMING, type RequestContext } from './context.ts'

class Series {
  readonly service: string
  readonly route: string
  readonly consumer: string
  /** Flat triples [status, source, count]: a handful of distinct statuses per route. */
  readonly status: number[] = []
  readonly hist = new Uint32Array(HIST_SLOTS)
  requestSum = 0
  upstreamSum = 0
  kongSum = 0
  ingress = 0
  egress = 0

  constructor (service: string, route: string, consumer: string) {
    this.service = service
    this.route = route
    this.consumer = consumer
  }

  count (status: number, source: number): void {
    const a = this.status
    for (let i = 0; i < a.length; i += 3) {
      if (a[i] === status && a[i + 1] === source) { a[i + 2]!++; return }
    }
    a.push(status, source, 1)
  }

  observe (kind: number, ms: number): void {
    this.hist[KIND_OFFSET[kind]! + bucketIndex(KIND_BOUNDS[kind]!, ms)]!++
  }
}

type RouteLike = NonNullable<RequestContext['route']>

let series = new Map<RouteLike, Series>()
let finished = 0
const hdrRequest = newHistogram()
const hdrKong = newHistogram()
let sumRequestUs = 0
let sumKongUs = 0

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

const facts: AccessFacts = { status: 0, bytesOut: 0, requestLength: 0, totalMs: 0, referer: null, userAgent: null, service: null, route: null }

/** Records one finished request (metrics and access log). Never throws into the caller. */
export function recordRequest (ctx: RequestContext): void {
  try {
    const totalMs = performance.now() - ctx.t0
    finished++
    // nginx logs 499 for a request whose client went away before a response status was set.
    const status = ctx.resStatus !== 0 ? ctx.resStatus : 499
    const fromService = ctx.state === ST_STREAMING
    const proxied = ctx.proxyLatency >= 0
    const upstreamMs = ctx.upstreamLatency
    const kongMs = proxied ? ctx.proxyLatency : Math.round(totalMs)

    recordUs(hdrRequest, totalMs * 1000)
    sumRequestUs += Math.round(totalMs * 1000)
    const kongUs = proxied ? (ctx.tUpstream - ctx.t0) * 1000 : totalMs * 1000
    recordUs(hdrKong, kongUs)
    sumKongUs += Math.round(kongUs)

    scanHeaders(ctx.headers)
    let requestLength = ctx.method.length + ctx.path.length + 12 + hLength + 2 + ctx.bodyBytes
    if (ctx.query !== null) requestLength += ctx.query.length + 1
    const bytesOut = ctx.bytesOut

    const route = ctx.route
    let s: Series | undefined
    if (route !== null) {
      s = series.get(route)
      if (s === undefined) {
        const svc = route.service
        s = new Series(svc === null ? '' : (svc.name ?? svc.target.host), route.name ?? route.id, '')
        series.set(route, s)
      }
      const requestMs = Math.round(totalMs)
      s.count(status, fromService ? SOURCE_SERVICE : SOURCE_KONG)
      s.observe(0, requestMs)
      s.requestSum += requestMs
      if (upstreamMs >= 0) {
        s.observe(1, upstreamMs)
        s.upstreamSum += upstreamMs
      }
      s.observe(2, kongMs)
      s.kongSum += kongMs
      s.ingress += requestLength
      s.egress += bytesOut
    }

    if (accessLogOn) {
      facts.status = status
      facts.bytesOut = bytesOut
      facts.requestLength = requestLength
      facts.totalMs = totalMs
      facts.referer = hReferer
      facts.userAgent = hUserAgent
      facts.service = s === undefined ? null : s.service
      facts.route = s === undefined ? null : s.route
      writeAccessLog(ctx, facts)
    }
  } catch {
    // Bookkeeping must never break a request; a failure here only loses one sample.
  }
}

/** The delta since the previous call; resets the worker's counters. Called once a second. */
export function takeMetricsDelta (): MetricsDelta {
  const n = series.size
  const labels = new Array<string>(n * 3)
  const status: number[] = []
  const buckets = new Uint32Array(n * HIST_SLOTS)
  const sums = new Float64Array(n * 3)
  const bytes = new Float64Array(n * 2)
  let i = 0
  for (const s of series.values()) {
    labels[3 * i] = s.service
    labels[3 * i + 1] = s.route
    labels[3 * i + 2] = s.consumer
    const st = s.status
    for (let k = 0; k < st.length; k += 3) status.push(i, st[k]!, st[k + 1]!, st[k + 2]!)
    buckets.set(s.hist, i * HIST_SLOTS)
    sums[3 * i] = s.requestSum
    sums[3 * i + 1] = s.upstreamSum
    sums[3 * i + 2] = s.kongSum
    bytes[2 * i] = s.ingress
    bytes[2 * i + 1] = s.egress
    i++
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
