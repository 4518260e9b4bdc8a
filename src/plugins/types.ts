/**
 * The plugin contract (STYLE.md §3): what a handler module exports and what it may call.
 *
 * A handler is a plain object with Kong's name and PRIORITY and one optional function per phase.
 * `prepare(conf, env)` runs in worker/compile.ts once per snapshot and per plugin instance: every
 * parse, lowercase, join, regex and key import happens there, never per request. The phases get
 * the request as a `PluginContext` (Kong's PDK surface: kong.request, kong.service.request,
 * kong.client, kong.response, kong.ctx.shared) and the prepared config.
 *
 * Phases (kong/init.lua, runloop/plugins_iterator.lua):
 * - `rewrite`: global instances only, before routing;
 * - `access`: per-route chain in descending priority (ties: name descending); the config of each
 *   plugin is the most specific of Kong's 8 scopes, and an instance scoped to a consumer applies
 *   to the plugins that run after an auth plugin identified that consumer;
 * - `headerFilter` (sync), `bodyFilter` (sync, chunk in, chunk out), `log` (after the response is
 *   finished, errors are caught and logged). These run with the configs chosen during access,
 *   also for responses the gateway produced itself (a plugin's exit, 404, 502 ...).
 *
 * A phase ends the request with `ctx.exit()` / `ctx.error()` and returns. Returning a Promise
 * makes the runner wait; returning nothing keeps the chain synchronous. Throwing (or rejecting)
 * answers 500 `An unexpected error occurred`, as Kong does for a plugin runtime error.
 */

/** Flat header list `[name0, value0, name1, value1, ...]`, names lowercase. */
export type FlatHeaders = readonly string[]

/** A query argument as Kong's `kong.request.get_query()` gives it: `?a` is `true`; repeats are arrays. */
export type QueryValue = string | true | Array<string | true>

/** A `consumers` row (Kong shape). */
export interface ConsumerRow {
  readonly id: string
  readonly username: string | null
  readonly custom_id: string | null
  readonly tags?: readonly string[] | null
  readonly [field: string]: unknown
}

/** A credential row of any auth table (Kong shape: keyauth_credentials, jwt_secrets, ...). */
export interface CredentialRow {
  readonly id: string
  readonly consumer: { readonly id: string } | null
  readonly [field: string]: unknown
}

/** A `plugins` row as it arrives in the snapshot (config already validated, defaults filled). */
export interface PluginRow {
  readonly id: string
  readonly name: string
  readonly instance_name?: string | null
  readonly config: Record<string, unknown>
  readonly enabled: boolean
  readonly protocols: readonly string[] | null
  readonly route: { readonly id: string } | null
  readonly service: { readonly id: string } | null
  readonly consumer: { readonly id: string } | null
  readonly tags?: readonly string[] | null
  readonly created_at?: number
}

/** A parsed request body (`kong.request.get_body()`): fields by name, and the type it came in. */
export interface ParsedBody {
  readonly type: 'json' | 'form' | 'multipart'
  /** JSON: whatever the document was (usually an object); form/multipart: name -> value(s). */
  readonly value: unknown
}

/** Consumers of the snapshot, indexed once per snapshot. */
export interface ConsumerIndex {
  byId (id: string): ConsumerRow | undefined
  /** Kong's `kong.client.load_consumer(x, true)`: by id when x is a UUID, else by username. */
  find (idOrUsername: string): ConsumerRow | undefined
}

/**
 * A big snapshot table (consumers, credentials) as the worker keeps it: columns, rows by position
 * (sorted by id), a row object built only when asked for. Credential indexes keep positions.
 */
export interface TableView {
  readonly size: number
  /** The id of row i. */
  id (i: number): string
  /** A field of row i without building the row; a foreign key (`consumer`) gives its id string or null. */
  field (i: number, name: string): unknown
  /** Row i, Kong-shaped (the same object while it stays in the table's small cache). */
  row (i: number): Record<string, unknown> & { id: string }
  /** Position of the row with this id, or a negative number. */
  find (id: string): number
  /** A lookup: string field value -> position (-1: none), built on first use; null when the field is not a string column. */
  indexOf (name: string): ((value: string) => number) | null
}

