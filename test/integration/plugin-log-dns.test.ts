/**
 * The logging plugins resolve their collectors' names as Kong does, through its own DNS client
 * (`dns_resolver`, `dns_hostsfile`, `dns_order`), not the system resolver: a real node (real
 * PostgreSQL, real workers) pointed at a test DNS server and a hosts file of its own, with udp-log,
 * statsd, tcp-log and http-log sending to names only those two know.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startDnsServer, type DnsServer } from '../helpers/dns-server.ts'
import { startEcho, type Upstream } from '../helpers/upstream.ts'
import { httpCollector, tcpCollector, udpCollector } from './plugin-log-harness.ts'

let db: TestDb
let gw: Gateway
let dns: DnsServer
let echo: Upstream
const dir = mkdtempSync(join(tmpdir(), 'sluice-log-dns-'))

before(async () => {
  const local = [{ ip: '127.0.0.1', ttl: 60 }]
  dns = await startDnsServer({
    'udp.collector.test': { a: local },
    'tcp.collector.test': { a: local },
    'http.collector.test': { a: local },
  })
  writeFileSync(join(dir, 'hosts'), '127.0.0.1 hosts.collector.test\n')
  echo = await startEcho()
  db = await createTestDb()
  gw = await startGateway(db.settings, {
    dns_resolver: `127.0.0.1:${dns.port}`,
    dns_hostsfile: join(dir, 'hosts'),
    dns_order: 'A',
    nginx_worker_processes: '1',
  })
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await dns?.close()
  await echo?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function admin (method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await request(gw.admin + path, { method: method as 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const json = await r.body.json() as Record<string, unknown>
  assert.ok(r.statusCode < 300, `${method} ${path}: ${r.statusCode} ${JSON.stringify(json)}`)
  return json
}

test('udp-log, statsd, tcp-log and http-log reach names known only to dns_resolver / dns_hostsfile', { timeout: 30_000 }, async (t) => {
  const udp = await udpCollector(t)
  const statsd = await udpCollector(t)
  const tcp = await tcpCollector(t)
  const http = await httpCollector(t)
  await admin('POST', '/services', { name: 'logged', url: `http://127.0.0.1:${echo.port}` })
  await admin('POST', '/services/logged/routes', { name: 'logged', paths: ['/logged'] })
  await admin('POST', '/services/logged/plugins', { name: 'udp-log', config: { host: 'udp.collector.test', port: udp.port } })
  await admin('POST', '/services/logged/plugins', { name: 'statsd', config: { host: 'hosts.collector.test', port: statsd.port, metrics: [{ name: 'request_count', stat_type: 'counter', sample_rate: 1 }] } })
  await admin('POST', '/services/logged/plugins', { name: 'tcp-log', config: { host: 'tcp.collector.test', port: tcp.port } })
  await admin('POST', '/services/logged/plugins', { name: 'http-log', config: { http_endpoint: `http://http.collector.test:${http.port}/logs`, queue: { max_batch_size: 1 } } })
  await gw.primary.sync()

  const r = await request(gw.proxy + '/logged')
  assert.equal(r.statusCode, 200)
  await r.body.dump()

  const [udpLine] = await udp.next(1)
  assert.equal((JSON.parse(udpLine!) as { request: { uri: string } }).request.uri, '/logged')
  const [tcpLine] = await tcp.next(1)
  assert.equal((JSON.parse(tcpLine!) as { request: { uri: string } }).request.uri, '/logged')
  const [posted] = await http.accepted$(1)
  assert.equal(posted!.url, '/logs')
  assert.equal(posted!.headers.host, `http.collector.test:${http.port}`)
  const [metric] = await statsd.next(1)
  assert.match(metric!, /request\.count:1\|c/)

  // every name went to the configured server (A only: dns_order), except the hosts-file one
  for (const name of ['udp.collector.test', 'tcp.collector.test', 'http.collector.test']) assert.ok(dns.queries.includes(`A ${name}`), dns.queries.join())
  assert.ok(!dns.queries.some((q) => q.endsWith('hosts.collector.test')), dns.queries.join())

  // the answers are kept for their TTL: a second request asks nothing more
  const asked = dns.queries.length
  const again = await request(gw.proxy + '/logged')
  await again.body.dump()
  await udp.next(2)
  await tcp.next(2)
  await http.accepted$(2)
  assert.equal(dns.queries.length, asked)
})
