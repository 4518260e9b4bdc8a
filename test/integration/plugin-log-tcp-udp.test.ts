/**
 * tcp-log and udp-log through real worker threads and real sockets (kong spec
 * 03-plugins/01-tcp-log, udp-log): one JSON line per request over TCP on a kept-alive connection,
 * over TLS with the configured SNI, a collector that is down or goes away (logged, requests
 * unaffected, the next entries reconnect); one datagram of JSON per request over UDP, and a UDP
 * target nobody listens on.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin } from '../helpers/kong-rows.ts'
import { freePort } from '../helpers/ports.ts'
import { RSA_CERT, RSA_KEY } from './admin-fixtures.ts'
import { echoGateway, tcpCollector, udpCollector } from './plugin-log-harness.ts'

interface Entry { request: { uri: string }; tries: unknown[] }

async function get (url: string): Promise<number> {
  const res = await request(url)
  await res.body.dump()
  return res.statusCode
}

test('tcp-log: one JSON line per request, on one kept-alive connection', async (t) => {
  const col = await tcpCollector(t)
  const { gw } = await echoGateway(t, { plugins: () => [plugin('tcp-log', { host: '127.0.0.1', port: col.port })] })
  for (const p of ['/t1', '/t2', '/t3']) assert.equal(await get(`${gw.url}${p}`), 200)
  const lines = await col.next(3)
  const got = lines.map((l) => JSON.parse(l) as Entry)
  assert.deepEqual(got.map((e) => e.request.uri), ['/t1', '/t2', '/t3'])
  // tries is a JSON array (Kong #6390).
  assert.ok(Array.isArray(got[0]!.tries))
  assert.equal(col.connections, 1)
})

test('tcp-log: TLS with tls_sni', async (t) => {
  const col = await tcpCollector(t, { key: RSA_KEY, cert: RSA_CERT })
  const { gw } = await echoGateway(t, {
    plugins: () => [plugin('tcp-log', { host: '127.0.0.1', port: col.port, tls: true, tls_sni: 'logs.example.test' })],
  })
  assert.equal(await get(`${gw.url}/tls`), 200)
  const [line] = await col.next(1)
  assert.equal((JSON.parse(line!) as Entry).request.uri, '/tls')
  assert.deepEqual(col.servernames, ['logs.example.test'])
})

test('tcp-log: a collector that is down is logged; requests succeed; a later collector gets later entries', async (t) => {
  const port = await freePort()
  const { gw, snapshotWith } = await echoGateway(t, { plugins: () => [plugin('tcp-log', { host: '127.0.0.1', port })] })
  const t0 = performance.now()
  assert.equal(await get(`${gw.url}/lost`), 200)
  assert.ok(performance.now() - t0 < 1000)
  await gw.waitForLog(/\[tcp-log\] failed to connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/)
  const col = await tcpCollector(t)
  await gw.publish(snapshotWith([plugin('tcp-log', { host: '127.0.0.1', port: col.port })]))
  assert.equal(await get(`${gw.url}/kept`), 200)
  const [line] = await col.next(1)
  assert.equal((JSON.parse(line!) as Entry).request.uri, '/kept')
})

test('tcp-log: a collector that closes the connection gets a new one for the next entry', async (t) => {
  const col = await tcpCollector(t)
  const { gw } = await echoGateway(t, { plugins: () => [plugin('tcp-log', { host: '127.0.0.1', port: col.port })] })
  assert.equal(await get(`${gw.url}/a`), 200)
  await col.next(1)
  await col.dropConnections()
  assert.equal(await get(`${gw.url}/b`), 200)
  const lines = await col.next(2)
  assert.equal((JSON.parse(lines[1]!) as Entry).request.uri, '/b')
  assert.equal(col.connections, 2)
})

test('udp-log: one datagram of JSON per request', async (t) => {
  const col = await udpCollector(t)
  const { gw } = await echoGateway(t, { plugins: () => [plugin('udp-log', { host: '127.0.0.1', port: col.port })] })
  assert.equal(await get(`${gw.url}/u1`), 200)
  assert.equal(await get(`${gw.url}/u2`), 200)
  const got = await col.next(2)
  assert.deepEqual(got.map((d) => (JSON.parse(d) as Entry).request.uri).sort(), ['/u1', '/u2'])
  assert.ok(!got[0]!.endsWith('\n'), 'udp-log sends the JSON text without a newline')
})

test('udp-log: a host name target and a port nobody listens on never fail requests', async (t) => {
  const col = await udpCollector(t)
  const dead = await freePort()
  const { gw } = await echoGateway(t, {
    routes: [{ paths: ['/named'] }, { paths: ['/dead'] }],
    plugins: ([a, b]) => [
      plugin('udp-log', { host: 'localhost', port: col.port }, { route: a }),
      plugin('udp-log', { host: '127.0.0.1', port: dead }, { route: b }),
    ],
  })
  assert.equal(await get(`${gw.url}/dead`), 200)
  assert.equal(await get(`${gw.url}/named`), 200)
  assert.equal(await get(`${gw.url}/named`), 200)
  const got = await col.next(2)
  assert.equal((JSON.parse(got[0]!) as Entry).request.uri, '/named')
})
