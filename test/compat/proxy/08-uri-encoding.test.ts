/**
 * Port of Kong's spec/02-integration/05-proxy/08-uri_encoding_spec.lua: the query string and the
 * path reach the upstream as the client sent them. A real node on PostgreSQL (routes created
 * through its Admin API as Kong's blueprints insert them: two on `hosts`, one on `paths` keeping
 * the path, one on `paths` stripping it) in front of a real echo upstream, which reports the
 * request target it received.
 *
 * Every case of the spec is ported; Kong's mock upstream answers `url` (its base URL plus the
 * request target), so the target the echo received is compared whole.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startEcho, type Received, type Upstream } from '../../helpers/upstream.ts'
import { create } from './http-helpers.ts'

let db: TestDb
let gw: Gateway
let echo: Upstream

before(async () => {
  echo = await startEcho()
  db = await createTestDb()
  gw = await startGateway(db.settings, { nginx_worker_processes: '1' })
  // Kong's blueprint gives each route a service of its own on the mock upstream; one does here.
  const svc = await create(gw.admin, '/services', { name: 'mock_upstream', url: echo.url })
  const service = { id: svc.id as string }
  await create(gw.admin, '/routes', { hosts: ['mock_upstream'], service })
  await create(gw.admin, '/routes', { hosts: ['mock_upstream'], service })
  await create(gw.admin, '/routes', { protocols: ['http'], paths: ['/request'], strip_path: false, service })
  await create(gw.admin, '/routes', { protocols: ['http'], paths: ['/stripped-path'], strip_path: true, service })
  await gw.primary.sync()
})

after(async () => {
  await gw?.stop()
  await db?.drop()
  await echo?.close()
})

/** What the upstream received for `target` (Host `mock_upstream` unless `host` is null). */
async function upstreamGot (target: string, host: string | null = 'mock_upstream'): Promise<Received> {
  const res = await request(gw.proxy + target, { headers: host === null ? {} : { host } })
  const text = await res.body.text()
  assert.equal(res.statusCode, 200, text)
  return JSON.parse(text) as Received
}

test('08-uri_encoding [postgres]', async (t) => {
  await t.test('issue #1975 does not double percent-encode proxied args', async () => {
    const target = '/get?limit=25&where=%7B%22or%22:%5B%7B%22name%22:%7B%22like%22:%22%25bac%25%22%7D%7D%5D%7D'
    const got = await upstreamGot(target)
    assert.equal(got.url, target)
    const args = new URLSearchParams(got.url.slice(got.url.indexOf('?') + 1))
    assert.equal(args.get('limit'), '25')
    assert.equal(args.get('where'), '{"or":[{"name":{"like":"%bac%"}}]}')
  })

  await t.test('issue #1480 does not percent-encode args unnecessarily', async () => {
    assert.equal((await upstreamGot('/request?param=1.2.3')).url, '/request?param=1.2.3')
  })

  await t.test('issue #749 does not decode percent-encoded args', async () => {
    assert.equal((await upstreamGot('/request?param=abc%7Cdef')).url, '/request?param=abc%7Cdef')
  })

  await t.test('issue #688 does not percent-decode proxied URLs', async () => {
    assert.equal((await upstreamGot('/request/foo%2Fbar')).url, '/request/foo%2Fbar')
  })

  await t.test('issue #2512 does not double percent-encode upstream URLs', async () => {
    // with `hosts` matching
    assert.equal((await upstreamGot('/request/auth%2F123')).url, '/request/auth%2F123')
    // with `paths` matching (the client's own Host, 127.0.0.1:port)
    assert.equal((await upstreamGot('/request/auth%2F123', null)).url, '/request/auth%2F123')
    // with `paths` matching + strip_path
    assert.equal((await upstreamGot('/stripped-path/request/auth%2F123', null)).url, '/request/auth%2F123')
  })
})
