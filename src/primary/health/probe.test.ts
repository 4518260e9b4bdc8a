import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { createServer as createTcp, type Server as TcpServer } from 'node:net'
import { once } from 'node:events'
import { buildChecks } from './checks.ts'
import { probe } from './probe.ts'

const listen = async (s: TcpServer): Promise<number> => { s.listen(0, '127.0.0.1'); await once(s, 'listening'); return (s.address() as { port: number }).port }

test('http probe: GET http_path with Host, Connection: close and the configured headers; the status is the result', async (t) => {
  const seen: Array<{ url: string; headers: Record<string, unknown> }> = []
  const s = createServer((req, res) => { seen.push({ url: req.url ?? '', headers: req.headers }); res.statusCode = 503; res.end('x') })
  const port = await listen(s)
  t.after(() => s.close())
  const c = buildChecks({ active: { http_path: '/status?x=1', headers: { 'X-Probe': ['a'] } } }).active
  assert.deepEqual(await probe({ ip: '127.0.0.1', port, host: 'svc.example' }, c), { kind: 'status', status: 503 })
  assert.equal(seen[0]!.url, '/status?x=1')
  assert.equal(seen[0]!.headers.host, 'svc.example')
  assert.equal(seen[0]!.headers.connection, 'close')
  assert.equal(seen[0]!.headers['x-probe'], 'a')
})

test('http probe: refused is a tcp failure, silence a timeout, garbage status 0', async (t) => {
  const c = buildChecks({ active: { timeout: 0.2 } }).active
  const closed = createTcp()
  const port = await listen(closed)
  await new Promise((resolve) => closed.close(resolve))
  assert.deepEqual(await probe({ ip: '127.0.0.1', port, host: 'x' }, c), { kind: 'tcp_failure' })

  const silent = createTcp(() => {})
  const sp = await listen(silent)
  t.after(() => silent.close())
  const t0 = Date.now()
  assert.deepEqual(await probe({ ip: '127.0.0.1', port: sp, host: 'x' }, c), { kind: 'timeout' })
  assert.ok(Date.now() - t0 < 2000)

  const garbage = createTcp((sock) => { sock.on('data', () => sock.end('NOT HTTP AT ALL\r\n\r\n')) })
  const gp = await listen(garbage)
  t.after(() => garbage.close())
  assert.deepEqual(await probe({ ip: '127.0.0.1', port: gp, host: 'x' }, c), { kind: 'status', status: 0 })
})

test('active type tcp: no probes on an HTTP proxy (Kong: stream subsystem only), still a checked upstream', () => {
  const tcp = buildChecks({ active: { type: 'tcp', healthy: { interval: 5 }, unhealthy: { interval: 2, tcp_failures: 1 } } })
  assert.equal(tcp.active.healthyIntervalMs, 0)
  assert.equal(tcp.active.unhealthyIntervalMs, 0)
  assert.equal(tcp.using, true)
  assert.equal(tcp.active.tcpFailures, 1)
  for (const type of ['http', 'https', 'grpc', 'grpcs']) {
    const c = buildChecks({ active: { type, healthy: { interval: 5 }, unhealthy: { interval: 2 } } })
    assert.equal(c.active.healthyIntervalMs, 5000, type)
    assert.equal(c.active.unhealthyIntervalMs, 2000, type)
  }
})

test('https probe: SNI is https_sni (else the Host), an unverifiable certificate fails only when verification is on', async (t) => {
  const { makeCert } = await import('../../../test/helpers/tls.ts')
  const { createServer: createHttps } = await import('node:https')
  const cert = makeCert('probe.example')
  const snis: string[] = []
  const s = createHttps({ cert: cert.cert, key: cert.key }, (_req, res) => { res.statusCode = 200; res.end() })
  s.on('secureConnection', (sock: { servername?: string | false }) => { snis.push(String(sock.servername)) })
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  t.after(() => s.close())
  const lax = buildChecks({ active: { type: 'https', https_verify_certificate: false, https_sni: 'sni.example' } }).active
  assert.deepEqual(await probe({ ip: '127.0.0.1', port, host: 'host.example' }, lax), { kind: 'status', status: 200 })
  assert.equal(snis.at(-1), 'sni.example')
  const laxHost = buildChecks({ active: { type: 'https', https_verify_certificate: false } }).active
  assert.deepEqual(await probe({ ip: '127.0.0.1', port, host: 'host.example' }, laxHost), { kind: 'status', status: 200 })
  assert.equal(snis.at(-1), 'host.example')
  const strict = buildChecks({ active: { type: 'https' } }).active
  assert.deepEqual(await probe({ ip: '127.0.0.1', port, host: 'probe.example' }, strict), { kind: 'tcp_failure' })
})
