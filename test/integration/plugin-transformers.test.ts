/**
 * request-transformer, response-transformer and redirect through real worker threads.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { request } from 'undici'
import { plugin, pluginGateway } from '../helpers/kong-rows.ts'
import { route, service, snapshot, snapshotVersion } from '../helpers/worker-harness.ts'
import { withEntities } from '../helpers/kong-rows.ts'

interface Echoed { method: string; url: string; headers: Record<string, string>; body: string }

test('request-transformer: headers, querystring, bodies, method and uri, in Kong order', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/h'] }, { paths: ['/q'] }, { paths: ['/b'] }, { paths: ['/m'] }, { paths: ['/u'], strip_path: false }, { paths: ['~/t/(?<id>\\d+)$'] }],
    plugins: ([h, q, b, m, u, tpl]) => [
      plugin('request-transformer', {
        remove: { headers: ['x-remove'] },
        rename: { headers: ['x-old:x-new'] },
        replace: { headers: ['x-rep:replaced', 'x-absent:nope'] },
        add: { headers: ['x-add:added', 'x-rep:not-added'] },
        append: { headers: ['x-app:two'] },
      }, { route: h }),
      plugin('request-transformer', {
        remove: { querystring: ['drop'] },
        rename: { querystring: ['old:new'] },
        replace: { querystring: ['rep:R'] },
        add: { querystring: ['add:A', 'rep:no'] },
        append: { querystring: ['app:2'] },
      }, { route: q }),
      plugin('request-transformer', {
        remove: { body: ['drop'] },
        rename: { body: ['old:new'] },
        replace: { body: ['rep:R'] },
        add: { body: ['add:A'] },
        append: { body: ['app:2'] },
      }, { route: b }),
      plugin('request-transformer', { http_method: 'GET' }, { route: m }),
      plugin('request-transformer', { replace: { uri: '/replaced/path' } }, { route: u }),
      plugin('request-transformer', { add: { headers: ['x-id:$(uri_captures.id)', 'x-q:$(query_params.q or "none")', 'x-h:$(headers["x-in"])'] } }, { route: tpl }),
    ],
  })
  const call = async (path: string, opts: Parameters<typeof request>[1] = {}): Promise<Echoed> => {
    const res = await request(`${url}${path}`, opts)
    assert.equal(res.statusCode, 200)
    return await res.body.json() as Echoed
  }

  await t.test('headers', async () => {
    const e = await call('/h', { headers: ['x-remove', '1', 'x-old', 'o', 'x-rep', 'orig', 'x-app', 'one'] })
    assert.equal(e.headers['x-remove'], undefined)
    assert.equal(e.headers['x-old'], undefined)
    assert.equal(e.headers['x-new'], 'o')
    assert.equal(e.headers['x-rep'], 'replaced')
    assert.equal(e.headers['x-absent'], undefined)
    assert.equal(e.headers['x-add'], 'added')
    assert.equal(e.headers['x-app'], 'one, two')
  })

  await t.test('querystring (re-encoded with sorted keys)', async () => {
    const e = await call('/q?drop=1&old=o&rep=x&keep=k%20v')
    assert.equal(e.url, '/?add=A&app=2&keep=k%20v&new=o&rep=R')
  })

  await t.test('JSON and form bodies; other types untouched', async () => {
    let e = await call('/b', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ drop: 1, old: 'o', rep: 'x', app: 'one', keep: true }) })
    assert.deepEqual(JSON.parse(e.body), { new: 'o', rep: 'R', app: ['one', '2'], keep: true, add: 'A' })
    assert.equal(e.headers['content-length'], String(Buffer.byteLength(e.body)))
    e = await call('/b', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'drop=1&old=o&rep=x&keep=1' })
    assert.deepEqual(Object.fromEntries(new URLSearchParams(e.body)), { new: 'o', rep: 'R', keep: '1', add: 'A', app: '2' })
    e = await call('/b', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'drop=1' })
    assert.equal(e.body, 'drop=1')
    e = await call('/b', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' })
    assert.deepEqual(JSON.parse(e.body), { add: 'A', app: ['2'] })
  })

  await t.test('http_method GET moves form fields into the query', async () => {
    const e = await call('/m?a=1', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'b=2&a=3' })
    assert.equal(e.method, 'GET')
    assert.equal(e.url, '/?a=1&a=3&b=2')
  })

  await t.test('replace.uri', async () => {
    const e = await call('/u/x?k=v')
    assert.equal(e.url, '/replaced/path?k=v')
  })

  await t.test('templates', async () => {
    let e = await call('/t/42?q=yes', { headers: { 'x-in': 'hdr' } })
    assert.equal(e.headers['x-id'], '42')
    assert.equal(e.headers['x-q'], 'yes')
    assert.equal(e.headers['x-h'], 'hdr')
    e = await call('/t/7')
    assert.equal(e.headers['x-q'], 'none')
  })
})

test('request-transformer: an unsupported template expression fails closed (500)', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/'] }],
    plugins: ([r]) => [plugin('request-transformer', { add: { headers: ['x:$(os.getenv("HOME"))'] } }, { route: r })],
  })
  const res = await request(url)
  assert.equal(res.statusCode, 500)
  await res.body.dump()
})

test('response-transformer: headers and JSON body', async (t) => {
  const up = createServer((req, res) => {
    const body = JSON.stringify({ drop: 1, old: 'o', rep: 'x', app: 'one', url: 'http://a/b' })
    if (req.url === '/text') { res.writeHead(200, { 'content-type': 'text/plain', 'x-remove': '1' }); res.end('{"drop":1}'); return }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-remove': '1', 'x-old': 'o', 'x-rep': 'orig' })
    // Two chunks: the plugin must buffer.
    res.write(body.slice(0, 10))
    setImmediate(() => res.end(body.slice(10)))
  })
  up.listen(0, '127.0.0.1')
  await once(up, 'listening')
  t.after(() => { up.close() })
  const { url, h } = await pluginGateway(t, { routes: [] })
  const svc = service({ host: '127.0.0.1', port: (up.address() as { port: number }).port })
  const r = route({ paths: ['/'], strip_path: false }, svc)
  await h.publish(withEntities(snapshot([svc], [r], snapshotVersion()), {
    plugins: [plugin('response-transformer', {
      remove: { headers: ['x-remove'], json: ['drop'] },
      rename: { headers: ['x-old:x-new'], json: ['old:new'] },
      replace: { headers: ['x-rep:R'], json: ['rep:5'], json_types: ['number'] },
      add: { headers: ['x-add:A', 'x-rep:no'], json: ['add:true'], json_types: ['boolean'] },
      append: { headers: ['x-app:1'], json: ['app:two'] },
    }, { route: r })],
  }))
  let res = await request(`${url}/json`)
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['x-remove'], undefined)
  assert.equal(res.headers['x-new'], 'o')
  assert.equal(res.headers['x-old'], undefined)
  assert.equal(res.headers['x-rep'], 'R')
  assert.equal(res.headers['x-add'], 'A')
  assert.equal(res.headers['x-app'], '1')
  assert.equal(res.headers['content-length'], undefined)
  assert.deepEqual(await res.body.json(), { new: 'o', rep: 5, app: ['one', 'two'], url: 'http://a/b', add: true })
  res = await request(`${url}/text`)
  assert.equal(res.headers['x-remove'], undefined)
  assert.equal(await res.body.text(), '{"drop":1}')
})

test('redirect: status, Location, body; keep_incoming_path', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ paths: ['/r'] }, { paths: ['/keep'], strip_path: false }],
    plugins: ([r, keep]) => [
      plugin('redirect', { location: 'https://example.test/landing' }, { route: r }),
      plugin('redirect', { location: 'https://example.test:8443/ignored#frag', status_code: 307, keep_incoming_path: true }, { route: keep }),
    ],
  })
  let res = await request(`${url}/r/anything?x=1`)
  assert.equal(res.statusCode, 301)
  assert.equal(res.headers.location, 'https://example.test/landing')
  assert.equal(await res.body.text(), 'redirecting')
  res = await request(`${url}/keep/a%20b?x=1&y`)
  assert.equal(res.statusCode, 307)
  assert.equal(res.headers.location, 'https://example.test:8443/keep/a%20b?x=1&y#frag')
  await res.body.dump()
})
