/**
 * Fixtures for the proxy TLS ports (Kong's spec/fixtures/ssl.lua and mtls_certs, made here with the
 * openssl CLI instead): a private PKI (root CA, intermediate CA, server and client certificates)
 * and a real HTTPS upstream that reports what a TLS server sees of the gateway: the SNI, the client
 * certificate, and which connection a request came on.
 */
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'

export interface Pem { cert: string; key: string }

/** A certificate made by `makeCa` / `issue`, with the chain above it (issuer first, root last). */
export interface Issued extends Pem {
  /** cert followed by the intermediates up to, and with, the root */
  fullchain: string
  cn: string
}

function openssl (dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A self-signed root CA. */
export function makeCa (cn: string): Issued {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ca-'))
  try {
    openssl(dir, ['req', '-x509', ...EC, '-keyout', 'k.pem', '-out', 'c.pem', '-subj', `/CN=${cn}`, '-days', '30',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
    const cert = readFileSync(join(dir, 'c.pem'), 'utf8')
    return { cert, key: readFileSync(join(dir, 'k.pem'), 'utf8'), fullchain: cert, cn }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export interface IssueOptions {
  /** DNS names (default: [cn]); IPs go in `ips`. */
  names?: string[]
  ips?: string[]
  /** An intermediate CA instead of a leaf. */
  ca?: boolean
  /** A client certificate (extendedKeyUsage clientAuth) instead of a server one. */
  client?: boolean
}

/** A certificate for `cn` signed by `issuer`. */
export function issue (issuer: Issued, cn: string, opts: IssueOptions = {}): Issued {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-issue-'))
  try {
    writeFileSync(join(dir, 'ca.pem'), issuer.cert)
    writeFileSync(join(dir, 'ca.key'), issuer.key)
    const ext: string[] = []
    if (opts.ca === true) {
      ext.push('basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign')
    } else {
      ext.push('basicConstraints=critical,CA:FALSE', `extendedKeyUsage=${opts.client === true ? 'clientAuth' : 'serverAuth'}`)
      const san = [...(opts.names ?? (opts.client === true ? [] : [cn])).map((n) => `DNS:${n}`), ...(opts.ips ?? []).map((i) => `IP:${i}`)]
      if (san.length > 0) ext.push(`subjectAltName=${san.join(',')}`)
    }
    writeFileSync(join(dir, 'ext.cnf'), ext.join('\n') + '\n')
    openssl(dir, ['req', '-new', ...EC, '-keyout', 'k.pem', '-out', 'r.csr', '-subj', `/CN=${cn}`])
    openssl(dir, ['x509', '-req', '-in', 'r.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'c.pem', '-days', '30', '-extfile', 'ext.cnf'])
    const cert = readFileSync(join(dir, 'c.pem'), 'utf8')
    return { cert, key: readFileSync(join(dir, 'k.pem'), 'utf8'), fullchain: cert + issuer.fullchain, cn }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** SHA-256 fingerprint of a PEM certificate, as the upstream reports its client's. */
export function fingerprint (pem: string): string {
  return new X509Certificate(pem).fingerprint256
}

export interface SeenRequest {
  path: string
  host: string
  /** SNI the gateway sent, or 'no SNI' (the wording of Kong's mock upstream). */
  sni: string
  /** Connection number at this upstream (1, 2, ...): equal numbers, one reused connection. */
  conn: number
  /** SHA-256 fingerprint of the client certificate, '' when none was sent. */
  client: string
}

export interface TlsUpstream {
  port: number
  seen: SeenRequest[]
  /** TLS connections accepted so far. */
  readonly connections: number
  close (): Promise<void>
}

export interface TlsUpstreamOptions {
  /** The server certificate chain (leaf first) and key. */
  cert: string
  key: string
  /** Ask for a client certificate issued by these CAs; without one: 400, as nginx's ssl_verify_client. */
  clientCa?: string
}

/**
 * An HTTPS upstream. `/echo_sni` answers `SNI=<name>` (Kong's mock upstream); every other path
 * answers the SeenRequest as JSON. With `clientCa`, a request whose connection brought no trusted
 * client certificate gets nginx's `400 No required SSL certificate was sent`; `X-Cert` carries the
 * fingerprint of the one it brought.
 */
export async function startTlsUpstream (opts: TlsUpstreamOptions): Promise<TlsUpstream> {
  const seen: SeenRequest[] = []
  let connections = 0
  const ids = new WeakMap<TLSSocket, number>()
  const sockets = new Set<Socket>()
  const mtls = opts.clientCa !== undefined
  const server: Server = createServer({
    cert: opts.cert,
    key: opts.key,
    ...(mtls ? { ca: opts.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
  }, (req, res) => {
    const s = req.socket as TLSSocket
    const peer = mtls ? s.getPeerCertificate() : null
    const client = peer !== null && typeof peer.fingerprint256 === 'string' ? peer.fingerprint256 : ''
    const r: SeenRequest = {
      path: req.url ?? '',
      host: req.headers.host ?? '',
      sni: typeof s.servername === 'string' && s.servername !== '' ? s.servername : 'no SNI',
      conn: ids.get(s) ?? 0,
      client,
    }
    seen.push(r)
    req.resume()
    req.on('end', () => {
      if (mtls && (client === '' || !s.authorized)) {
        const body = '<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>No required SSL certificate was sent</center>\r\n</body>\r\n</html>\r\n'
        res.writeHead(400, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) })
        res.end(body)
        return
      }
      const body = r.path.split('?')[0] === '/echo_sni' ? `SNI=${r.sni}` : JSON.stringify(r)
      res.writeHead(200, { 'content-type': r.path.startsWith('/echo_sni') ? 'text/plain' : 'application/json', 'x-cert': client, 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  server.on('secureConnection', (s: TLSSocket) => { ids.set(s, ++connections) })
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.on('tlsClientError', () => { /* a handshake the gateway gave up (verification failed): nothing to answer */ })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  return {
    port,
    seen,
    get connections () { return connections },
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