/** What `prepare` gets besides the config: the snapshot, indexed lazily and shared by instances. */
export interface PrepareEnv {
  /** The plugin row being prepared (scope, id, instance name). */
  readonly plugin: PluginRow
  /** Kong-shaped rows of a snapshot table (`[]` when absent). */
  rows (table: string): readonly Record<string, unknown>[]
  /**
   * The same table as columns when the worker keeps it so (consumers and credential tables);
   * undefined otherwise. An index over it keeps positions, not rows: far less memory at 100,000s.
   */
  table? (name: string): TableView | undefined
  readonly consumers: ConsumerIndex
  /**
   * A per-snapshot value built on first request by any instance (credential indexes, compiled
   * keys): `env.memo('key-auth:keys', () => new Map(...))`. Keys are namespaced by plugin name.
   */
  memo<T> (key: string, build: () => T): T
  /** Node identity for echo/log output. */
  readonly nodeId: string
  readonly hostname: string
}

/** The request as plugins see it (Kong's PDK). Names passed in are lowercase. */
export interface PluginContext {
  // kong.request
  readonly method: string
  /** Raw path (percent-encoded), without the query. */
  readonly path: string
  /** Raw query string without '?', null when the request had none. */
  readonly query: string | null
  /** `http` or `https` (X-Forwarded-Proto from a trusted client). */
  readonly scheme: string
  /** nginx `$host`: lowercase, without port. */
  readonly hostName: string
  readonly port: number
  /** First value of a request header; sees changes made by earlier plugins (as ngx.req.set_header). */
  getHeader (name: string): string | undefined
  /** Every value of a request header: a string, an array when repeated, undefined when absent. */
  getHeaderAll (name: string): string | string[] | undefined
  /** All request headers as Kong's get_headers(): name -> value or values. Allocates: not for the hot path. */
  getHeaders (): Record<string, string | string[]>
  getQueryArg (name: string): QueryValue | undefined
  /** All query arguments (parsed once per request, on first use). */
  getQueryArgs (): Readonly<Record<string, QueryValue>>
  /** The value of a cookie (nginx `$cookie_<name>`). */
  getCookie (name: string): string | undefined
  /**
   * The whole request body, reading it if needed (Kong's get_raw_body). A zero-length Buffer for
   * no body; null when it is larger than the buffering limit. A Promise while it is being read.
   */
  readBody (): Buffer | null | Promise<Buffer | null>
  /**
   * Refuses the request body with 413 `Request size limit exceeded` once more than `bytes` of it
   * arrived while it streams to the upstream (bodies too large to be read whole with readBody).
   */
  limitBodySize (bytes: number): void
  /** `kong.request.get_body()`: JSON, urlencoded or multipart; null when absent or unparseable. */
  getBody (): ParsedBody | null | Promise<ParsedBody | null>

  // kong.service.request (the upstream request)
  setHeader (name: string, value: string): void
  addHeader (name: string, value: string): void
  clearHeader (name: string): void
  /** Replaces the query string (raw, without '?'); null removes it. */
  setRawQuery (query: string | null): void
  clearQueryArg (name: string): void
  setQueryArgs (args: Readonly<Record<string, QueryValue>>): void
  /** Upstream path (already encoded). */
  setPath (path: string): void
  setMethod (method: string): void
  /** Replaces the upstream body; the content type is set when given. */
  setRawBody (body: Buffer | string, contentType?: string): void
  /** Re-encodes `value` in the type the request body came in (JSON, form, multipart). */
  setBody (body: ParsedBody): void

  // kong.client
  readonly remoteAddr: string
  /** kong.client.get_ip(): the address of the peer connected to the gateway. */
  clientIp (): string
  /** kong.client.get_forwarded_ip(): nginx `$remote_addr` after realip (trusted_ips + real_ip_header). */
  forwardedIp (): string
  authenticate (consumer: ConsumerRow | null, credential: CredentialRow | null): void
  readonly consumer: ConsumerRow | null
  readonly credential: CredentialRow | null
  /** Groups set by an external authentication (kong.ctx.shared.authenticated_groups). */
  authenticatedGroups: readonly string[] | null

