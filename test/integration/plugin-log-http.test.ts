/**
 * http-log through real worker threads and a real collector (kong spec
 * 03-plugins/03-http-log/01-log_spec.lua): the entry reaches the collector with Kong's request
 * shape (method, content type, headers, Basic auth from the URL); batching into JSON arrays; the
 * queue's failure paths: a refusing collector (entries arrive once it listens), a failing one
 * (retried until it recovers), a hanging one (requests not slowed, the queue bounded, oldest
 * dropped with a logged error), max_retry_time giving up, max_bytes; concurrency_limit -1; a
 * configuration change applying to the next entries.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin } from '../helpers/kong-rows.ts'
import { freePort } from '../helpers/ports.ts'
import { RSA_CERT, RSA_KEY } from './admin-fixtures.ts'
import { echoGateway, httpCollector } from './plugin-log-harness.ts'

interface Entry { request: { method: string; uri: string; headers: Record<string, string> }; response: { status: number }; client_ip: string }

function entries (body: string): Entry[] {
  const v = JSON.parse(body) as Entry | Entry[]
  return Array.isArray(v) ? v : [v]
}

async function get (url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { headers })
  await res.body.dump()
  return res.statusCode
}

test('http-log: POSTs the serialized entry as application/json to the endpoint path', async (t) => {
  const col = await httpCollector(t)
  const { gw } = await echoGateway(t, { plugins: () => [plugin('http-log', { http_endpoint: `${col.url}/logs/a?dropped=1` })] })
  assert.equal(await get(`${gw.url}/hello?x=1`), 200)
  const [r] = await col.accepted$(1)
  assert.equal(r!.method, 'POST')
  // Kong sends scheme://host:port/path: the endpoint's query string is not part of it.
  assert.equal(r!.url, '/logs/a')
  assert.equal(r!.headers['content-type'], 'application/json')
  assert.equal(r!.headers.host, `127.0.0.1:${col.port}`)
  const [e] = entries(r!.body)
  assert.equal(e!.request.method, 'GET')
  assert.equal(e!.request.uri, '/hello?x=1')
  assert.equal(e!.response.status, 200)
  assert.equal(e!.client_ip, '127.0.0.1')
  // max_batch_size 1: the body is the entry itself, not an array.
  assert.ok(!r!.body.startsWith('['))
})

test('http-log: method, content_type, custom headers and Basic auth from the URL user info', async (t) => {
  const col = await httpCollector(t)
  const endpoint = `http://testuser:testpassword@127.0.0.1:${col.port}/basic`
  const { gw } = await echoGateway(t, {
    plugins: () => [plugin('http-log', {
      http_endpoint: endpoint,
      method: 'PUT',
      content_type: 'application/json; charset=utf-8',
      headers: { 'Hello-World': 'hi there' },
    })],
  })
  assert.equal(await get(gw.url), 200)
  const [r] = await col.accepted$(1)
  assert.equal(r!.method, 'PUT')
  assert.equal(r!.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(r!.headers.authorization, 'Basic dGVzdHVzZXI6dGVzdHBhc3N3b3Jk')
  assert.equal(r!.headers['hello-world'], 'hi there')
})

test('http-log: an HTTPS endpoint (certificate not verified, as Kong)', async (t) => {
  const col = await httpCollector(t, 0, { key: RSA_KEY, cert: RSA_CERT })
  const { gw } = await echoGateway(t, { plugins: () => [plugin('http-log', { http_endpoint: `${col.url}/secure` })] })
  assert.equal(await get(`${gw.url}/tls`), 200)
  const [r] = await col.accepted$(1)
  assert.equal(r!.url, '/secure')
  assert.equal(entries(r!.body)[0]!.request.uri, '/tls')
})

test('http-log: max_batch_size > 1 sends JSON arrays, full batches at once, partial ones after max_coalescing_delay', async (t) => {
  const col = await httpCollector(t)
  const { gw } = await echoGateway(t, {
    plugins: () => [plugin('http-log', { http_endpoint: col.url, queue: { max_batch_size: 3, max_coalescing_delay: 0.3 } })],
  })
  for (let i = 0; i < 3; i++) assert.equal(await get(`${gw.url}/b${i}`), 200)
  const [full] = await col.accepted$(1)
  assert.deepEqual(entries(full!.body).map((e) => e.request.uri), ['/b0', '/b1', '/b2'])
  assert.ok(full!.body.startsWith('['))
  const t0 = performance.now()
  assert.equal(await get(`${gw.url}/alone`), 200)
  const [, partial] = await col.accepted$(2)
  // A batch of one under max_batch_size > 1 is still an array (Kong's payload function).
  assert.deepEqual(JSON.parse(partial!.body).map((e: Entry) => e.request.uri), ['/alone'])
  assert.ok(performance.now() - t0 >= 200, 'the partial batch waited for the coalescing delay')
})

test('http-log: a refusing collector does not fail requests; entries arrive once it listens', async (t) => {
  const port = await freePort()
  const { gw } = await echoGateway(t, {
    plugins: () => [plugin('http-log', {
      http_endpoint: `http://127.0.0.1:${port}/late`,
      queue: { initial_retry_delay: 0.02, max_retry_delay: 0.1, max_retry_time: 30 },
    })],
  })
  assert.equal(await get(`${gw.url}/refused`), 200)
  await gw.waitForLog(/handler could not process entries: failed request to 127\.0\.0\.1:\d+: .*ECONNREFUSED/)
  const col = await httpCollector(t, port)
  const [r] = await col.accepted$(1)
  assert.equal(entries(r!.body)[0]!.request.uri, '/refused')
})

test('http-log: a failing collector (500) is retried with backoff until it recovers', async (t) => {
  const col = await httpCollector(t)
  col.mode = 'fail'
  col.failures = 2
  const { gw } = await echoGateway(t, {
    plugins: () => [plugin('http-log', {
      http_endpoint: col.url,
      queue: { initial_retry_delay: 0.02, max_retry_delay: 0.1 },
    })],
  })
  assert.equal(await get(`${gw.url}/retry-me`), 200)
  const [r] = await col.accepted$(1)
  assert.equal(col.attempts.length, 3)
  assert.ok(col.attempts.every((a) => a.body === r!.body), 'the same batch was resent')
  assert.match(gw.stderr, /handler could not process entries: request to 127\.0\.0\.1:\d+ returned status code 500 and body collector down/)
})

test('http-log: a hanging collector neither slows requests nor grows the queue past max_entries', async (t) => {
  const col = await httpCollector(t)
  col.mode = 'hang'
  const { gw } = await echoGateway(t, {
    plugins: () => [plugin('http-log', { http_endpoint: col.url, timeout: 60000, queue: { max_entries: 5 } })],
    logLevel: 'info',
  })
  assert.equal(await get(`${gw.url}/r`, { 'x-seq': '0' }), 200)
  await col.attempts$(1) // the first batch is now stuck in the collector
  const slowest = { ms: 0 }
  for (let i = 1; i <= 30; i++) {
    const t0 = performance.now()
    assert.equal(await get(`${gw.url}/r`, { 'x-seq': String(i) }), 200)
    slowest.ms = Math.max(slowest.ms, performance.now() - t0)
  }
  assert.ok(slowest.ms < 1000, `requests stayed fast while the collector hung (slowest ${slowest.ms.toFixed(0)} ms)`)
  await gw.waitForLog(/queue full, dropping old entries until processing is successful again/)
  assert.match(gw.stderr, /queue at 80% capacity/)
  // Recover: the stuck batch completes, then only the 5 newest entries remain to be sent.
  col.mode = 'ok'
  col.releaseHung()
  await gw.waitForLog(/queue resumed processing/)
  const got = await col.accepted$(5)
  const seqs = got.flatMap((r) => entries(r.body).map((e) => e.request.headers['x-seq']))
  assert.deepEqual(seqs, ['26', '27', '28', '29', '30'])
  assert.equal(col.attempts.length, 6)
})

test('http-log: a batch failing for longer than max_retry_time is dropped with an error', async (t) => {
  const col = await httpCollector(t)
  col.mode = 'fail'
  const { gw } = await echoGateway(t, {
    plugins: () => [plugin('http-log', {
      http_endpoint: col.url,
      queue: { initial_retry_delay: 0.02, max_retry_delay: 0.05, max_retry_time: 0.2 },
    })],
  })
  assert.equal(await get(gw.url), 200)
  await gw.waitForLog(/could not send entries due to max_retry_time exceeded\. 1 queue entries were lost/)
  col.mode = 'ok'
  assert.equal(await get(`${gw.url}/after`), 200)
  const [r] = await col.accepted$(1)
  assert.equal(entries(r!.body)[0]!.request.uri, '/after')
})

test('http-log: max_bytes refuses an entry larger than the limit', async (t) => {
  const col = await httpCollector(t)
  const { gw } = await echoGateway(t, {
    plugins: () => [plugin('http-log', { http_endpoint: col.url, queue: { max_bytes: 100 } })],
  })
  assert.equal(await get(gw.url), 200)
  await gw.waitForLog(/string to be queued is longer \(\d+ bytes\) than the queue's max_bytes \(100 bytes\)/)
  assert.equal(col.attempts.length, 0)
})

test('http-log: concurrency_limit -1 sends each entry on its own', async (t) => {
  const col = await httpCollector(t)
  const { gw } = await echoGateway(t, {
    plugins: () => [plugin('http-log', { http_endpoint: col.url, queue: { concurrency_limit: -1, max_batch_size: 10 } })],
  })
  await Promise.all([get(`${gw.url}/c1`), get(`${gw.url}/c2`), get(`${gw.url}/c3`)])
  const got = await col.accepted$(3)
  assert.deepEqual(got.map((r) => entries(r.body)[0]!.request.uri).sort(), ['/c1', '/c2', '/c3'])
})

test('http-log: a changed configuration applies to the next entries (shared queue, latest config)', async (t) => {
  const col = await httpCollector(t)
  const row = plugin('http-log', { http_endpoint: col.url, headers: { key1: 'value1' } })
  const { gw, snapshotWith } = await echoGateway(t, { plugins: () => [row] })
  assert.equal(await get(gw.url), 200)
  assert.equal((await col.accepted$(1))[0]!.headers.key1, 'value1')
  await gw.publish(snapshotWith([{ ...row, config: { ...(row.config as object), headers: { key1: 'value2' } } }]))
  assert.equal(await get(gw.url), 200)
  assert.equal((await col.accepted$(2))[1]!.headers.key1, 'value2')
})
