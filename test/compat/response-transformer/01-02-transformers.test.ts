/**
 * Ports of Kong's spec/03-plugins/15-response-transformer: 01-header_transformer_spec,
 * 02-body_transformer_spec and 04-filter_spec, through real worker threads. The upstream
 * answers the JSON given in `?body=`, with the Content-Type given in `?ct=` and the headers
 * given as `?h=name:value`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { request } from 'undici'
import { plugin, pluginGateway, withEntities } from '../../helpers/kong-rows.ts'
import { route, service, snapshot, snapshotVersion } from '../../helpers/worker-harness.ts'

async function scripted (t: import('node:test').TestContext): Promise<number> {
  const up = createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams
    const headers: Record<string, string | string[]> = { 'content-type': q.get('ct') ?? 'application/json' }
    for (const h of q.getAll('h')) {
      const i = h.indexOf(':')
      const k = h.slice(0, i)
      const prev = headers[k]
      headers[k] = prev === undefined ? h.slice(i + 1) : [...(Array.isArray(prev) ? prev : [prev]), h.slice(i + 1)]
    }
    const body = q.get('body') ?? '{}'
    headers['content-length'] = String(Buffer.byteLength(body))
    res.writeHead(200, headers)
    res.end(body)
  })
  up.listen(0, '127.0.0.1')
  await once(up, 'listening')
  t.after(() => { up.close() })
  return (up.address() as { port: number }).port
}

const CONFIGS: Record<string, Record<string, unknown>> = {
  add: { add: { json: ['p1:v1', 'p3:value:3', 'p4:"v1"', 'p5:-1', 'p6:false', 'p7:true'], json_types: ['string', 'string', 'string', 'number', 'boolean', 'boolean'] } },
  append: { append: { json: ['p1:v1', 'p3:"v1"', 'p4:-1', 'p5:false', 'p6:true'], json_types: ['string', 'string', 'number', 'boolean', 'boolean'] } },
  remove: { remove: { json: ['p1', 'p2'] } },
  rename: { rename: { json: ['p1:k1', 'p2:k2', 'p3:k3', 'p4:k4', 'p5:k5'] } },
  replace: { replace: { json: ['p1:v2', 'p2:"v2"', 'p3:-1', 'p4:false', 'p5:true'], json_types: ['string', 'string', 'number', 'boolean', 'boolean'] } },
  all: { remove: { json: ['p1'] }, rename: { json: ['p4:p2'] }, replace: { json: ['p2:v2'] }, add: { json: ['p3:v1'] }, append: { json: ['p3:v2'] } },
  quirks: { add: { json: ['slash:a/b', 'back:a\\b', 'n:0x10'], json_types: ['string', 'string', 'number'] }, replace: { json: ['isnull:x'] }, rename: { json: ['same:same'] } },
  headers: {
    remove: { headers: ['h1', 'h2'] },
    rename: { headers: ['h3:h4', 'h5:h6', 'h13:h14'] },
    replace: { headers: ['h7:new-value', 'h8:v8'] },
    add: { headers: ['h9:v9', 'h10:v10'] },
    append: { headers: ['h11:v11', 'h12:v12'] },
  },
  'headers-json': { remove: { json: ['p1'], headers: [] } },
  filter: { remove: { headers: ['Access-Control-Allow-Origin'], json: ['json'] }, replace: { json: ['headers:/hello/world', 'uri_args:this is a / test', 'url:"wot"'] } },
}

test('response-transformer 01/02/04', async (t) => {
  const port = await scripted(t)
  const names = Object.keys(CONFIGS)
  // every route goes to the scripted upstream
  const { h } = await pluginGateway(t, { routes: [] })
  const svc = service({ host: '127.0.0.1', port })
  const routes = names.map((n) => route({ hosts: [`${n}.test`] }, svc))
  await h.publish(withEntities(snapshot([svc], routes, snapshotVersion()), {
    plugins: names.map((n, i) => plugin('response-transformer', CONFIGS[n]!, { route: routes[i]! })),
  }))
  const get = async (host: string, body: string, extra: string = ''): Promise<{ status: number; headers: Record<string, unknown>; text: string }> => {
    const res = await request(`${h.url}/?body=${encodeURIComponent(body)}${extra}`, { headers: { host: `${host}.test` } })
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
  }
  const json = async (host: string, body: string): Promise<unknown> => JSON.parse((await get(host, body)).text)

  await t.test('add', async () => {
    const all = { p1: 'v1', p3: 'value:3', p4: '"v1"', p5: -1, p6: false, p7: true }
    assert.deepEqual(await json('add', '{"p2":"v1"}'), { p2: 'v1', ...all })
    assert.deepEqual(await json('add', '{"p2":-1}'), { p2: -1, ...all })
    assert.deepEqual(await json('add', '{"p2":false}'), { p2: false, ...all })
    const r = await get('add', '{"p2":"v1", "a":[]}')
    assert.deepEqual(JSON.parse(r.text), { p2: 'v1', a: [], ...all })
    assert.ok(r.text.includes('"a":[]'))
  })

  await t.test('append', async () => {
    const rest = { p3: ['"v1"'], p4: [-1], p5: [false], p6: [true] }
    assert.deepEqual(await json('append', '{"p2":"v1"}'), { p2: 'v1', p1: ['v1'], ...rest })
    assert.deepEqual(await json('append', '{"p1":"v2"}'), { p1: ['v2', 'v1'], ...rest })
    assert.deepEqual(await json('append', '{"p3":"v2"}'), { p1: ['v1'], ...rest, p3: ['v2', '"v1"'] })
    assert.deepEqual(await json('append', '{"p4":"v2"}'), { p1: ['v1'], ...rest, p4: ['v2', -1] })
    assert.deepEqual(await json('append', '{"p5":"v5", "p6":"v6"}'), { p1: ['v1'], ...rest, p5: ['v5', false], p6: ['v6', true] })
    assert.deepEqual(await json('append', '{"p2":"v1", "a":[]}'), { p2: 'v1', a: [], p1: ['v1'], ...rest })
  })

  await t.test('remove', async () => {
    assert.equal((await get('remove', '{"p1" : "v1", "p2" : "v1"}')).text, '{}')
    assert.equal((await get('remove', '{"p1" : "v1", "p2" : "v1", "a": []}')).text, '{"a":[]}')
  })

  await t.test('rename', async () => {
    assert.deepEqual(await json('rename', '{"p1" : "v1", "p2" : "v2"}'), { k1: 'v1', k2: 'v2' })
    assert.deepEqual(await json('rename', '{"p1" : "v1", "p2" : "v2", "p3": []}'), { k1: 'v1', k2: 'v2', k3: [] })
    assert.deepEqual(await json('rename', '{"p3" : -1}'), { k3: -1 })
    assert.deepEqual(await json('rename', '{"p4" : false, "p5" : true}'), { k4: false, k5: true })
  })

  await t.test('replace', async () => {
    assert.deepEqual(await json('replace', '{"p1" : "v1", "p2" : "v1"}'), { p1: 'v2', p2: '"v2"' })
    assert.deepEqual(await json('replace', '{"p1" : "v1"}'), { p1: 'v2' })
    assert.deepEqual(await json('replace', '{"p2" : "v1"}'), { p2: '"v2"' })
    assert.deepEqual(await json('replace', '{"p1" : "v1", "p2" : "v1", "a": []}'), { p1: 'v2', p2: '"v2"', a: [] })
    assert.deepEqual(await json('replace', '{"p3" : "v1"}'), { p3: -1 })
    // false is absent for replace (Kong's `if json_body[name]`); true is replaced
    assert.deepEqual(await json('replace', '{"p4" : "v4", "p5" : "v5"}'), { p4: false, p5: true })
  })

  await t.test('remove, rename, replace, add, append', async () => {
    assert.deepEqual(await json('all', '{"p1" : "v1", "p4" : "v1"}'), { p2: 'v2', p3: ['v1', 'v2'] })
    assert.deepEqual(await json('all', '{"p1" : "v1", "p4" : "v1", "a" : []}'), { p2: 'v2', p3: ['v1', 'v2'], a: [] })
  })

  await t.test('body_transformer value quirks: JSON-escaped text, a JSON null is present, renaming a key to itself drops it', async () => {
    assert.deepEqual(await json('quirks', '{"isnull":null,"same":1}'), { slash: 'a/b', back: 'a\\\\b', n: 16, isnull: 'x' })
  })

  await t.test('leave body alone: not JSON, or invalid JSON', async () => {
    let r = await get('remove', '{"p1":1}', '&ct=text/plain')
    assert.equal(r.text, '{"p1":1}')
    assert.equal(r.headers['content-length'], '8')
    r = await get('remove', 'not a json value')
    assert.equal(r.status, 200)
    assert.equal(r.text, 'not a json value')
    r = await get('all', '{"p1":1}', '&ct=application/json;%20charset=utf-8,%20text/html')
    assert.equal(r.text, '{"p3":["v1","v2"]}')
  })

  await t.test('headers: remove, rename, replace, add, append', async () => {
    const hs = ['h1:v1', 'h2:v1', 'h3:value to be renamed', 'h5:', 'h7:value 1', 'h8:', 'h10:v1', 'h12:v1', 'h13:a', 'h13:b']
    const r = await get('headers', '{}', hs.map((x) => `&h=${encodeURIComponent(x)}`).join(''))
    assert.equal(r.headers.h1, undefined)
    assert.equal(r.headers.h2, undefined)
    assert.equal(r.headers.h3, undefined)
    assert.equal(r.headers.h4, 'value to be renamed')
    assert.equal(r.headers.h5, undefined, 'an empty header is renamed too')
    assert.equal(r.headers.h6, '')
    assert.equal(r.headers.h7, 'new-value')
    assert.equal(r.headers.h8, 'v8')
    assert.equal(r.headers.h9, 'v9')
    assert.equal(r.headers.h10, 'v1')
    assert.equal(r.headers.h11, 'v11')
    assert.deepEqual(r.headers.h12, ['v1', 'v12'])
    assert.equal(r.headers.h13, undefined)
    assert.deepEqual(r.headers.h14, ['a', 'b'], 'every value of a repeated header is renamed')
    assert.equal(r.headers['content-length'], '2', 'no JSON rule: Content-Length stays')
  })

  await t.test('content-length is removed only for a JSON rule on a JSON response', async () => {
    let r = await get('headers-json', '{"p1":1,"p2":2}')
    assert.equal(r.headers['content-length'], undefined)
    assert.equal(r.text, '{"p2":2}')
    r = await get('headers-json', '{"p1":1,"p2":2}', '&ct=application/json;%20charset=utf-8')
    assert.equal(r.text, '{"p2":2}')
    r = await get('headers-json', '{"p1":1,"p2":2}', '&ct=text/html')
    assert.equal(r.headers['content-length'], '15')
    assert.equal(r.text, '{"p1":1,"p2":2}')
  })

  await t.test('04-filter: remove a parameter and a header, replace with a slash', async () => {
    const r = await get('filter', '{"json":1,"headers":{"a":1},"uri_args":{},"url":"u"}', '&h=Access-Control-Allow-Origin:*')
    assert.equal(r.headers['access-control-allow-origin'], undefined)
    assert.deepEqual(JSON.parse(r.text), { headers: '/hello/world', uri_args: 'this is a / test', url: '"wot"' })
  })
})
