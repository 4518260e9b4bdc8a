/**
 * Kong's log serializer (`kong.log.serialize()`, kong/pdk/log.lua, http subsystem): the entry
 * that file-log, http-log, tcp-log and udp-log send, with Kong's field names and meanings:
 *
 *   request { id, uri, url, querystring, method, headers, size, tls }   authorization and
 *       proxy-authorization headers are "REDACTED"; tls only on TLS connections
 *   upstream_uri, upstream_status ("" when not proxied)
 *   response { status, headers, size }
 *   latencies { kong, proxy, request, receive }   ms; proxy is -1 when not proxied
 *   tries [{ ip, port, balancer_start, balancer_latency }]   only when proxied
 *   authenticated_entity { id, consumer_id }, consumer   only when authenticated
 *   route, service   the matched rows
 *   client_ip, started_at (ms), source ("service" | "exit" | "error"), workspace, workspace_name
 *
 * Then the values plugins set for the entry (kong.log.set_serialize_value), kept in
 * kong.ctx.shared under SERIALIZE_VALUES (correlation-id sets `correlation_id` there): each key
 * is a dotted path into the entry, applied in order as Kong's edit_result does (see
 * applySerializeValues).
 *
 * Several log plugins on one request log the same entry, so the JSON text is kept for the
 * request being logged (a one-slot memo keyed by the context object): serialization runs once
 * per request, whatever the number of log plugins.
 */
import type { FlatHeaders, LogContext } from '../types.ts'

/**
 * Sluice has no workspaces: everything is in Kong's `default` one. Kong's default workspace id is
 * random per installation; this fixed id keeps the field's shape (a uuid).
 */
export const DEFAULT_WORKSPACE_ID = '00000000-0000-0000-0000-000000000000'
export const DEFAULT_WORKSPACE_NAME = 'default'

const REDACTED = 'REDACTED'

/**
 * kong.ctx.shared key of the values set with kong.log.set_serialize_value. Either a plain object
 * `{ key: value }` (each one mode `set`), or Kong's own list form
 * `[{ key, value, mode: 'set' | 'add' | 'replace' }]`.
 */
export const SERIALIZE_VALUES = 'kong.log.serialize_values'

export interface SerializeValue { key: string; value: unknown; mode?: 'set' | 'add' | 'replace' }

/** Entries of the snapshot's rows: shared by every request, so copied before a value goes inside. */
const ROW_FIELDS = new Set(['route', 'service', 'consumer'])

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The set_serialize_value edits, as Kong's edit_result applies them: a key `a.b.c` walks the
 * entry, making the missing tables on the way for `set` and `add` (a `replace` with a missing
 * link does nothing); the last part is then written (`set`), written only if absent (`add`), or
 * only if present (`replace`). A value of undefined or null removes the field (Lua's nil). Where
 * Kong raises an error (a part on the way that is not a table), the edit is skipped and the
 * entry still goes out.
 */
export function applySerializeValues (root: Record<string, unknown>, values: unknown): void {
  if (Array.isArray(values)) {
    for (const v of values as SerializeValue[]) if (v !== null && typeof v === 'object' && typeof v.key === 'string') applyOne(root, v.key, v.value, v.mode ?? 'set')
  } else if (isTable(values)) {
    for (const key in values) applyOne(root, key, values[key], 'set')
  }
}

function applyOne (root: Record<string, unknown>, key: string, value: unknown, mode: string): void {
  const parts = key.split('.')
  let node = root
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i]!
    let next = node[part]
    if (next === undefined || next === null) {
      if (mode === 'replace') return
      next = node[part] = {}
    } else if (!isTable(next)) {
      return
    } else if (i === 0 && node === root && ROW_FIELDS.has(part)) {
      next = node[part] = JSON.parse(rowText(next)) as Record<string, unknown>
    }
    node = next as Record<string, unknown>
  }
  const last = parts[parts.length - 1]!
  const present = node[last] !== undefined && node[last] !== null
  if (mode === 'set' || (mode === 'add' && !present) || (mode === 'replace' && present)) {
    if (value === undefined || value === null) delete node[last]
    else node[last] = value
  }
}

/**
 * The request's serialize values, if any. Reads the worker context's map without making one
 * (kong.ctx.shared is allocated on first use, worker/context.ts); other contexts go through `shared`.
 */
function serializeValues (ctx: LogContext): unknown {
  const own = (ctx as { sharedMap?: Map<string, unknown> | null }).sharedMap
  const shared = own === undefined ? ctx.shared : own
  return shared === null ? undefined : shared.get(SERIALIZE_VALUES)
}

type HeaderMap = Record<string, string | string[]>

function headerObject (list: readonly string[]): HeaderMap {
  const out: HeaderMap = {}
  for (let i = 0; i + 1 < list.length; i += 2) {
    const k = list[i]!
    const v = list[i + 1]!
    const prev = out[k]
    if (prev === undefined) out[k] = v
    else if (Array.isArray(prev)) prev.push(v)
    else out[k] = [prev, v]
  }
  return out
}

/** nginx $request_length, estimated: request line + headers + body. */
function requestLength (ctx: LogContext, headers: HeaderMap): number {
  // "METHOD /path?query HTTP/1.1\r\n"
  let n = ctx.method.length + 1 + ctx.path.length + 11
  if (ctx.query !== null) n += ctx.query.length + 1
  for (const k in headers) {
    const v = headers[k]!
    if (typeof v === 'string') n += k.length + v.length + 4
    else for (let i = 0; i < v.length; i++) n += k.length + v[i]!.length + 4
  }
  return n + 2 + ctx.bytesReceived
}

