/**
 * Port of Kong's spec/02-integration/05-proxy/25-upstream_keepalive_spec.lua. Kong reads its pools
 * from debug lines of the error log (`enabled connection keepalive (pool=ip|port|sni|...)`,
 * `keepalive no free connection`, `keepalive saving connection`, `keepalive reusing connection`);
 * here the same facts are read where they are visible from outside, at a real HTTPS upstream
 * (tls-fixtures.ts): the SNI and client certificate each request came with, and the TLS
 * connection it came on (a new connection where Kong logs "no free connection", the same one where
 * it logs "reusing connection").
 *
 * Each gateway runs one worker and each case talks to it over one keep-alive connection, as Kong's
 * spec does with one nginx worker and one proxy client, so that one pool serves the requests.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { adminCall } from '../../helpers/admin-api.ts'
import { fingerprint, issue, makeCa, startTlsUpstream, type Issued, type SeenRequest, type TlsUpstream } from './tls-fixtures.ts'

let root: Issued
let client1: Issued
let client2: Issued
/** Kong's mock_upstream_ssl (`/echo_sni`). */
let sslUp: TlsUpstream
/** Kong's upstream_mtls fixture: requires a client certificate, answers with its fingerprint. */
let mtlsUp: TlsUpstream
let db: TestDb
let ca: string
let cert1: string
let cert2: string

before(async () => {
  root = makeCa('Sluice Keepalive Root CA')
  const server = issue(root, 'localhost', { names: ['localhost'], ips: ['127.0.0.1'] })
  client1 = issue(root, 'client one', { client: true })
  client2 = issue(root, 'client two', { client: true })
  sslUp = await startTlsUpstream({ cert: server.fullchain, key: server.key })
  mtlsUp = await startTlsUpstream({ cert: server.fullchain, key: server.key, clientCa: root.cert })
  db = await createTestDb()
  // The entities are written once through a first gateway; each case's gateway reads them.
  const gw = await startGateway(db.settings)
  try {
    const post = async (path: string, body: unknown): Promise<string> => {
      const r = await adminCall(gw.admin, 'POST', path, body)
      assert.equal(r.status, 201, `${path}: ${JSON.stringify(r.json)}`)
      return r.json.id as string
    }
    ca = await post('/ca_certificates', { cert: root.cert })
    cert1 = await post('/certificates', { cert: client1.cert, key: client1.key })
    cert2 = await post('/certificates', { cert: client2.cert, key: client2.key })
    const upstreamTls = { protocol: 'https', host: 'localhost', port: sslUp.port, tls_verify: false, tls_verify_depth: 3, ca_certificates: [ca] }
    // upstream TLS
    for (const host of ['one.test', 'two.test']) {
      const s = await post('/services', upstreamTls)
      await post('/routes', { hosts: [host], preserve_host: true, service: { id: s } })
    }
    // crc32 collision upstream TLS
    for (const host of ['plumless.xxx', 'buckeroo.xxx']) {
      const s = await post('/services', { protocol: 'https', host: 'localhost', port: sslUp.port })
      await post('/routes', { hosts: [host], preserve_host: true, service: { id: s } })
    }
    // upstream mTLS
    for (const [host, cert] of [['example.test', cert1], ['example2.test', cert2]] as const) {
      const s = await post('/services', { url: `https://127.0.0.1:${mtlsUp.port}/`, client_certificate: { id: cert }, tls_verify: false, tls_verify_depth: 3, ca_certificates: [ca] })
      await post('/routes', { hosts: [host], service: { id: s } })
    }
  } finally {
    await gw.stop()
  }
})

after(async () => {
  await db?.drop()
  await Promise.all([sslUp?.close(), mtlsUp?.close()])
})

interface Proxy { gw: Gateway; client: Client }

async function startKong (conf: Record<string, string> = {}): Promise<Proxy> {
  const gw = await startGateway(db.settings, { nginx_worker_processes: '1', ...conf })
  await gw.primary.sync()
  return { gw, client: new Client(gw.proxy) } // one connection: one worker, one pool
}

async function stopKong (p: Proxy | null): Promise<void> {
  if (p === null) return
  await p.client.close()
  await p.gw.stop()
}

/** One request over the proxy client's connection: the body, and what the upstream saw of it. */
async function send (p: Proxy, host: string, path: string, up: TlsUpstream): Promise<{ body: string; seen: SeenRequest }> {
  const n = up.seen.length
  const r = await p.client.request({ method: 'GET', path, headers: { host } })
  const body = await r.body.text()
  assert.equal(r.statusCode, 200, body)
  assert.equal(up.seen.length, n + 1)
  return { body, seen: up.seen[n]! }
}

