/**
 * http-log's batch handler (kong/plugins/http-log/handler.lua send_entries): one HTTP request per
 * batch to `http_endpoint`, through an undici Pool per (origin, timeout, keepalive) that keeps
 * connections alive for `keepalive` ms and gives up on a silent collector after `timeout` ms
 * (connect, response head and body each). TLS endpoints are not verified (Kong: ssl_verify=false).
 * The host name resolves through Kong's DNS settings at each new connection (shared/dns-lookup.ts).
 *
 * Request: `method`; `Content-Type: content_type`; `Authorization: Basic <userinfo>` when the URL
 * carries user info; the configured `headers` (never replacing those); body = the entry itself
 * when max_batch_size is 1, else a JSON array of the entries (even of one). As in Kong, the
 * endpoint's query string is not sent (scheme://host:port/path).
 * Result: a status below 300 is success; anything else, or a network error, rejects with Kong's
 * message, and the queue retries.
 */
import type { Pool } from 'undici'
import type { BatchHandler } from '../shared/log-queue.ts'
import { pluginPool } from '../shared/http-pool.ts'

export interface HttpLogConfig {
  http_endpoint: string
  method?: string
  content_type?: string
  timeout?: number
  keepalive?: number
  headers?: Record<string, string> | null
  queue?: Record<string, unknown> | null
  retry_count?: number | null
  queue_size?: number | null
  flush_timeout?: number | null
  custom_fields_by_lua?: Record<string, string> | null
}

export interface Endpoint {
  readonly origin: string
  readonly path: string
  /** `host:port` for messages (no user info). */
  readonly hostPort: string
  /** The endpoint without user info, for log lines. */
  readonly display: string
  readonly authorization: string | null
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' }

/** Kong's parse_url: default port by scheme, default path `/`, user info kept for Basic auth. */
export function parseEndpoint (raw: string): Endpoint {
  const u = new URL(raw)
  const port = u.port !== '' ? u.port : (DEFAULT_PORT[u.protocol] ?? '80')
  const userinfo = u.username !== '' || u.password !== '' ? (u.password !== '' ? `${u.username}:${u.password}` : u.username) : null
  const path = u.pathname === '' ? '/' : u.pathname
  return {
    origin: `${u.protocol}//${u.hostname}:${port}`,
    path,
    hostPort: `${u.hostname}:${port}`,
    display: `${u.protocol}//${u.hostname}:${port}${path}`,
    authorization: userinfo === null ? null : `Basic ${Buffer.from(userinfo).toString('base64')}`,
  }
}

const MAX_ERROR_BODY = 4096

async function readSome (body: AsyncIterable<Buffer> & { destroy (): void }): Promise<string> {
  const parts: Buffer[] = []
  let n = 0
  for await (const chunk of body) {
    parts.push(chunk)
    n += chunk.length
    if (n >= MAX_ERROR_BODY) { body.destroy(); break }
  }
  return Buffer.concat(parts).subarray(0, MAX_ERROR_BODY).toString('utf8')
}

/** The queue handler for one http-log configuration (everything decided here, once). */
export function buildSender (conf: HttpLogConfig, batched: boolean): BatchHandler {
  const ep = parseEndpoint(conf.http_endpoint)
  const timeout = conf.timeout ?? 10000
  const pool = pluginPool(ep.origin, { verify: false, timeout, keepalive: conf.keepalive ?? 60000, connections: 8 })
  const method = (conf.method ?? 'POST') as 'POST'
  const headers: string[] = ['content-type', conf.content_type ?? 'application/json']
  if (ep.authorization !== null) headers.push('authorization', ep.authorization)
  const taken = new Set(['content-type', 'content-length', 'authorization', 'host'])
  for (const [k, v] of Object.entries(conf.headers ?? {})) {
    if (!taken.has(k.toLowerCase())) headers.push(k, v)
  }
  const where = ep.hostPort
  return async (entries) => {
    const body = batched ? `[${entries.join(',')}]` : entries[0]!
    let res
    try {
      res = await pool.request({ path: ep.path, method, headers, body, headersTimeout: timeout, bodyTimeout: timeout })
    } catch (err) {
      throw new Error(`failed request to ${where}: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (res.statusCode < 300) {
      await res.body.dump().catch(() => {})
      return
    }
    const text = await readSome(res.body).catch(() => '')
    throw new Error(`request to ${where} returned status code ${res.statusCode} and body ${text}`)
  }
}
