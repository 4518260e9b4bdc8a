/**
 * Kong's log serializer (kong/pdk/log.lua serialize) as the log plugins send it, through real
 * workers and an HTTP collector: a proxied, authenticated request (every field, credentials
 * REDACTED), a plugin exit (source exit, not proxied), an upstream that refuses (source service,
 * one try per attempt), a request no route matched (source error, no route or service), and the
 * values plugins set for the entry (kong.log.set_serialize_value: correlation-id's
 * correlation_id, Kong's "log serializer contains the Correlation ID"; dotted keys and modes).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { consumer, keyauth, plugin } from '../helpers/kong-rows.ts'
import { freePort } from '../helpers/ports.ts'
import { route, service, snapshot, snapshotVersion } from '../helpers/worker-harness.ts'
import { withEntities } from '../helpers/kong-rows.ts'
import { echoGateway, fileLines, gateway, httpCollector } from './plugin-log-harness.ts'
import { applySerializeValues } from '../../src/plugins/shared/serialize.ts'

/* eslint-disable @typescript-eslint/no-explicit-any */
async function logged (col: Awaited<ReturnType<typeof httpCollector>>, n: number): Promise<any> {
  const got = await col.accepted$(n)
  return JSON.parse(got[n - 1]!.body)
}

test('serializer: a proxied, authenticated request carries every Kong field', async (t) => {
  const col = await httpCollector(t)
  const bob = consumer({ username: 'bob' })
  const cred = keyauth(bob, 'secret-key')
  const before = Date.now()
  const { gw, echo, svc, routes } = await echoGateway(t, {
    routes: [{ paths: ['/s'] }],
    plugins: ([r]) => [plugin('key-auth', {}, { route: r }), plugin('http-log', { http_endpoint: col.url })],
    entities: { consumers: [bob], keyauth_credentials: [cred] },
  })
  const res = await request(`${gw.url}/s/path?a=1&b=2&b=3&flag`, {
    headers: { apikey: 'secret-key', authorization: 'Bearer xyz', 'proxy-authorization': 'Basic abc', 'x-extra': ['one', 'two'] },
  })
  const body = await res.body.text()
  assert.equal(res.statusCode, 200)
  const e = await logged(col, 1)
  const after = Date.now()

  assert.equal(typeof e.request.id, 'string')
  assert.notEqual(e.request.id, '')
  if (res.headers['x-kong-request-id'] !== undefined) assert.equal(e.request.id, res.headers['x-kong-request-id'])
  assert.equal(e.request.uri, '/s/path?a=1&b=2&b=3&flag')
  assert.equal(e.request.url, `http://127.0.0.1:${gw.port}/s/path?a=1&b=2&b=3&flag`)
  assert.deepEqual(e.request.querystring, { a: '1', b: ['2', '3'], flag: true })
  assert.equal(e.request.method, 'GET')
  assert.equal(e.request.headers.authorization, 'REDACTED')
  assert.equal(e.request.headers['proxy-authorization'], 'REDACTED')
  assert.equal(e.request.headers.apikey, 'secret-key')
  assert.deepEqual(e.request.headers['x-extra'], ['one', 'two'])
  assert.equal(e.request.headers.host, `127.0.0.1:${gw.port}`)
  assert.ok(Number.isInteger(e.request.size) && e.request.size > 100, `request.size ${e.request.size}`)
  assert.equal(e.request.tls, undefined)

  assert.equal(e.upstream_uri, '/path?a=1&b=2&b=3&flag')
  assert.equal(e.upstream_status, '200')
  assert.equal(e.response.status, 200)
  assert.equal(e.response.headers['content-type'], 'application/json')
  assert.ok(e.response.size > Buffer.byteLength(body), `response.size ${e.response.size} counts head and body`)

  for (const k of ['kong', 'proxy', 'request', 'receive']) assert.ok(Number.isInteger(e.latencies[k]) && e.latencies[k] >= 0, `latencies.${k}`)
  assert.ok(e.latencies.request >= e.latencies.proxy)

  assert.equal(e.tries.length, 1)
  assert.equal(e.tries[0].ip, '127.0.0.1')
  assert.equal(e.tries[0].port, echo.port)
  assert.deepEqual(e.authenticated_entity, { id: cred.id, consumer_id: bob.id })
  assert.equal(e.consumer.id, bob.id)
  assert.equal(e.consumer.username, 'bob')
  assert.equal(e.route.id, routes[0]!.id)
  assert.deepEqual(e.route.paths, ['/s'])
  assert.equal(e.service.id, svc.id)
  assert.equal(e.service.host, '127.0.0.1')
  assert.equal(e.client_ip, '127.0.0.1')
  assert.ok(e.started_at >= before - 1 && e.started_at <= after, 'started_at is the request start in ms')
  assert.equal(e.source, 'service')
  assert.equal(typeof e.workspace, 'string')
  assert.equal(e.workspace_name, 'default')
})

