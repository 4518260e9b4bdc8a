/**
 * Upstream failures through real worker threads: 502 on refused or reset connections, bounded
 * retries, 504 on read timeouts, 503 on name resolution, a reset mid-body, a client abort
 * mid-response. Kong: kong/error_handlers.lua, spec 07-upstream_timeouts_spec.lua,
 * 12-error_default_type_spec.lua, 14-server_tokens_spec.lua ("returned with 502 errors").
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { freePort } from '../helpers/ports.ts'
import { startDnsServer, type DnsServer } from '../helpers/dns-server.ts'
import { startEcho, startResetting, startSlow, type ResettingUpstream, type SlowUpstream, type Upstream } from '../helpers/upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'

let echo: Upstream
let slow: SlowUpstream
let resetting: ResettingUpstream
let refusedPort: number
let h: Harness
/** The resolver the workers ask: NXDOMAIN for every name (hermetic: no dependence on the machine's DNS). */
let dnsServer: DnsServer

before(async () => {
  echo = await startEcho()
  slow = await startSlow()
  resetting = await startResetting()
  refusedPort = await freePort()
  const refused = service({ host: '127.0.0.1', port: refusedPort })
  const resets = service({ host: '127.0.0.1', port: resetting.port, retries: 2 })
  const timing = service({ host: '127.0.0.1', port: slow.port, read_timeout: 200, retries: 0 })
  const timingRetry = service({ host: '127.0.0.1', port: slow.port, read_timeout: 150, retries: 1 })
  const streaming = service({ host: '127.0.0.1', port: slow.port })
  const echoSvc = service({ host: '127.0.0.1', port: echo.port })
  const dns = service({ host: 'sluice-test.invalid', port: 80 })
  dnsServer = await startDnsServer()
  h = await startWorkers({
    conf: { dns_resolver: `127.0.0.1:${dnsServer.port}` },
    snapshot: snapshot([refused, resets, timing, timingRetry, streaming, echoSvc, dns], [
      route({ paths: ['/refused'] }, refused),
      route({ paths: ['/resets'] }, resets),
      route({ paths: ['/timeout'] }, timing),
      route({ paths: ['/timeout-retry'] }, timingRetry),
      route({ paths: ['/slow'] }, streaming),
      route({ paths: ['/echo'] }, echoSvc),
      route({ paths: ['/dns'] }, dns),
    ]),
  })
})

after(async () => {
  await h?.stop()
  await Promise.all([echo?.close(), slow?.close(), resetting?.close(), dnsServer?.close()])
})

test('connection refused: 502 as an nginx error page (text/plain by default), proxied headers', async () => {
  const res = await request(`${h.url}/refused/x`)
  const text = await res.body.text()
  assert.equal(res.statusCode, 502)
  const id = res.headers['x-kong-request-id'] as string
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(text, `An invalid response was received from the upstream server\nrequest_id: ${id}\n`)
  // Kong marks the request proxied once the balancer ran: Via and latencies, no response latency.
  assert.equal(res.headers.via, '1.1 kong/3.10.0')
  assert.equal(res.headers.server, 'kong/3.10.0')
  assert.ok(res.headers['x-kong-upstream-latency'] !== undefined)
  assert.ok(res.headers['x-kong-proxy-latency'] !== undefined)
  assert.equal(res.headers['x-kong-response-latency'], undefined)
})

test('connection refused: 502 JSON when the client accepts JSON; Content-Type decides without Accept', async () => {
  const res = await request(`${h.url}/refused/x`, { headers: { accept: 'application/json' } })
  const id = res.headers['x-kong-request-id'] as string
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(await res.body.text(), `{\n  "message":"An invalid response was received from the upstream server",\n  "request_id":"${id}"\n}`)
  const byType = await request(`${h.url}/refused/x`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
  assert.equal(byType.statusCode, 502)
  assert.equal(byType.headers['content-type'], 'application/json; charset=utf-8')
  await byType.body.text()
})

test('retries: a GET is tried 1 + retries times against a resetting upstream, then 502', async () => {
  const before = resetting.connections
  const res = await request(`${h.url}/resets/x`)
  await res.body.text()
  assert.equal(res.statusCode, 502)
  assert.equal(resetting.connections - before, 3)
})

test('retries: a POST that reached the upstream is not retried', async () => {
  const before = resetting.connections
  const res = await request(`${h.url}/resets/x`, { method: 'POST', body: 'x' })
  await res.body.text()
  assert.equal(res.statusCode, 502)
  assert.equal(resetting.connections - before, 1)
})

test('read timeout: 504 The upstream server is timing out', async () => {
  const res = await request(`${h.url}/timeout/hang`, { headers: { accept: 'text/plain' } })
  const text = await res.body.text()
  assert.equal(res.statusCode, 504)
  assert.equal(text, `The upstream server is timing out\nrequest_id: ${res.headers['x-kong-request-id'] as string}\n`)
})

test('read timeout before the response head is retried for idempotent methods', async () => {
  const arrivals = slow.received.filter((r) => r.url === '/hang').length
  const res = await request(`${h.url}/timeout-retry/hang`)
  await res.body.text()
  assert.equal(res.statusCode, 504)
  assert.equal(slow.received.filter((r) => r.url === '/hang').length - arrivals, 2)
})

test('name resolution failure: 503 name resolution failed (kong.response.error, JSON)', async () => {
  const res = await request(`${h.url}/dns/x`)
  const id = res.headers['x-kong-request-id'] as string
  assert.equal(res.statusCode, 503)
  assert.equal(await res.body.text(), `{\n  "message":"name resolution failed",\n  "request_id":"${id}"\n}`)
  assert.ok(dnsServer.queries.some((q) => q.endsWith('sluice-test.invalid')), 'asked the configured resolver')
})

test('upstream reset mid-body: the client connection is closed, never a complete-looking body; the worker keeps serving', async () => {
  const res = await request(`${h.url}/slow/reset`)
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-length'], String(1024 * 1024))
  await assert.rejects(res.body.arrayBuffer())
  for (let i = 0; i < 4; i++) {
    const ok = await request(`${h.url}/echo/after-reset`)
    assert.equal(ok.statusCode, 200)
    await ok.body.text()
  }
})

test('client abort mid-response: the upstream request is closed', async () => {
  const closed = slow.closed('/stream')
  const res = await request(`${h.url}/slow/stream`)
  assert.equal(res.statusCode, 200)
  // Read a little, then go away.
  for await (const chunk of res.body) {
    assert.ok((chunk as Buffer).length > 0)
    break
  }
  await closed
  const ok = await request(`${h.url}/echo/after-abort`)
  assert.equal(ok.statusCode, 200)
  await ok.body.text()
})

test('client abort while waiting for the response head: the upstream request is closed', async () => {
  const arrived = slow.arrived('/hang-abort')
  const closed = slow.closed('/hang-abort')
  const ac = new AbortController()
  const pending = request(`${h.url}/slow/hang-abort`, { signal: ac.signal })
  await arrived
  ac.abort()
  await assert.rejects(pending)
  await closed
})
