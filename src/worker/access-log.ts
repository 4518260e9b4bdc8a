/**
 * The proxy access log of one worker (`proxy_access_log`): one line per finished request, in
 * nginx's `combined` format or as JSON, handed to a LineWriter (common/log.ts) that batches and
 * writes asynchronously: formatting is the only work done on the request path. Every worker
 * appends to the same file with its own O_APPEND descriptor (one write per batch, so lines of
 * different workers never interleave mid-line); SIGUSR1 on the process reopens it (logrotate).
 *
 * combined (nginx log_format combined):
 *   $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
 * with nginx's default escaping (`"`, `\`, control and non-ASCII bytes as \xHH).
 *
 * json: one object per line: time (ISO 8601), remote_addr, method, uri, status, body_bytes_sent,
 * request_length, request_time_ms, upstream_latency_ms, kong_latency_ms (-1 when not proxied),
 * referer, user_agent, request_id, service, route (null when none), worker.
 */
import { escapeNginx, LineWriter, parseAccessLog, timeLocal, type AccessLogFormat } from '../common/log.ts'
import type { Config } from '../config/load.ts'
import type { RequestContext } from './context.ts'

let writer: LineWriter | null = null
let format: AccessLogFormat = 'combined'
let worker = 0
let reportedDropped = 0

/** True when lines are written (read once per request by the metrics recorder). */
export let accessLogOn = false

/** Opens the access log named by the worker's config; a bad value turns it off (`sluice check` reports it). */
export function initAccessLog (config: Config, workerId: number): void {
  closeAccessLog()
  worker = workerId
  reportedDropped = 0
  const raw = (config.raw as Record<string, string> | undefined)?.proxy_access_log ?? 'off'
  try {
    const s = parseAccessLog('proxy_access_log', raw, config.prefix)
    format = s.format
    if (s.target.kind === 'off') return
    writer = new LineWriter(s.target)
    accessLogOn = true
  } catch {
    writer = null
    accessLogOn = false
  }
}

/** Flushes what is left and closes (worker exit). */
export function closeAccessLog (): void {
  if (writer !== null) writer.closeSync()
  writer = null
  accessLogOn = false
}

/** Lines dropped since the previous call (the destination could not keep up). */
export function takeAccessLogDropped (): number {
  const d = writer === null ? 0 : writer.dropped - reportedDropped
  if (writer !== null) reportedDropped = writer.dropped
  return d
}

// ---- lines ----

/** What the recorder already computed for the request (metrics-recorder.ts). */
export interface AccessFacts {
  status: number
  /** Response body bytes sent (nginx $body_bytes_sent). */
  bytesOut: number
  /** Request line + headers + body, estimated (nginx $request_length). */
  requestLength: number
  totalMs: number
  referer: string | null
  userAgent: string | null
  service: string | null
  route: string | null
}

export function combinedLine (ctx: RequestContext, f: AccessFacts, nowMs: number): string {
  const uri = ctx.query === null ? ctx.path : `${ctx.path}?${ctx.query}`
  return `${ctx.remoteAddr} - - [${timeLocal(nowMs)}] "${escapeNginx(ctx.method)} ${escapeNginx(uri)} HTTP/1.1" ${f.status} ${f.bytesOut} ` +
    `"${f.referer === null ? '-' : escapeNginx(f.referer)}" "${f.userAgent === null ? '-' : escapeNginx(f.userAgent)}"\n`
}

export function jsonLine (ctx: RequestContext, f: AccessFacts, nowMs: number): string {
  return JSON.stringify({
    time: new Date(nowMs).toISOString(),
    remote_addr: ctx.remoteAddr,
    method: ctx.method,
    uri: ctx.query === null ? ctx.path : `${ctx.path}?${ctx.query}`,
    status: f.status,
    body_bytes_sent: f.bytesOut,
    request_length: f.requestLength,
    request_time_ms: Math.round(f.totalMs * 1000) / 1000,
    upstream_latency_ms: ctx.upstreamLatency,
    kong_latency_ms: ctx.proxyLatency,
    referer: f.referer,
    user_agent: f.userAgent,
    request_id: ctx.requestIdValue === '' ? null : ctx.requestIdValue,
    service: f.service,
    route: f.route,
    worker,
  }) + '\n'
}

/** Appends the request's line; called once per request by the metrics recorder when accessLogOn. */
export function writeAccessLog (ctx: RequestContext, f: AccessFacts): void {
  const w = writer
  if (w === null) return
  const now = Date.now()
  w.write(format === 'json' ? jsonLine(ctx, f, now) : combinedLine(ctx, f, now))
}
