/**
 * Port of Kong's spec/02-integration/05-proxy/06-ssl_spec.lua on a real gateway (PostgreSQL, two
 * workers, an HTTP and an HTTPS listener) with real upstreams:
 * - proxy ssl verify: `nginx_http_proxy_ssl_verify = on` with a trusted CA file and a verify
 *   depth; an upstream whose certificate no trusted CA issued gets 502, a trusted one 200;
 * - the default certificate without SNI, certificates by SNI with wildcard priorities (exact,
 *   prefix `*.x`, suffix `x.*`), the `*` SNI's certificate as the default;
 * - HTTPS-only routes over plain HTTP: 426 (snis routes included, #6425), https_redirect_status_code
 *   301/302, X-Forwarded-Proto from trusted and untrusted clients;
 * - the SNI sent upstream (Kong's proxy_ssl_name $upstream_host): the client's Host with
 *   preserve_host, the service host without, none for an IP.
 * - invalid client SNIs (`a.example.com:600`, an IP, `*.exam*le.com`, ...): the handshake completes
 *   with the default certificate and the gateway goes on serving. Kong's spec checks its error log
 *   for `invalid SNI` lines; Sluice's TLS listener (uWS) has no such log.
 *
 * Kong's router flavors run the same cases; Sluice has one router (traditional_compatible), run once.
 * Not ported: the "TLS proxy" describe (tls routes on stream_listen: Sluice has no stream proxy),
 * and the error-log line checks.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { adminCall } from '../../helpers/admin-api.ts'
import { freePort } from '../../helpers/ports.ts'
import { makeCert, tlsRequest, type TestCert } from '../../helpers/tls.ts'
import { startEcho, type Upstream } from '../../helpers/upstream.ts'
import { issue, makeCa, startTlsUpstream, type SeenRequest, type TlsUpstream } from './tls-fixtures.ts'

/** Kong's ssl_fixtures: cert (ssl-example.com), cert_alt (ssl-alt.com), cert_alt_alt (ssl-alt-alt.com). */
let cert: TestCert
let certAlt: TestCert
let certAltAlt: TestCert
let echo: Upstream
/** Kong's mock_upstream_ssl, its certificate issued by the CA the node trusts (kong_spec.crt). */
let mockSsl: TlsUpstream
/** Kong's example2.com server (mtls_certs/example2.com.crt): a CA the node does not trust. */
let example2: TlsUpstream
let dir: string
let db: TestDb

before(async () => {
  cert = makeCert('ssl-example.com', { names: ['ssl-example.com'] })
  certAlt = makeCert('ssl-alt.com', { names: ['ssl-alt.com'] })
  certAltAlt = makeCert('ssl-alt-alt.com', { names: ['ssl-alt-alt.com'] })
  const trusted = makeCa('Sluice Spec CA')
  const mockCert = issue(trusted, 'localhost', { names: ['localhost', 'ssl3.com'], ips: ['127.0.0.1'] })
  const other = issue(makeCa('Sluice mTLS CA'), 'example2.com')
  echo = await startEcho()
  mockSsl = await startTlsUpstream({ cert: mockCert.fullchain, key: mockCert.key })
  example2 = await startTlsUpstream({ cert: other.fullchain, key: other.key })
  dir = mkdtempSync(join(tmpdir(), 'sluice-06-'))
  writeFileSync(join(dir, 'spec-ca.crt'), trusted.cert)
  // Kong's dns_mock: example2.com -> 127.0.0.1.
  writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n127.0.0.1 example2.com\n')
  db = await createTestDb()
})

after(async () => {
  await db?.drop()
  await Promise.all([echo?.close(), mockSsl?.close(), example2?.close()])
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

/** CN of the certificate the TLS listener presents for `servername` (Kong's get_cert + openssl s_client). */
function certCn (port: number, servername: string | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername === null ? {} : { servername }) }, () => {
      const cn = String(s.getPeerCertificate().subject?.CN ?? '')
      s.end()
      resolve(cn)
    })
    s.on('error', reject)
  })
}

async function ok (gw: Gateway, path: string, body: unknown): Promise<string> {
  const r = await adminCall(gw.admin, 'POST', path, body)
  assert.equal(r.status, 201, `${path}: ${JSON.stringify(r.json)}`)
  return r.json.id as string
}