describe('#postgres upstream keepalive', () => {
  let p: Proxy | null = null
  after(async () => { await stopKong(p); p = null })

  test('pools by host|port|sni when upstream is https', async () => {
    p = await startKong()
    const connsBefore = sslUp.connections
    const one = await send(p, 'one.test', '/echo_sni', sslUp)
    assert.equal(one.body, 'SNI=one.test')
    const two = await send(p, 'two.test', '/echo_sni', sslUp)
    assert.equal(two.body, 'SNI=two.test')
    // "keepalive no free connection" for each: two connections, one per SNI.
    assert.equal(sslUp.connections - connsBefore, 2)
    assert.notEqual(one.seen.conn, two.seen.conn)
    // "keepalive saving connection" for each: both are kept, each for its own name.
    assert.equal((await send(p, 'two.test', '/echo_sni', sslUp)).seen.conn, two.seen.conn)
    assert.equal((await send(p, 'one.test', '/echo_sni', sslUp)).seen.conn, one.seen.conn)
    assert.equal(sslUp.connections - connsBefore, 2)
  })

  test('pools by host|port|sni|client_cert_id when upstream requires mTLS', async () => {
    const first = await send(p!, 'example.test', '/', mtlsUp)
    const second = await send(p!, 'example2.test', '/', mtlsUp)
    const fingerprint1 = (JSON.parse(first.body) as SeenRequest).client
    const fingerprint2 = (JSON.parse(second.body) as SeenRequest).client
    assert.notEqual(fingerprint1, '')
    assert.notEqual(fingerprint2, '')
    assert.notEqual(fingerprint1, fingerprint2)
    assert.equal(fingerprint1, fingerprint(client1.cert))
    assert.equal(fingerprint2, fingerprint(client2.cert))
    assert.notEqual(first.seen.conn, second.seen.conn)
    // Each pool keeps its own connection, with its own certificate.
    const again = await send(p!, 'example.test', '/', mtlsUp)
    assert.equal(again.seen.conn, first.seen.conn)
    assert.equal(again.seen.client, fingerprint1)
  })

  test('reuse upstream keepalive pool', async () => {
    await stopKong(p)
    p = await startKong()
    const first = await send(p, 'one.test', '/echo_sni', sslUp)
    assert.equal(first.body, 'SNI=one.test')
    const second = await send(p, 'one.test', '/echo_sni', sslUp)
    assert.equal(second.body, 'SNI=one.test')
    // "keepalive reusing connection": the same TLS connection.
    assert.equal(second.seen.conn, first.seen.conn)
  })

  // ensure same crc32 names don't hit same keepalive pool
  test('pools with crc32 collision', async () => {
    const a = await send(p!, 'plumless.xxx', '/echo_sni', sslUp)
    assert.equal(a.body, 'SNI=plumless.xxx')
    const b = await send(p!, 'buckeroo.xxx', '/echo_sni', sslUp)
    assert.equal(b.body, 'SNI=buckeroo.xxx')
    assert.notEqual(a.seen.conn, b.seen.conn)
    const a2 = await send(p!, 'plumless.xxx', '/echo_sni', sslUp)
    assert.equal(a2.body, 'SNI=plumless.xxx')
    assert.equal(a2.seen.conn, a.seen.conn)
  })

  test('upstream_keepalive_pool_size = 0 disables connection pooling', async () => {
    await stopKong(p)
    p = await startKong({ upstream_keepalive_pool_size: '0' })
    const first = await send(p, 'one.test', '/echo_sni', sslUp)
    assert.equal(first.body, 'SNI=one.test')
    const second = await send(p, 'one.test', '/echo_sni', sslUp)
    assert.equal(second.body, 'SNI=one.test')
    const third = await send(p, 'two.test', '/echo_sni', sslUp)
    assert.equal(third.body, 'SNI=two.test')
    assert.equal(new Set([first.seen.conn, second.seen.conn, third.seen.conn]).size, 3)
  })

  test('free upstream keepalive pool (upstream_keepalive_max_requests = 1)', async () => {
    await stopKong(p)
    p = await startKong({ upstream_keepalive_max_requests: '1' })
    const first = await send(p, 'one.test', '/echo_sni', sslUp)
    assert.equal(first.body, 'SNI=one.test')
    // "keepalive not saving connection": the next request needs a new one.
    const second = await send(p, 'one.test', '/echo_sni', sslUp)
    assert.equal(second.body, 'SNI=one.test')
    assert.notEqual(second.seen.conn, first.seen.conn)
  })
})
