/**
 * One active probe of one address (lua-resty-healthcheck `run_single_check`), run on the primary
 * (type tcp never probes: see checks.ts):
 *
 * - http / https (grpc / grpcs probe the same way): `GET <http_path>` over HTTP/1.1 with
 *   `Host: <upstream host_header or the target's host>` (no port, as Kong sends it),
 *   `Connection: close` and the configured headers; https uses SNI `https_sni`, else the Host
 *   value, and verifies the certificate when `https_verify_certificate`. The status is the
 *   result; a response that is not HTTP counts as status 0 (an http failure). Connect errors and
 *   failed TLS handshakes are tcp failures, a connect or response-head timeout is a timeout.
 *
 * HTTP goes through undici (one Client per probe, closed after: probes are one-shot, like Kong's).
 */
import { isIP } from 'node:net'
import { Client, buildConnector } from 'undici'
import type { ActiveChecks } from './checks.ts'

export type ProbeResult = { kind: 'status'; status: number } | { kind: 'tcp_failure' } | { kind: 'timeout' }

export interface ProbeTarget {
  ip: string
  port: number
  /** Host header and default SNI: the upstream's host_header, else the target's host. */
  host: string
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])
const PARSE_CODES = new Set(['HPE_INVALID_CONSTANT', 'HPE_INVALID_VERSION', 'HPE_INVALID_STATUS', 'HPE_INVALID_HEADER_TOKEN', 'HPE_CR_EXPECTED', 'HPE_LF_EXPECTED', 'HPE_UNEXPECTED_CONTENT_LENGTH'])

function errCode (err: unknown): string {
  let e: unknown = err
  for (let i = 0; i < 4 && e !== null && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET' && code !== 'UND_ERR') return code
    e = (e as { cause?: unknown }).cause
  }
  return ''
}

export async function probeHttp (t: ProbeTarget, c: ActiveChecks, tls: boolean): Promise<ProbeResult> {
  const timeout = Math.max(1, c.timeoutMs)
  const hostForUrl = isIP(t.ip) === 6 ? `[${t.ip}]` : t.ip
  const sni = c.httpsSni ?? t.host
  // undici derives SNI from the Host header; the probe's SNI is fixed here instead (https_sni first).
  const tlsConnect = tls ? buildConnector({ rejectUnauthorized: c.httpsVerify, timeout }) : null
  const client = new Client(`${tls ? 'https' : 'http'}://${hostForUrl}:${t.port}`, {
    connectTimeout: timeout,
    headersTimeout: timeout,
    bodyTimeout: timeout,
    pipelining: 0,
    connect: tlsConnect === null ? undefined : (opts, cb) => { tlsConnect({ ...opts, servername: isIP(sni) === 0 ? sni : undefined }, cb) },
  })
  // undici's timers are coarse (about 1 s); the probe keeps `timeout` itself: past it, a timeout.
  let timedOut = false
  const guard = setTimeout(() => { timedOut = true; void client.destroy().catch(() => {}) }, timeout)
  try {
    const headers: string[] = ['host', t.host, 'connection', 'close']
    for (const [k, v] of c.headers) {
      const lk = k.toLowerCase()
      if (lk === 'host' || lk === 'connection') continue
      headers.push(k, v)
    }
    const res = await client.request({ method: 'GET', path: c.httpPath, headers })
    await res.body.dump().catch(() => {})
    return { kind: 'status', status: res.statusCode }
  } catch (err) {
    const code = errCode(err)
    if (timedOut || TIMEOUT_CODES.has(code)) return { kind: 'timeout' }
    if (PARSE_CODES.has(code) || code.startsWith('HPE_') || (err as Error | null)?.name === 'HTTPParserError') return { kind: 'status', status: 0 }
    return { kind: 'tcp_failure' }
  } finally {
    clearTimeout(guard)
    await client.destroy().catch(() => {})
  }
}

/**
 * Runs the probe the upstream's `active.type` asks for: over TLS for https (and grpcs). A tcp
 * type never gets here: checks.ts turns its intervals off, so no runner is made for it.
 */
export function probe (t: ProbeTarget, c: ActiveChecks): Promise<ProbeResult> {
  return probeHttp(t, c, c.type === 'https' || c.type === 'grpcs')
}