describe('SSL', () => {
  let gw: Gateway
  let httpPort: number
  let tlsPort: number

  before(async () => {
    httpPort = await freePort()
    tlsPort = await freePort()
    gw = await startGateway(db.settings, {
      proxy_listen: `127.0.0.1:${httpPort}, 127.0.0.1:${tlsPort} ssl`,
      trusted_ips: '127.0.0.1',
      dns_hostsfile: join(dir, 'hosts'),
      nginx_http_proxy_ssl_verify: 'on',
      nginx_http_proxy_ssl_trusted_certificate: join(dir, 'spec-ca.crt'),
      nginx_http_proxy_ssl_verify_depth: '5',
    })
    const mock = { protocol: 'https', host: 'localhost', port: mockSsl.port }
    const global = await ok(gw, '/services', { name: 'global-cert', url: echo.url })
    await ok(gw, '/routes', { protocols: ['https'], hosts: ['global.com'], service: { id: global } })
    const api1 = await ok(gw, '/services', { name: 'api-1', url: echo.url })
    await ok(gw, '/routes', { protocols: ['https'], hosts: ['example.com', 'ssl1.com'], service: { id: api1 } })
    await ok(gw, '/routes', { protocols: ['https'], hosts: ['sni.example.com'], snis: ['sni.example.com'], service: { id: api1 } })
    const api3 = await ok(gw, '/services', { name: 'api-3', ...mock })
    await ok(gw, '/routes', { protocols: ['https'], hosts: ['ssl3.com'], service: { id: api3 }, preserve_host: true })
    const api4 = await ok(gw, '/services', { name: 'api-4', ...mock })
    await ok(gw, '/routes', { protocols: ['https'], hosts: ['no-sni.com'], service: { id: api4 }, preserve_host: false })
    const api5 = await ok(gw, '/services', { name: 'api-5', ...mock, host: '127.0.0.1' })
    await ok(gw, '/routes', { protocols: ['https'], hosts: ['nil-sni.com'], service: { id: api5 }, preserve_host: false })
    const s7 = await ok(gw, '/services', { name: 'service-7', ...mock })
    await ok(gw, '/routes', { protocols: ['https'], hosts: ['example.com'], paths: ['/redirect-301'], https_redirect_status_code: 301, service: { id: s7 }, preserve_host: false })
    const s8 = await ok(gw, '/services', { name: 'service-8', ...mock })
    await ok(gw, '/routes', { protocols: ['https'], hosts: ['example.com'], paths: ['/redirect-302'], https_redirect_status_code: 302, service: { id: s8 }, preserve_host: false })
    const ex2 = await ok(gw, '/services', { name: 'service-example2', protocol: 'https', host: 'example2.com', port: example2.port })
    await ok(gw, '/routes', { protocols: ['http'], hosts: ['example2.com'], paths: ['/'], service: { id: ex2 } })
    await ok(gw, '/routes', { protocols: ['http'], hosts: ['example-clear.com'], paths: ['/'], service: { id: s8 } })

    const c = await ok(gw, '/certificates', { cert: cert.cert, key: cert.key })
    await ok(gw, '/snis', { name: 'example.com', certificate: { id: c } })
    await ok(gw, '/snis', { name: 'ssl1.com', certificate: { id: c } })
    // wildcard tests
    const alt = await ok(gw, '/certificates', { cert: certAlt.cert, key: certAlt.key })
    const altAlt = await ok(gw, '/certificates', { cert: certAltAlt.cert, key: certAltAlt.key })
    await ok(gw, '/snis', { name: '*.wildcard.com', certificate: { id: alt } })
    await ok(gw, '/snis', { name: 'wildcard.*', certificate: { id: alt } })
    await ok(gw, '/snis', { name: 'wildcard.org', certificate: { id: altAlt } })
    await ok(gw, '/snis', { name: 'test.wildcard.*', certificate: { id: altAlt } })
    await ok(gw, '/snis', { name: '*.www.wildcard.com', certificate: { id: altAlt } })
    await gw.primary.sync()
  })

  after(async () => {
    await gw?.stop()
  })

  const http = async (path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> => {
    const r = await request(`http://127.0.0.1:${httpPort}${path}`, { headers })
    return { status: r.statusCode, headers: r.headers, body: await r.body.text() }
  }

  describe('proxy ssl verify', () => {
    test('prevents requests to upstream that does not possess a trusted certificate', async () => {
      const r = await http('/', { host: 'example2.com' })
      assert.equal(r.status, 502)
      assert.match(r.body, /An invalid response was received from the upstream server/)
      assert.equal(example2.seen.length, 0, 'no request reached the untrusted upstream')
    })

    test('trusted certificate, request goes through', async () => {
      const r = await http('/', { host: 'example-clear.com' })
      assert.equal(r.status, 200)
    })
  })

  describe('global SSL', () => {
    test('fallbacks on the default proxy SSL certificate when SNI is not provided by client', async () => {
      const r = await tlsRequest(tlsPort, { host: 'global.com', path: '/status/200' })
      assert.equal(r.status, 200)
      assert.equal(r.cn, 'localhost')
    })
  })

  describe('handshake', () => {
    test('sets the default fallback SSL certificate if no SNI match', async () => {
      assert.equal(await certCn(tlsPort, 'test.com'), 'localhost')
    })

    test('sets the configured SSL certificate if SNI match', async () => {
      assert.equal(await certCn(tlsPort, 'ssl1.com'), 'ssl-example.com')
      assert.equal(await certCn(tlsPort, 'example.com'), 'ssl-example.com')
    })

    describe('wildcard sni', () => {
      test('matches *.wildcard.com (prefix)', async () => {
        assert.equal(await certCn(tlsPort, 'test.wildcard.com'), 'ssl-alt.com')
      })

      test('matches wildcard.* (suffix)', async () => {
        assert.equal(await certCn(tlsPort, 'wildcard.eu'), 'ssl-alt.com')
      })

      test('respects matching priorities (exact first)', async () => {
        assert.equal(await certCn(tlsPort, 'wildcard.org'), 'ssl-alt-alt.com')
      })

      test('respects matching priorities (prefix second)', async () => {
        assert.equal(await certCn(tlsPort, 'test.wildcard.com'), 'ssl-alt.com')
      })

      test('respects matching priorities (suffix third)', async () => {
        assert.equal(await certCn(tlsPort, 'test.wildcard.org'), 'ssl-alt-alt.com')
      })

      test('matches *.www.wildcard.com', async () => {
        assert.equal(await certCn(tlsPort, 'test.www.wildcard.com'), 'ssl-alt-alt.com')
      })
    })
  })

  describe('SSL termination', () => {
    test('blocks request without HTTPS if protocols = { http }', async () => {
      for (const host of ['example.com', 'sni.example.com']) { // the second: SNI case, see #6425
        const r = await http('/', { host })
        assert.equal(r.status, 426, host)
        assert.match((JSON.parse(r.body) as { message: string }).message, /Please use HTTPS protocol/)
        assert.ok(String(r.headers.connection).split(/,\s*/).some((t) => t.toLowerCase() === 'upgrade'))
        assert.equal(r.headers.upgrade, 'TLS/1.2, HTTP/1.1')
      }
    })

    test('returns 301 when route has https_redirect_status_code set to 301', async () => {
      const r = await http('/redirect-301', { host: 'example.com' })
      assert.equal(r.status, 301)
      assert.equal(r.headers.location, 'https://example.com/redirect-301')
    })

    test('returns 302 when route has https_redirect_status_code set to 302', async () => {
      const r = await http('/redirect-302?foo=bar', { host: 'example.com' })
      assert.equal(r.status, 302)
      assert.equal(r.headers.location, 'https://example.com/redirect-302?foo=bar')
    })

    test('from trusted_ip: allows HTTP requests with x-forwarded-proto', async () => {
      const r = await http('/status/200', { host: 'example.com', 'x-forwarded-proto': 'https' })
      assert.equal(r.status, 200)
    })

    test('from trusted_ip: blocks HTTP requests with invalid x-forwarded-proto', async () => {
      const r = await http('/status/200', { host: 'example.com', 'x-forwarded-proto': 'httpsa' })
      assert.equal(r.status, 426)
    })
  })

  describe('proxy_ssl_name: properly sets the upstream SNI with preserve_host', () => {
    test('true', async () => {
      const r = await tlsRequest(tlsPort, { host: 'ssl3.com' })
      assert.equal(r.status, 200)
      assert.equal((JSON.parse(r.body) as SeenRequest).sni, 'ssl3.com')
    })

    test('false', async () => {
      const r = await tlsRequest(tlsPort, { host: 'no-sni.com' })
      assert.equal(r.status, 200)
      assert.equal((JSON.parse(r.body) as SeenRequest).sni, 'localhost')
    })

    test('false and IP-based upstream_url', async () => {
      const r = await tlsRequest(tlsPort, { host: 'nil-sni.com' })
      assert.equal(r.status, 200)
      assert.equal((JSON.parse(r.body) as SeenRequest).sni, 'no SNI')
    })
  })

  describe('kong.runloop.certificate invalid SNI', () => {
    const names: Array<[string, string]> = [
      ['normal sni', 'a.example.com'],
      ['must not have a port', 'a.example.com:600'],
      ['must not have a port (invalid port)', 'a.example.com:88888'],
      ['must not be an IP', '127.0.0.1'],
      ['must not be an IP (with port)', '127.0.0.1:443'],
      ['invalid value', '256.256.256.256'],
      ['only one wildcard must be specified', '*.exam*le.com'],
      ['wildcard must be leftmost or rightmost character', 'a.exam*le.com'],
    ]
    for (const [name, sni] of names) {
      test(`${name}: the handshake gets the default certificate, the gateway keeps serving`, async () => {
        assert.equal(await certCn(tlsPort, sni), 'localhost')
        assert.equal((await tlsRequest(tlsPort, { host: 'global.com', path: '/status/200' })).status, 200)
      })
    }
  })
})

describe('SSL from other trusted_ips', () => {
  // Kong restarts its node with other trusted_ips; these are more nodes on the same database.
  test('from not trusted_ip: blocks HTTP request with HTTPS in x-forwarded-proto', async () => {
    const gw = await startGateway(db.settings)
    try {
      await gw.primary.sync()
      const r = await request(`${gw.proxy}/status/200`, { headers: { host: 'ssl1.com', 'x-forwarded-proto': 'https' } })
      await r.body.text()
      assert.equal(r.statusCode, 426)
    } finally {
      await gw.stop()
    }
  })

  test('blocks with https x-forwarded-proto from untrusted client (trusted_ips = 1.2.3.4)', async () => {
    const gw = await startGateway(db.settings, { trusted_ips: '1.2.3.4' })
    try {
      await gw.primary.sync()
      const r = await request(`${gw.proxy}/status/200`, { headers: { host: 'example.com', 'x-forwarded-proto': 'https' } })
      await r.body.text()
      assert.equal(r.statusCode, 426)
    } finally {
      await gw.stop()
    }
  })
})

describe('SSL with a `*` SNI', () => {
  let db2: TestDb
  let gw: Gateway
  let tlsPort: number

  before(async () => {
    db2 = await createTestDb()
    tlsPort = await freePort()
    gw = await startGateway(db2.settings, { proxy_listen: `127.0.0.1:${await freePort()}, 127.0.0.1:${tlsPort} ssl` })
    const s = await ok(gw, '/services', { name: 'default-cert', url: echo.url })
    await ok(gw, '/routes', { protocols: ['https'], hosts: ['example.com'], service: { id: s } })
    const c = await ok(gw, '/certificates', { cert: cert.cert, key: cert.key })
    await ok(gw, '/snis', { name: '*', certificate: { id: c } })
    await gw.primary.sync()
  })

  after(async () => {
    await gw?.stop()
    await db2?.drop()
  })

  test('handshake: sets the default certificate of \'*\' SNI', async () => {
    assert.equal(await certCn(tlsPort, 'example.com'), 'ssl-example.com')
    const r = await tlsRequest(tlsPort, { servername: 'example.com' })
    assert.equal(r.status, 200)
    assert.equal(r.cn, 'ssl-example.com')
  })
})
