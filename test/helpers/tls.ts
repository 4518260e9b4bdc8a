/**
 * TLS test helpers: certificates made with the openssl CLI (as an operator would), Kong-shaped
 * certificate and SNI rows for hand-built snapshots, and HTTPS requests that report which
 * certificate the server presented and whether the connection was reused.
 */
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request as httpsRequest, Agent } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import type { GenericRow } from '../../src/common/snapshot.ts'

export interface TestCert { cert: string; key: string; cn: string }

/** A self-signed certificate for `cn` (SANs: `names`, default [cn]); EC P-256 unless `rsa`. */
export function makeCert (cn: string, opts: { names?: string[]; rsa?: boolean; curve?: string } = {}): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cert-'))
  try {
    const keyArgs = opts.rsa === true
      ? ['-newkey', 'rsa:2048']
      : ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${opts.curve ?? 'P-256'}`]
    const san = (opts.names ?? [cn]).map((n) => `DNS:${n}`).join(',')
    execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'),
      '-subj', `/CN=${cn}`, '-days', '30', '-addext', `subjectAltName=${san}`], { stdio: 'ignore' })
    return { cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8'), cn }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A `certificates` row and its `snis` rows, as the snapshot carries them. */
export function certRows (c: TestCert, snis: string[], id: string = randomUUID()): { cert: GenericRow; snis: GenericRow[] } {
  const now = Math.floor(Date.now() / 1000)
  return {
    cert: { id, cert: c.cert, key: c.key, cert_alt: null, key_alt: null, snis, tags: null, created_at: now, updated_at: now },
    snis: snis.map((name) => ({ id: randomUUID(), name, certificate: { id }, tags: null, created_at: now, updated_at: now })),
  }
}

export interface TlsResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** CN of the certificate the server presented. */
  cn: string
  /** Local port of the client socket: equal across requests means the connection was reused. */
  localPort: number
}

export interface TlsRequestOptions {
  /** SNI to send; undefined: none (the request goes to an IP address). */
  servername?: string
  host?: string
  path?: string
  method?: string
  agent?: Agent
  headers?: Record<string, string>
}

/** One HTTPS request to 127.0.0.1:port. */
export function tlsRequest (port: number, opts: TlsRequestOptions = {}): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port,
      path: opts.path ?? '/',
      method: opts.method ?? 'GET',
      servername: opts.servername ?? '',
      rejectUnauthorized: false,
      agent: opts.agent ?? false,
      headers: { host: opts.host ?? opts.servername ?? 'localhost', ...opts.headers },
    }, (res) => {
      const socket = res.socket as TLSSocket
      const cn = String(socket.getPeerCertificate().subject?.CN ?? '')
      const localPort = socket.localPort ?? 0
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body, cn, localPort }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}
