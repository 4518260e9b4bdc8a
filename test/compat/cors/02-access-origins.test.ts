/**
 * The rest of Kong's spec/03-plugins/13-cors/01-access_spec.lua (actual requests): flat origin
 * strings, origin host and regex matching, scheme and port checks, credentials with `*`, Vary
 * appended to the upstream's, the upstream's Access-Control-Allow-Origin removed when no origin
 * matches, 404 responses, and allow_origin_absent.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { request } from 'undici'
import { plugin, pluginGateway, withEntities } from '../../helpers/kong-rows.ts'
import { route, service, snapshot, snapshotVersion } from '../../helpers/worker-harness.ts'

test('cors 01-access: actual requests and origins', async (t) => {
  // upstream: echoes the request headers; `?h=name:value` adds response headers
  const up = createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    for (const h of q.getAll('h')) headers[h.slice(0, h.indexOf(':'))] = h.slice(h.indexOf(':') + 1)
    res.writeHead(req.url?.startsWith('/missing') === true ? 404 : 200, headers)
    res.end(JSON.stringify({ headers: req.headers }))
  })
  up.listen(0, '127.0.0.1')
  await once(up, 'listening')
  t.after(() => { up.close() })
  const { h } = await pluginGateway(t, { routes: [] })
  const svc = service({ host: '127.0.0.1', port: (up.address() as { port: number }).port })
  const CONF: Record<string, Record<string, unknown>> = {
    cors1: {},
    cors5: { origins: ['*'], credentials: true },
    cors6: { origins: ['example.test', 'example.org'], methods: ['GET'], headers: ['origin', 'type', 'accepts'], exposed_headers: ['x-auth-token'], max_age: 23, preflight_continue: true },
    cors7: { origins: ['*'], credentials: false },
    cors9: { origins: ['.*\\.?example(?:-foo)?.test'] },
    cors10: { origins: ['http://my-site.test', 'http://my-other-site.test'] },
    cors11: { origins: ['http://my-site.test', 'https://my-other-site.test:9000'] },
    cors12: {
      credentials: true, preflight_continue: false, max_age: 1728000, methods: null, origins: ['a.xxx.test', 'allowed-domain.test'],
      headers: ['DNT', 'X-CustomHeader', 'Keep-Alive', 'User-Agent', 'X-Requested-With', 'If-Modified-Since', 'Cache-Control', 'Content-Type', 'Authorization'],
    },
    cors14: { preflight_continue: false, origins: ['foo.bar', '*'] },
    cors15: { allow_origin_absent: false, origins: ['foo.bar'], exposed_headers: ['x-auth-token'], credentials: true },
    cors16: { allow_origin_absent: true, origins: ['foo.bar'], exposed_headers: ['x-auth-token'], credentials: true },
    'cors-upstream': { origins: ['example.test'], methods: ['GET'], headers: ['origin', 'type', 'accepts'], exposed_headers: ['x-auth-token'], max_age: 10, preflight_continue: true },
  }
  const names = Object.keys(CONF)
  const routes = names.map((n) => route({ hosts: [`${n}.test`] }, svc))
  await h.publish(withEntities(snapshot([svc], routes, snapshotVersion()), {
    plugins: names.map((n, i) => plugin('cors', CONF[n]!, { route: routes[i]! })),
  }))
  const get = async (host: string, origin?: string, path = '/'): Promise<{ status: number; h: Record<string, string | string[] | undefined>; body: string }> => {
    const res = await request(`${h.url}${path}`, { headers: { host: `${host}.test`, ...(origin !== undefined ? { origin } : {}) } })
    return { status: res.statusCode, h: res.headers, body: await res.body.text() }
  }

  await t.test('properly validates flat strings (preflight)', async () => {
    const pre = async (origin: string): Promise<unknown> => {
      const res = await request(h.url, { method: 'OPTIONS', headers: { host: 'cors10.test', origin, 'access-control-request-method': 'GET' } })
      await res.body.dump()
      assert.equal(res.statusCode, 200)
      return res.headers['access-control-allow-origin']
    }
    assert.equal(await pre('http://my-site.test'), 'http://my-site.test')
    assert.equal(await pre('http://bad-guys.test'), undefined)
    assert.equal(await pre('http://my-site.test.bad-guys.test'), undefined)
  })

  await t.test('works with 404 responses', async () => {
    const r = await get('cors1', undefined, '/missing')
    assert.equal(r.status, 404)
    assert.equal(r.h['access-control-allow-origin'], '*')
    for (const k of ['access-control-allow-methods', 'access-control-allow-headers', 'access-control-expose-headers', 'access-control-allow-credentials', 'access-control-max-age', 'vary']) {
      assert.equal(r.h[k], undefined, k)
    }
  })

  await t.test('sets CORS origin based on origin host; regex origins', async () => {
    let r = await get('cors6', 'example.test')
    assert.equal(r.h['access-control-allow-origin'], 'example.test')
    assert.equal(r.h.vary, 'Origin')
    const domains: Record<string, boolean> = { 'example.test': true, 'www.example.test': true, 'example-foo.test': true, 'www.example-foo.test': true, 'www.example-fo0.test': false }
    for (const [d, okd] of Object.entries(domains)) {
      r = await get('cors9', d)
      assert.equal(r.h['access-control-allow-origin'], okd ? d : undefined, d)
      assert.equal(r.h.vary, 'Origin', d)
    }
  })

  await t.test("sets Vary and doesn't override the upstream's", async () => {
    const r = await get('cors-upstream', 'example.test', '/?h=vary:Accept-Encoding')
    assert.equal(r.status, 200)
    const vary = r.h.vary
    assert.deepEqual(Array.isArray(vary) ? vary : String(vary).split(/,\s*/), ['Accept-Encoding', 'Origin'])
  })

  await t.test('does not automatically parse the host', async () => {
    assert.equal((await get('cors6', 'http://example.test')).h['access-control-allow-origin'], undefined)
    assert.equal((await get('cors6', 'https://example.test')).h['access-control-allow-origin'], undefined)
    assert.equal((await get('cors6', 'http://www.example.net')).h['access-control-allow-origin'], undefined)
  })

  await t.test('validates scheme and port', async () => {
    const cases: Array<[string, string | undefined]> = [
      ['http://my-site.test', 'http://my-site.test'], ['http://my-site.test:80', 'http://my-site.test'], ['http://my-site.test:8000', undefined],
      ['https://my-site.test', undefined], ['https://my-other-site.test:9000', 'https://my-other-site.test:9000'], ['https://my-other-site.test:9001', undefined],
    ]
    for (const [origin, want] of cases) assert.equal((await get('cors11', origin)).h['access-control-allow-origin'], want, origin)
  })

  await t.test('credentials with origins *: the requested origin, with Vary', async () => {
    for (const origin of ['http://www.example.net', 'http://www.example.net:3000']) {
      const r = await get('cors5', origin)
      assert.equal(r.h['access-control-allow-origin'], origin)
      assert.equal(r.h['access-control-allow-credentials'], 'true')
      assert.equal(r.h.vary, 'Origin')
    }
    let r = await get('cors7', 'http://www.example.net')
    assert.equal(r.h['access-control-allow-origin'], '*')
    assert.equal(r.h['access-control-allow-credentials'], undefined)
    assert.equal(r.h.vary, undefined)
    r = await get('cors14', 'http://www.example.net')
    assert.equal(r.h['access-control-allow-origin'], '*')
  })

  await t.test("removes the upstream's Access-Control-Allow-Origin when no origin matches", async () => {
    const path = `/?h=${encodeURIComponent('Response-Header:is-added')}&h=${encodeURIComponent('Access-Control-Allow-Origin:*')}`
    let r = await get('cors12', 'allowed-domain.test', path)
    assert.equal(r.h['response-header'], 'is-added')
    assert.equal(r.h['access-control-allow-origin'], 'allowed-domain.test')
    assert.equal(r.h['access-control-allow-credentials'], 'true')
    assert.equal(r.h.vary, 'Origin')
    assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers.origin, 'allowed-domain.test')
    r = await get('cors12', 'disallowed-domain.test', path)
    assert.equal(r.h['response-header'], 'is-added')
    assert.equal(r.h['access-control-allow-origin'], undefined)
    assert.equal(r.h['access-control-allow-credentials'], 'true')
  })

  for (const origin of [undefined, '']) {
    await t.test(`allow_origin_absent with Origin ${JSON.stringify(origin)}`, async () => {
      let r = await get('cors15', origin)
      assert.equal(r.status, 200)
      assert.equal(r.h['access-control-allow-origin'], undefined)
      assert.equal(r.h['access-control-allow-credentials'], undefined)
      assert.equal(r.h['access-control-expose-headers'], undefined)
      r = await get('cors16', origin)
      assert.equal(r.h['access-control-allow-origin'], 'foo.bar')
      assert.equal(r.h['access-control-allow-credentials'], 'true')
      assert.equal(r.h['access-control-expose-headers'], 'x-auth-token')
    })
  }
})
