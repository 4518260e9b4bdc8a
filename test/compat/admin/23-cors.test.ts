/**
 * Port of Kong's spec/02-integration/04-admin_api/23-cors_spec.lua: the Admin API's CORS headers
 * on pre-flight (OPTIONS) and main requests, for `admin_gui_url` empty, an origin, and a URL with
 * a path (its origin is what counts), on a DB-less node as in Kong's spec. Plus what Kong's
 * api_helpers.cors_filter does that the spec does not show: an Origin that is one of several
 * `admin_gui_url` origins is echoed, and the answers to errors (404, 405) carry the headers too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { startDblessGateway } from '../../helpers/dbless.ts'

type Headers = Record<string, string | string[] | undefined>

async function send (base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers }> {
  const r = await request(base + path, { method: method as 'GET', headers })
  await r.body.dump()
  return { status: r.statusCode, headers: r.headers }
}

for (const guiUrl of ['', 'http://admin.api:9100', 'http://admin.api:9100/path/to/any/way']) {
  test(`Admin API CORS when admin_gui_url is "${guiUrl}"`, async (t) => {
    const g = await startDblessGateway({ overrides: { admin_gui_url: guiUrl } })
    t.after(() => g.stop())
    const withOrigin = guiUrl !== '' ? 'http://admin.api:9100' : 'http://example.com'
    const withoutOrigin = guiUrl !== '' ? 'http://admin.api:9100' : '*'

    await t.test('pre-flight: allowed methods per route', async () => {
      for (const [path, methods] of [['/', 'GET, HEAD, OPTIONS'], ['/routes', 'GET, HEAD, OPTIONS, POST'], ['/routes/test', 'DELETE, GET, HEAD, OPTIONS, PATCH, PUT']] as const) {
        const r = await send(g.admin, 'OPTIONS', path)
        assert.equal(r.status, 204, path)
        assert.equal(r.headers.allow, methods, path)
        assert.equal(r.headers['access-control-allow-methods'], methods, path)
      }
    })

    await t.test('pre-flight: allows the headers the request asks for', async () => {
      let r = await send(g.admin, 'OPTIONS', '/')
      assert.equal(r.status, 204)
      assert.equal(r.headers['access-control-allow-headers'], 'Content-Type')
      r = await send(g.admin, 'OPTIONS', '/', { 'Access-Control-Request-Headers': 'X-Header-1,X-Header-2' })
      assert.equal(r.status, 204)
      assert.equal(r.headers['access-control-allow-headers'], 'X-Header-1,X-Header-2')
    })

    await t.test('pre-flight: Access-Control-Allow-Origin with and without Origin', async () => {
      let r = await send(g.admin, 'OPTIONS', '/', { Origin: 'http://example.com' })
      assert.equal(r.status, 204)
      assert.equal(r.headers['access-control-allow-origin'], withOrigin)
      assert.equal(r.headers['access-control-allow-credentials'], 'true')
      r = await send(g.admin, 'OPTIONS', '/')
      assert.equal(r.status, 204)
      assert.equal(r.headers['access-control-allow-origin'], withoutOrigin)
    })

    await t.test('main request: no answer to Access-Control-Request-Method/-Headers', async () => {
      const r = await send(g.admin, 'GET', '/', { 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': 'X-Header-1,X-Header-2' })
      assert.equal(r.status, 200)
      assert.equal(r.headers['access-control-allow-methods'], undefined)
      assert.equal(r.headers['access-control-allow-headers'], undefined)
    })

    await t.test('main request: Access-Control-Allow-Origin with and without Origin', async () => {
      let r = await send(g.admin, 'GET', '/', { Origin: 'http://example.com' })
      assert.equal(r.status, 200)
      assert.equal(r.headers['access-control-allow-origin'], withOrigin)
      r = await send(g.admin, 'GET', '/')
      assert.equal(r.status, 200)
      assert.equal(r.headers['access-control-allow-origin'], withoutOrigin)
    })

    await t.test('errors carry the same headers', async () => {
      for (const [method, path, status] of [['GET', '/no-such-thing', 404], ['DELETE', '/', 405]] as const) {
        const r = await send(g.admin, method, path, { Origin: 'http://example.com' })
        assert.equal(r.status, status)
        assert.equal(r.headers['access-control-allow-origin'], withOrigin)
        assert.equal(r.headers['access-control-allow-credentials'], 'true')
      }
    })
  })
}

test('Admin API CORS with several admin_gui_url origins: a listed Origin is echoed, others get the first', async (t) => {
  const g = await startDblessGateway({ overrides: { admin_gui_url: 'https://gui.one:8445/manager, http://gui.two' } })
  t.after(() => g.stop())
  const cases: Array<[string, string]> = [
    ['http://gui.two', 'http://gui.two'],
    ['https://gui.one:8445', 'https://gui.one:8445'],
    ['https://gui.one:8445/manager', 'https://gui.one:8445'],
    ['http://gui.one:8445', 'https://gui.one:8445'],
    ['http://example.com', 'https://gui.one:8445'],
  ]
  for (const [origin, allowed] of cases) {
    const r = await send(g.admin, 'GET', '/status', { Origin: origin })
    assert.equal(r.status, 200)
    assert.equal(r.headers['access-control-allow-origin'], allowed, origin)
  }
})