/** kong.response.get_source(): an exit, the service, or an error page. */
/** nginx $bytes_sent: the head (estimated from the headers that went out) plus the body bytes written. */
function bytesSent (ctx: LogContext, head: FlatHeaders): number {
  // "HTTP/1.1 200 OK\r\n" + "name: value\r\n"... + "\r\n"
  let n = 17 + 2
  for (let i = 0; i + 1 < head.length; i += 2) n += head[i]!.length + head[i + 1]!.length + 4
  return n + ctx.bytesOut
}

function source (ctx: LogContext): string {
  if (ctx.exited) return 'exit'
  return ctx.tries > 0 ? 'service' : 'error'
}

/**
 * `kong.log.serialize()` as a plain object. `rows: false` leaves out route, service and consumer
 * (serializeJson appends their cached JSON text).
 */
export function serialize (ctx: LogContext, rows = true): Record<string, unknown> {
  const reqHeaders = ctx.getHeaders()
  if (reqHeaders.authorization !== undefined) reqHeaders.authorization = REDACTED
  if (reqHeaders['proxy-authorization'] !== undefined) reqHeaders['proxy-authorization'] = REDACTED
  const uri = ctx.query === null ? ctx.path : `${ctx.path}?${ctx.query}`
  const resList = ctx.getResponseHeaders()
  const requestMs = ctx.requestLatency
  const proxied = ctx.proxyLatency >= 0
  const kongMs = proxied ? ctx.proxyLatency : requestMs
  const proxyMs = ctx.upstreamLatency >= 0 ? ctx.upstreamLatency : -1
  const upstreamStatus = ctx.tries > 0 && ctx.status > 0 && !ctx.exited ? String(ctx.status) : ''

  let tries: Array<Record<string, unknown>> | undefined
  if (ctx.tries > 0) {
    const target = ctx.upstreamTarget
    const start = Math.round(ctx.startedAt + kongMs)
    tries = []
    for (let i = 0; i < ctx.tries; i++) {
      tries.push({ balancer_start: start, balancer_latency: 0, ip: target?.host ?? null, port: target?.port ?? null })
    }
  }

  const consumer = ctx.consumer
  const credential = ctx.credential
  const route = ctx.routeRow
  const service = ctx.serviceRow

  const entry: Record<string, unknown> = {
    request: {
      id: ctx.requestId,
      uri,
      url: `${ctx.scheme}://${ctx.hostName}:${ctx.port}${uri}`,
      querystring: { ...ctx.getQueryArgs() },
      method: ctx.method,
      headers: reqHeaders,
      size: requestLength(ctx, reqHeaders),
      // tls: only over TLS (Sluice's proxy listeners are plain HTTP today).
    },
    upstream_uri: ctx.upstreamUri,
    upstream_status: upstreamStatus,
    response: {
      // nginx logs 499 when the client went away before a status was set.
      status: ctx.status !== 0 ? ctx.status : 499,
      headers: headerObject(resList),
      size: bytesSent(ctx, resList),
    },
    latencies: {
      kong: kongMs,
      proxy: proxyMs,
      request: requestMs,
      receive: proxied && proxyMs >= 0 ? Math.max(0, requestMs - kongMs - proxyMs) : 0,
    },
    tries,
    authenticated_entity: credential !== null
      ? { id: credential.id, consumer_id: credential.consumer?.id ?? consumer?.id }
      : undefined,
    route: rows ? (route ?? undefined) : undefined,
    service: rows ? (service ?? undefined) : undefined,
    consumer: rows ? (consumer ?? undefined) : undefined,
    client_ip: ctx.forwardedIp(),
    started_at: Math.round(ctx.startedAt),
    source: source(ctx),
    workspace: DEFAULT_WORKSPACE_ID,
    workspace_name: DEFAULT_WORKSPACE_NAME,
  }
  if (rows) {
    const values = serializeValues(ctx)
    if (values !== undefined) applySerializeValues(entry, values)
  }
  return entry
}

/**
 * JSON text of snapshot rows (route, service, consumer): they are the same objects for every
 * request of a snapshot and never change, so each is encoded once (about 40 % of the cost of an
 * entry otherwise); a new snapshot brings new objects, and the old text goes with them.
 */
const rowJson = new WeakMap<object, string>()

function rowText (row: object): string {
  let s = rowJson.get(row)
  if (s === undefined) {
    s = JSON.stringify(row)
    rowJson.set(row, s)
  }
  return s
}

let memoCtx: LogContext | null = null
let memoJson = ''

/** `cjson.encode(kong.log.serialize())`, computed once per request. */
export function serializeJson (ctx: LogContext): string {
  if (memoCtx === ctx) return memoJson
  let json: string
  if (serializeValues(ctx) !== undefined) json = JSON.stringify(serialize(ctx, true)) // edits may reach into the rows
  else json = rowsAppended(ctx)
  memoJson = json
  memoCtx = ctx
  return json
}

/** The entry without edits: the rows' cached JSON text appended to the rest. */
function rowsAppended (ctx: LogContext): string {
  let json = JSON.stringify(serialize(ctx, false))
  const route = ctx.routeRow
  const service = ctx.serviceRow
  const consumer = ctx.consumer
  if (route !== null || service !== null || consumer !== null) {
    json = json.slice(0, -1)
    if (route !== null) json += `,"route":${rowText(route)}`
    if (service !== null) json += `,"service":${rowText(service)}`
    if (consumer !== null) json += `,"consumer":${rowText(consumer)}`
    json += '}'
  }
  return json
}