  // kong.router
  readonly routeRow: Record<string, unknown> | null
  readonly serviceRow: Record<string, unknown> | null
  /** kong.request.get_uri_captures(): `{ unnamed: string[], named: {} }` (no whole match), or null. */
  readonly uriCaptures: unknown

  // kong.response
  /**
   * `kong.response.exit`: a string/Buffer body goes as is; an object is JSON-encoded with
   * `Content-Type: application/json; charset=utf-8`; `headers` is a flat list.
   */
  exit (status: number, body?: string | Buffer | object | null, headers?: FlatHeaders | null): void
  /**
   * The next `exit` answers as if the request was proxied (Kong's KONG_PROXIED, set by proxy-cache
   * on a Hit): the response carries Via and X-Kong-Upstream-Latency / X-Kong-Proxy-Latency instead
   * of X-Kong-Response-Latency.
   */
  markProxied? (): void
  /** `kong.response.exit` with an already encoded JSON body (prebuilt in prepare). */
  exitJson (status: number, json: string, headers?: FlatHeaders | null): void
  /** `kong.response.error`: Kong's template chosen by Accept, with request_id. */
  error (status: number, message?: string, headers?: FlatHeaders | null): void
  readonly exited: boolean
  /** Response status (header filter, body filter, log). */
  readonly status: number
  /** Response headers: in access they are staged for the response, in the header filter they are live. */
  getResponseHeader (name: string): string | undefined
  /**
   * All response headers (ngx.resp.get_headers) as a flat list, lowercase names: live in the
   * header and body filters (do not keep it), the headers that went out in log.
   */
  getResponseHeaders (): FlatHeaders
  setResponseHeader (name: string, value: string): void
  addResponseHeader (name: string, value: string): void
  clearResponseHeader (name: string): void

  /** kong.ctx.shared, allocated on first use. */
  readonly shared: Map<string, unknown>
  readonly requestId: string
}

/** What a log phase may read once the response is finished. */
export interface LogContext extends PluginContext {
  readonly startedAt: number
  /** Milliseconds: Kong's latencies.kong / proxy / request (-1 when not applicable). */
  readonly proxyLatency: number
  readonly upstreamLatency: number
  readonly requestLatency: number
  readonly tries: number
  readonly bytesReceived: number
  /** Response body bytes written to the client. */
  readonly bytesOut: number
  /** nginx `$upstream_uri`: path and query sent upstream; '' when not proxied. */
  readonly upstreamUri: string
  /** The upstream the request went to (host and port of the service target); null when not proxied. */
  readonly upstreamTarget: { readonly host: string; readonly port: number } | null
}

export type PhaseResult = void | Promise<void>

export interface PluginHandler<Conf = Record<string, unknown>, Prepared = Conf> {
  /** Exact Kong plugin name. */
  readonly name: string
  /** Kong's PRIORITY: higher runs first; ties: name descending. */
  readonly priority: number
  /** Runs once per snapshot per instance; may throw (the instance then answers 500). */
  prepare? (conf: Conf, env: PrepareEnv): Prepared
  rewrite? (ctx: PluginContext, conf: Prepared): PhaseResult
  access? (ctx: PluginContext, conf: Prepared): PhaseResult
  headerFilter? (ctx: PluginContext, conf: Prepared): void
  /** Returns what goes out instead of `chunk` (an empty Buffer to hold data back until `last`). */
  bodyFilter? (ctx: PluginContext, conf: Prepared, chunk: Buffer, last: boolean): Buffer
  log? (ctx: LogContext, conf: Prepared): void
}

/** Any handler, as the static list holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPluginHandler = PluginHandler<any, any>

/** Identity helper that keeps the handler's Conf/Prepared types checked. */
export function definePlugin<Conf, Prepared> (h: PluginHandler<Conf, Prepared>): PluginHandler<Conf, Prepared> {
  return h
}
