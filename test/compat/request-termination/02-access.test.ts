/**
 * Port of Kong's spec/03-plugins/14-request-termination/02-access_spec.lua: status codes and
 * default messages, custom messages, bodies with content types, 204 without Content-Length,
 * service-less routes, Server header, echo, and trigger by header or query argument.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin, pluginGateway } from '../../helpers/kong-rows.ts'

test('request-termination 02-access', async (t) => {
  const { url, h } = await pluginGateway(t, {
    routes: [
      { hosts: ['api1.request-termination.test'] },
      { hosts: ['api2.request-termination.test'] },
      { hosts: ['api3.request-termination.test'] },
      { hosts: ['api4.request-termination.test'] },
      { hosts: ['api5.request-termination.test'] },
      { hosts: ['api6.request-termination.test'] },
      { hosts: ['api7.request-termination.test'], service: null },
      { hosts: ['api8.request-termination.test'] },
      { hosts: ['api9.request-termination.test'], paths: ['~/(?<parameter>status)/'] },
      { hosts: ['api10.request-termination.test'] },
    ],
    plugins: ([r1, r2, r3, r4, r5, r6, r7, r8, r9, r10]) => [
      plugin('request-termination', {}, { route: r1 }),
      plugin('request-termination', { status_code: 404 }, { route: r2 }),
      plugin('request-termination', { status_code: 406, message: 'Invalid' }, { route: r3 }),
      plugin('request-termination', { body: '<html><body><h1>Service is down for maintenance</h1></body></html>' }, { route: r4 }),
      plugin('request-termination', { status_code: 451, content_type: 'text/html', body: '<html><body><h1>Service is down due to content infringement</h1></body></html>' }, { route: r5 }),
      plugin('request-termination', { status_code: 503, body: '{"code": 1, "message": "Service unavailable"}' }, { route: r6 }),
      plugin('request-termination', {}, { route: r7 }),
      plugin('request-termination', { status_code: 204 }, { route: r8 }),
      plugin('request-termination', { echo: true, status_code: 404 }, { route: r9 }),
      plugin('request-termination', { echo: true, trigger: 'gimme-an-echo', status_code: 404 }, { route: r10 }),
    ],
  })
  const get = (n: number, extra: Parameters<typeof request>[1] = {}) =>
    request(`${url}/status/200`, { ...extra, headers: { host: `api${n}.request-termination.test`, ...(extra.headers as Record<string, string> ?? {}) } })

  await t.test('default status code and message (also on a service-less route)', async () => {
    for (const n of [1, 7]) {
      const res = await get(n)
      assert.equal(res.statusCode, 503)
      assert.deepEqual(await res.body.json(), { message: 'Service unavailable' })
    }
  })

  await t.test('status code with default message, and custom message', async () => {
    let res = await get(2)
    assert.equal(res.statusCode, 404)
    assert.deepEqual(await res.body.json(), { message: 'Not found' })
    res = await get(3)
    assert.equal(res.statusCode, 406)
    assert.deepEqual(await res.body.json(), { message: 'Invalid' })
  })

  await t.test('returns 204 without content length header', async () => {
    const res = await get(8)
    assert.equal(res.statusCode, 204)
    assert.equal(res.headers['content-length'], undefined)
    await res.body.dump()
  })

  await t.test('status code and body', async () => {
    let res = await get(4)
    assert.equal(res.statusCode, 503)
    assert.equal(await res.body.text(), '<html><body><h1>Service is down for maintenance</h1></body></html>')
    res = await get(5)
    assert.equal(res.statusCode, 451)
    assert.equal(res.headers['content-type'], 'text/html')
    assert.equal(await res.body.text(), '<html><body><h1>Service is down due to content infringement</h1></body></html>')
    res = await get(6)
    assert.deepEqual(await res.body.json(), { code: 1, message: 'Service unavailable' })
  })

  await t.test('returns server tokens with Server header', async () => {
    const res = await get(1)
    assert.match(String(res.headers.server), /^kong\/\d+\.\d+\.\d+/)
    await res.body.dump()
  })

  await t.test('echos a request if no trigger is set', async () => {
    const res = await get(9, { query: { hello: 'there' }, body: 'cool body', method: 'POST' })
    assert.equal(res.statusCode, 404)
    const json = await res.body.json() as Record<string, Record<string, unknown>>
    assert.deepEqual((json.matched_route!.hosts as string[])[0], 'api9.request-termination.test')
    assert.equal((json.matched_service as { host: string }).host, '127.0.0.1')
    assert.equal(json.message as unknown, 'Not found')
    assert.equal(json.kong!.worker_pid, process.pid)
    const req = json.request!
    const headers = req.headers as Record<string, string>
    assert.equal(headers['content-length'], '9')
    assert.equal(headers.host, 'api9.request-termination.test')
    assert.equal(req.host, 'api9.request-termination.test')
    assert.equal(req.method, 'POST')
    assert.equal(req.path, '/status/200')
    assert.equal(req.port, h.port)
    assert.deepEqual(req.query, { hello: 'there' })
    assert.equal(req.raw_body, 'cool body')
    assert.equal(req.scheme, 'http')
    assert.equal(req.body, undefined)
    assert.deepEqual(req.uri_captures, { named: { parameter: 'status' }, unnamed: ['status'] })
  })

  await t.test("doesn't echo a request if the trigger is set but not specified", async () => {
    const res = await get(10)
    assert.equal(res.statusCode, 200)
    await res.body.dump()
  })

  await t.test('echos a request if the trigger is specified as a header or a query parameter', async () => {
    let res = await get(10, { headers: { 'Gimme-An-Echo': 'anything will do' }, query: { hello: 'there' }, body: 'cool body', method: 'POST' })
    assert.equal(res.statusCode, 404)
    let req = (await res.body.json() as { request: Record<string, unknown> }).request
    assert.equal((req.headers as Record<string, string>)['gimme-an-echo'], 'anything will do')
    assert.deepEqual(req.uri_captures, { named: {}, unnamed: [] })
    res = await get(10, { query: { hello: 'there', 'gimme-an-echo': 'anything will do' }, body: 'cool body', method: 'POST' })
    assert.equal(res.statusCode, 404)
    req = (await res.body.json() as { request: Record<string, unknown> }).request
    assert.deepEqual(req.query, { hello: 'there', 'gimme-an-echo': 'anything will do' })
  })

  await t.test('echo parses a JSON body', async () => {
    const res = await get(9, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":[1,2]}' })
    const req = (await res.body.json() as { request: Record<string, unknown> }).request
    assert.deepEqual(req.body, { a: [1, 2] })
    assert.equal(req.raw_body, '{"a":[1,2]}')
  })
})
