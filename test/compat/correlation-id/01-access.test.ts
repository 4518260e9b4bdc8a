/**
 * Port of Kong's spec/03-plugins/11-correlation-id/01-access_spec.lua: the three generators'
 * shapes (Kong's Lua patterns as RegExps), echo_downstream on proxied, failed (502) and
 * short-circuited responses, a custom header name, and an incoming value kept unless blank.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin, pluginGateway, withEntities } from '../../helpers/kong-rows.ts'
import { route, service, snapshot, snapshotVersion } from '../../helpers/worker-harness.ts'

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'
const UUID_RE = new RegExp(`^${UUID}$`)
const UUID_COUNTER_RE = new RegExp(`^(${UUID})#(\\d+)$`)
const TRACKER_RE = /^\d+\.\d+\.\d+\.\d+-\d+-\d+-\d+-\d+-\d{10}\.\d{3}$/

test('correlation-id 01-access', async (t) => {
  // a service nothing listens on: the proxy answers 502
  const dead = service({ host: '127.0.0.1', port: 9, connect_timeout: 200 })
  const { url, h, svc } = await pluginGateway(t, { routes: [] })
  const [r1, r2, r3, r4, r5] = ['correlation1.test', 'correlation2.test', 'correlation3.test', 'correlation-tracker.test', 'correlation5.test'].map((host) => route({ hosts: [host] }, svc))
  const r6 = route({ hosts: ['correlation-timeout.test'] }, dead)
  await h.publish(withEntities(snapshot([svc, dead], [r1!, r2!, r3!, r4!, r5!, r6], snapshotVersion()), {
    plugins: [
      plugin('correlation-id', {}, { route: r1 }),
      plugin('correlation-id', { header_name: 'Foo-Bar-Id' }, { route: r2 }),
      plugin('correlation-id', { generator: 'uuid', echo_downstream: true }, { route: r3 }),
      plugin('correlation-id', { generator: 'tracker' }, { route: r4 }),
      plugin('correlation-id', { generator: 'uuid', echo_downstream: true }, { route: r5 }),
      plugin('request-termination', { status_code: 418, message: "I'm a teapot" }, { route: r5 }),
      plugin('correlation-id', { generator: 'uuid', echo_downstream: true }, { route: r6 }),
    ],
  }))
  const send = async (host: string, headers: Record<string, string> = {}): Promise<{ status: number; up: Record<string, string>; down: Record<string, unknown> }> => {
    const res = await request(`${url}/request`, { headers: { host, ...headers } })
    const text = await res.body.text()
    return { status: res.statusCode, up: res.statusCode === 200 ? (JSON.parse(text) as { headers: Record<string, string> }).headers : {}, down: res.headers }
  }

  await t.test('uuid#counter increments the counter part', async () => {
    const a = UUID_COUNTER_RE.exec((await send('correlation1.test')).up['kong-request-id']!)
    const b = UUID_COUNTER_RE.exec((await send('correlation1.test')).up['kong-request-id']!)
    assert.ok(a !== null && b !== null)
    assert.equal(a[1], b[1])
    assert.equal(Number(b[2]), Number(a[2]) + 1)
  })

  await t.test('uuid: a new UUID for every request', async () => {
    const a = (await send('correlation3.test')).up['kong-request-id']!
    const b = (await send('correlation3.test')).up['kong-request-id']!
    assert.match(a, UUID_RE)
    assert.match(b, UUID_RE)
    assert.notEqual(a, b)
  })

  await t.test('tracker: server_addr-server_port-pid-connection-requests-time', async () => {
    const a = (await send('correlation-tracker.test')).up['kong-request-id']!
    const b = (await send('correlation-tracker.test')).up['kong-request-id']!
    assert.match(a, TRACKER_RE)
    assert.match(b, TRACKER_RE)
    assert.notEqual(a, b)
  })

  await t.test('echo_downstream', async () => {
    let r = await send('correlation3.test')
    assert.match(r.up['kong-request-id']!, UUID_RE)
    assert.equal(r.down['kong-request-id'], r.up['kong-request-id'])
    r = await send('correlation-timeout.test')
    assert.equal(r.status, 502)
    assert.match(String(r.down['kong-request-id']), UUID_RE)
    r = await send('correlation1.test')
    assert.equal(r.down['kong-request-id'], undefined)
  })

  await t.test('a custom header name', async () => {
    assert.match((await send('correlation2.test')).up['foo-bar-id']!, UUID_COUNTER_RE)
  })

  await t.test('an incoming value is kept; an empty or blank one is not', async () => {
    assert.equal((await send('correlation2.test', { 'Foo-Bar-Id': 'foobar' })).up['foo-bar-id'], 'foobar')
    for (const v of ['', ' ']) {
      const id = (await send('correlation2.test', { 'Foo-Bar-Id': v })).up['foo-bar-id']!
      assert.match(id, UUID_COUNTER_RE, JSON.stringify(v))
    }
  })

  await t.test('echo on a short-circuited response: a new id, or the incoming one', async () => {
    let r = await send('correlation5.test')
    assert.equal(r.status, 418)
    assert.match(String(r.down['kong-request-id']), UUID_RE)
    r = await send('correlation5.test', { 'kong-request-id': 'my very personal id' })
    assert.equal(r.status, 418)
    assert.equal(r.down['kong-request-id'], 'my very personal id')
  })
})