test('serializer: a plugin exit is source exit, not proxied', async (t) => {
  const col = await httpCollector(t)
  const { gw } = await echoGateway(t, {
    plugins: () => [plugin('request-termination', { status_code: 418, message: 'no tea' }), plugin('http-log', { http_endpoint: col.url })],
  })
  const res = await request(`${gw.url}/x`)
  await res.body.dump()
  assert.equal(res.statusCode, 418)
  const e = await logged(col, 1)
  assert.equal(e.source, 'exit')
  assert.equal(e.response.status, 418)
  assert.equal(e.response.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(e.upstream_uri, '')
  assert.equal(e.upstream_status, '')
  assert.equal(e.tries, undefined)
  assert.equal(e.latencies.proxy, -1)
  assert.equal(e.authenticated_entity, undefined)
  assert.equal(e.consumer, undefined)
})

test('serializer: an upstream that refuses is source service with one try per attempt', async (t) => {
  const col = await httpCollector(t)
  const dead = await freePort()
  const svc = service({ host: '127.0.0.1', port: dead, retries: 1 })
  const r = route({ paths: ['/'] }, svc)
  const snap = withEntities(snapshot([svc], [r], snapshotVersion()), { plugins: [plugin('http-log', { http_endpoint: col.url })] })
  const gw = await gateway(t, { snapshot: snap })
  const res = await request(`${gw.url}/down`)
  await res.body.dump()
  assert.equal(res.statusCode, 502)
  const e = await logged(col, 1)
  assert.equal(e.source, 'service')
  assert.equal(e.response.status, 502)
  assert.equal(e.tries.length, 2)
  assert.equal(e.tries[1].port, dead)
  assert.equal(e.upstream_uri, '/down')
})

test('serializer: a request no route matched is source error, without route or service', async (t) => {
  const col = await httpCollector(t)
  const { gw } = await echoGateway(t, {
    routes: [{ paths: ['/only'] }],
    plugins: () => [plugin('http-log', { http_endpoint: col.url })],
  })
  const res = await request(`${gw.url}/elsewhere`)
  await res.body.dump()
  assert.equal(res.statusCode, 404)
  const e = await logged(col, 1)
  assert.equal(e.source, 'error')
  assert.equal(e.response.status, 404)
  assert.equal(e.route, undefined)
  assert.equal(e.service, undefined)
  assert.equal(e.request.uri, '/elsewhere')
})

test('serializer: the entry carries correlation-id\'s correlation_id, in every log plugin (Kong: log serializer contains the Correlation ID)', async (t) => {
  const col = await httpCollector(t)
  const dir = await mkdtemp(join(tmpdir(), 'sluice-serialize-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'file.log')
  const { gw, routes } = await echoGateway(t, {
    routes: [{ paths: ['/cid'] }, { paths: ['/plain'] }],
    plugins: ([withId]) => [
      plugin('correlation-id', { header_name: 'X-Cid', generator: 'uuid', echo_downstream: true }, { route: withId }),
      plugin('http-log', { http_endpoint: col.url }),
      plugin('file-log', { path }),
    ],
  })
  const res = await request(`${gw.url}/cid/x`)
  await res.body.dump()
  const id = res.headers['x-cid'] as string
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  const e = await logged(col, 1)
  assert.equal(e.correlation_id, id)
  assert.equal(e.request.headers['x-cid'], id)
  assert.equal(e.route.id, routes[0]!.id, 'the rows are still in the entry')
  assert.equal(e.service.host, '127.0.0.1')
  // the client's own id is the one logged
  const own = await request(`${gw.url}/cid/y`, { headers: { 'x-cid': 'client-given' } })
  await own.body.dump()
  assert.equal((await logged(col, 2)).correlation_id, 'client-given')
  // a route without the plugin: no field
  const plain = await request(`${gw.url}/plain/z`)
  await plain.body.dump()
  const p = await logged(col, 3)
  assert.equal('correlation_id' in p, false)
  assert.equal(p.route.id, routes[1]!.id)
  // file-log writes the same entries
  const lines = (await fileLines(path, 3)).map((l) => JSON.parse(l))
  assert.deepEqual(lines.map((l) => l.correlation_id), [id, 'client-given', undefined])
})

test('serializer: set_serialize_value keys are dotted paths with Kong\'s set/add/replace modes; the rows are copied, not changed', () => {
  const row = { id: 'r1', paths: ['/a'], name: 'r' }
  const entry: Record<string, any> = { request: { headers: { authorization: 'REDACTED' } }, route: row, latencies: { kong: 1 } }
  applySerializeValues(entry, [
    { key: 'correlation_id', value: 'abc' },
    { key: 'request.body', value: 'hello' },
    { key: 'custom.deep.field', value: 1, mode: 'add' },
    { key: 'custom.deep.field', value: 2, mode: 'add' }, // already there: kept
    { key: 'latencies.kong', value: 5, mode: 'replace' },
    { key: 'latencies.missing', value: 5, mode: 'replace' }, // absent: not added
    { key: 'nowhere.at.all', value: 5, mode: 'replace' }, // missing link: nothing made
    { key: 'request.headers.authorization', value: undefined }, // nil removes
    { key: 'route.name', value: 'renamed' },
    { key: 'correlation_id.x', value: 1 }, // a part that is not a table: skipped (Kong errors)
  ])
  assert.deepEqual(entry, {
    request: { headers: {}, body: 'hello' },
    route: { id: 'r1', paths: ['/a'], name: 'renamed' },
    latencies: { kong: 5 },
    correlation_id: 'abc',
    custom: { deep: { field: 1 } },
  })
  assert.equal(row.name, 'r', 'the snapshot row is not changed')
  // the object form (name -> value, each a set), as correlation-id stores it
  const e2: Record<string, any> = { a: { b: 1 } }
  applySerializeValues(e2, { 'a.c': 2, top: 'x' })
  assert.deepEqual(e2, { a: { b: 1, c: 2 }, top: 'x' })
})
