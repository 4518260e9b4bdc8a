/**
 * proxy-cache (memory strategy) through real worker threads and a real upstream (kong spec
 * 03-plugins/31-proxy-cache/02-access_spec.lua): Miss then Hit without contacting the upstream,
 * Kong's X-Cache-Key, response_headers and Kong-Debug, query / vary_query_params / vary_headers /
 * consumer / route in the key, ignore_uri_case, Bypass for uncacheable requests and responses,
 * content types with wildcards and parameters, cache_control semantics (response max-age,
 * s-maxage, Expires, private / no-store / no-cache; request no-cache, only-if-cached, min-fresh,
 * max-stale), cache_ttl and storage_ttl, streamed and HEAD responses, headers not replayed, and
 * bodies too large for the store.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { TestContext } from 'node:test'
import { request } from 'undici'
import type { RouteRow } from '../../src/common/snapshot.ts'
import { consumer, keyauth, plugin, withEntities } from '../helpers/kong-rows.ts'
import { startBig } from '../helpers/upstream.ts'
import { route, service, snapshot, snapshotVersion } from '../helpers/worker-harness.ts'
import { gateway, scriptedUpstream, type Gateway, type ScriptedUpstream } from './plugin-log-harness.ts'

type Row = ReturnType<typeof plugin>

interface Fx { gw: Gateway; up: ScriptedUpstream; routes: RouteRow[] }

async function cacheGateway (t: TestContext, paths: string[], plugins: (routes: RouteRow[]) => Row[], entities: Record<string, Row[]> = {}): Promise<Fx> {
  const up = await scriptedUpstream(t)
  const svc = service({ host: '127.0.0.1', port: up.port })
  const routes = paths.map((p) => route({ paths: [p] }, svc))
  const snap = withEntities(snapshot([svc], routes, snapshotVersion()), { plugins: plugins(routes), ...entities })
  return { gw: await gateway(t, { snapshot: snap }), up, routes }
}

function pc (config: Record<string, unknown>, scope: Parameters<typeof plugin>[2] = {}): Row {
  return plugin('proxy-cache', { strategy: 'memory', ...config }, scope)
}

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: string }

async function get (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Res> {
  const res = await request(url, { headers, method: method as 'GET' })
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

function cacheStatus (r: Res): string | undefined {
  return r.headers['x-cache-status'] as string | undefined
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')

test('proxy-cache: Miss, then Hit with the same key and body, without contacting the upstream', async (t) => {
  const { gw, up } = await cacheGateway(t, ['/'], () => [pc({})])
  const a = await get(`${gw.url}/get`)
  assert.equal(a.status, 200)
  assert.equal(cacheStatus(a), 'Miss')
  assert.match(String(a.headers['x-cache-key']), /^[0-9a-f]{64}$/)
  assert.equal(a.headers.age, undefined)
  const b = await get(`${gw.url}/get`)
  assert.equal(b.status, 200)
  assert.equal(cacheStatus(b), 'Hit')
  assert.equal(b.headers['x-cache-key'], a.headers['x-cache-key'])
  assert.equal(b.body, a.body)
  assert.equal(b.headers['content-type'], 'text/plain')
  assert.match(String(b.headers.age), /^\d+$/)
  assert.equal(up.hits, 1)
})

test("proxy-cache: X-Cache-Key is Kong's sha256 of prefix|method|request line|params|headers", async (t) => {
  const { gw, routes } = await cacheGateway(t, ['/k'], () => [pc({ vary_headers: ['X-Foo'] })])
  const rid = routes[0]!.id
  const noQuery = await get(`${gw.url}/k/p`, { 'x-foo': 'bar' })
  assert.equal(noQuery.headers['x-cache-key'], sha256(`${rid}|GET|GET /k/p HTTP/1.1||X-Foo=bar`))
  const withQuery = await get(`${gw.url}/k/p?b=2&a=1&flag&a=0`)
  assert.equal(withQuery.headers['x-cache-key'], sha256(`${rid}|GET|GET /k/p|a=0,1:b=2:flag|`))
})

test('proxy-cache: response_headers switch X-Cache-*/Age off; a Kong-Debug request header shows them', async (t) => {
  const { gw } = await cacheGateway(t, ['/'], () => [pc({ response_headers: { age: false, 'X-Cache-Status': false, 'X-Cache-Key': false } })])
  const a = await get(`${gw.url}/quiet`)
  assert.equal(a.headers['x-cache-status'], undefined)
  assert.equal(a.headers['x-cache-key'], undefined)
  const b = await get(`${gw.url}/quiet`)
  assert.equal(b.headers['x-cache-status'], undefined)
  assert.equal(b.headers.age, undefined)
  assert.equal(b.body, a.body)
  const c = await get(`${gw.url}/quiet`, { 'kong-debug': '1' })
  assert.equal(cacheStatus(c), 'Hit')
  assert.notEqual(c.headers.age, undefined)
  assert.notEqual(c.headers['x-cache-key'], undefined)
})

test('proxy-cache: query arguments are in the key, in any order; vary_query_params narrows them', async (t) => {
  const { gw } = await cacheGateway(t, ['/all', '/foo'], ([all, foo]) => [
    pc({}, { route: all }),
    pc({ vary_query_params: ['foo'] }, { route: foo }),
  ])
  assert.equal(cacheStatus(await get(`${gw.url}/all?a=b&b=c`)), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/all?a=c`)), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/all?b=c&a=b`)), 'Hit')
  assert.equal(cacheStatus(await get(`${gw.url}/all?a&b`)), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/all?a&b`)), 'Hit')
  assert.equal(cacheStatus(await get(`${gw.url}/foo?foo=b&b=c`)), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/foo?b=d&foo=b`)), 'Hit')
})

test('proxy-cache: vary_headers puts the named headers in the key', async (t) => {
  const { gw } = await cacheGateway(t, ['/'], () => [pc({ vary_headers: ['foo'] })])
  assert.equal(cacheStatus(await get(`${gw.url}/v`, { foo: 'bar' })), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/v`, { foo: 'bar' })), 'Hit')
  assert.equal(cacheStatus(await get(`${gw.url}/v`, { foo: 'baz' })), 'Miss')
})

test('proxy-cache: one cache per consumer and per route; unauthenticated requests never reach the cache', async (t) => {
  const bob = consumer({ username: 'bob' })
  const alice = consumer({ username: 'alice' })
  const { gw } = await cacheGateway(t, ['/a', '/b'], ([a, b]) => [
    plugin('key-auth', {}, { route: a }),
    plugin('key-auth', {}, { route: b }),
    pc({}, { route: a }),
    pc({}, { route: b }),
  ], { consumers: [bob, alice], keyauth_credentials: [keyauth(bob, 'bob'), keyauth(alice, 'alice')] })
  const anon = await get(`${gw.url}/a`)
  assert.equal(anon.status, 401)
  assert.equal(cacheStatus(anon), undefined)
  const b1 = await get(`${gw.url}/a`, { apikey: 'bob' })
  assert.equal(cacheStatus(b1), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/a`, { apikey: 'bob' })), 'Hit')
  const a1 = await get(`${gw.url}/a`, { apikey: 'alice' })
  assert.equal(cacheStatus(a1), 'Miss')
  assert.notEqual(a1.headers['x-cache-key'], b1.headers['x-cache-key'])
  assert.equal(cacheStatus(await get(`${gw.url}/a`, { apikey: 'alice' })), 'Hit')
  const other = await get(`${gw.url}/b`, { apikey: 'bob' })
  assert.equal(cacheStatus(other), 'Miss')
  assert.notEqual(other.headers['x-cache-key'], b1.headers['x-cache-key'])
})

test('proxy-cache: ignore_uri_case shares one entry across path case; without it the keys differ', async (t) => {
  const { gw } = await cacheGateway(t, ['/ic', '/ac'], ([ic, ac]) => [
    pc({ ignore_uri_case: true }, { route: ic }),
    pc({}, { route: ac }),
  ])
  const a = await get(`${gw.url}/ic/kong`)
  const b = await get(`${gw.url}/ic/KONG`)
  assert.equal(cacheStatus(b), 'Hit')
  assert.equal(b.headers['x-cache-key'], a.headers['x-cache-key'])
  assert.equal(b.body, a.body)
  const c = await get(`${gw.url}/ac/kong`)
  const d = await get(`${gw.url}/ac/KONG`)
  assert.equal(cacheStatus(d), 'Miss')
  assert.notEqual(d.headers['x-cache-key'], c.headers['x-cache-key'])
})

test('proxy-cache: Bypass for a method, status or content type that is not cacheable', async (t) => {
  const { gw, up } = await cacheGateway(t, ['/'], () => [pc({})])
  const post = await get(`${gw.url}/p`, {}, 'POST')
  assert.equal(cacheStatus(post), 'Bypass')
  assert.equal(post.headers['x-cache-key'], undefined)
  const teapot = await get(`${gw.url}/s?status=418`)
  assert.equal(teapot.status, 418)
  assert.equal(cacheStatus(teapot), 'Bypass')
  assert.equal(cacheStatus(await get(`${gw.url}/x?ct=application/xml`)), 'Bypass')
  assert.equal(cacheStatus(await get(`${gw.url}/x?ct=application/xml`)), 'Bypass')
  assert.equal(cacheStatus(await get(`${gw.url}/n?ct=none`)), 'Bypass')
  assert.equal(up.hits, 5)
})

test('proxy-cache: non-default request_method, response_code and content_type (wildcards, parameters)', async (t) => {
  const { gw } = await cacheGateway(t, ['/post', '/star', '/param', '/bad'], ([post, star, param, bad]) => [
    pc({ request_method: ['GET', 'HEAD', 'POST'], response_code: [200, 417], content_type: ['text/html; charset=utf-8', 'text/plain'] }, { route: post }),
    pc({ content_type: ['*/*'] }, { route: star }),
    pc({ content_type: ['application/xml; charset=UTF-8'] }, { route: param }),
    pc({ content_type: ['application/xml;'] }, { route: bad }),
  ])
  assert.equal(cacheStatus(await get(`${gw.url}/post/x`, { 'content-type': 'application/json' }, 'POST')), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/post/x`, { 'content-type': 'application/json' }, 'POST')), 'Hit')
  assert.equal(cacheStatus(await get(`${gw.url}/post/e?status=417`)), 'Miss')
  const e2 = await get(`${gw.url}/post/e?status=417`)
  assert.equal(e2.status, 417)
  assert.equal(cacheStatus(e2), 'Hit')
  assert.equal(cacheStatus(await get(`${gw.url}/post/h?ct=text/html;%20charset=utf-8`)), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/post/h?ct=text/html;%20charset=utf-8`)), 'Hit')
  assert.equal(cacheStatus(await get(`${gw.url}/star/x?ct=application/xml`)), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/star/x?ct=application/xml`)), 'Hit')
  // Parameters must match exactly (value case included) and in number.
  assert.equal(cacheStatus(await get(`${gw.url}/param/x?ct=application/xml`)), 'Bypass')
  assert.equal(cacheStatus(await get(`${gw.url}/param/y?ct=application/xml;%20charset=utf-8`)), 'Bypass')
  assert.equal(cacheStatus(await get(`${gw.url}/param/z?ct=application/xml;%20charset=UTF-8`)), 'Miss')
  // An invalid content type, configured or sent, never matches and never errors.
  assert.equal(cacheStatus(await get(`${gw.url}/param/w?ct=application/xml;`)), 'Bypass')
  const bad = await get(`${gw.url}/bad/x?ct=application/xml`)
  assert.equal(bad.status, 200)
  assert.equal(cacheStatus(bad), 'Bypass')
})

test('proxy-cache: cache_control honours the response: max-age, s-maxage, Expires cache; private, no-store, 0 and none bypass', async (t) => {
  const { gw } = await cacheGateway(t, ['/'], () => [pc({ cache_control: true })])
  const cached = async (q: string): Promise<[string | undefined, string | undefined]> => {
    const a = await get(`${gw.url}/cc?${q}`)
    const b = await get(`${gw.url}/cc?${q}`)
    return [cacheStatus(a), cacheStatus(b)]
  }
  assert.deepEqual(await cached('cc=public,%20max-age=60'), ['Miss', 'Hit'])
  assert.deepEqual(await cached('cc=max-age=604800'), ['Miss', 'Hit'])
  assert.deepEqual(await cached('cc=s-maxage=604800'), ['Miss', 'Hit'])
  assert.deepEqual(await cached(`expires=${encodeURIComponent(new Date(Date.now() + 5_000_000).toUTCString())}`), ['Miss', 'Hit'])
  assert.deepEqual(await cached('cc=max-age=0'), ['Bypass', 'Bypass'])
  assert.deepEqual(await cached('cc=private,%20max-age=60'), ['Bypass', 'Bypass'])
  assert.deepEqual(await cached('cc=no-store,%20max-age=60'), ['Bypass', 'Bypass'])
  assert.deepEqual(await cached('cc=no-cache,%20max-age=60'), ['Bypass', 'Bypass'])
  assert.deepEqual(await cached('none=1'), ['Bypass', 'Bypass'])
})

test('proxy-cache: cache_control honours the request: no-cache / no-store / Authorization bypass, only-if-cached 504, min-fresh and max-stale refresh', async (t) => {
  const { gw, up } = await cacheGateway(t, ['/'], () => [pc({ cache_control: true, storage_ttl: 600 })])
  const url = `${gw.url}/r?cc=max-age=2`
  assert.equal(cacheStatus(await get(url, { 'cache-control': 'no-cache' })), 'Bypass')
  assert.equal(cacheStatus(await get(url, { 'cache-control': 'no-store' })), 'Bypass')
  assert.equal(cacheStatus(await get(url, { authorization: 'Bearer x' })), 'Bypass')
  const miss = await get(`${gw.url}/r?not=here`, { 'cache-control': 'only-if-cached' })
  assert.equal(miss.status, 504)
  const hits = up.hits
  assert.equal(cacheStatus(await get(url)), 'Miss')
  assert.equal(cacheStatus(await get(url)), 'Hit')
  assert.equal(cacheStatus(await get(url, { 'cache-control': 'only-if-cached' })), 'Hit')
  // ttl 2 - age 0 < 30: not fresh enough for the client.
  assert.equal(cacheStatus(await get(url, { 'cache-control': 'min-fresh=30' })), 'Refresh')
  // age 0 - ttl 2 > -5: staler than the client accepts.
  assert.equal(cacheStatus(await get(url, { 'cache-control': 'max-stale=-5' })), 'Refresh')
  assert.equal(cacheStatus(await get(url)), 'Hit')
  assert.equal(up.hits, hits + 3)
})

test('proxy-cache: cache_ttl expires entries; with a longer storage_ttl they are refreshed instead', async (t) => {
  const { gw } = await cacheGateway(t, ['/ttl', '/stored'], ([a, b]) => [
    pc({ cache_ttl: 1 }, { route: a }),
    pc({ cache_ttl: 1, storage_ttl: 60 }, { route: b }),
  ])
  assert.equal(cacheStatus(await get(`${gw.url}/ttl`)), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/stored`)), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/ttl`)), 'Hit')
  assert.equal(cacheStatus(await get(`${gw.url}/stored`)), 'Hit')
  // Entries are stamped in whole seconds: wait until age > cache_ttl (time itself is the event).
  const start = Math.floor(Date.now() / 1000)
  await new Promise((resolve) => setTimeout(resolve, (start + 2) * 1000 - Date.now() + 20))
  assert.equal(cacheStatus(await get(`${gw.url}/ttl`)), 'Miss')
  assert.equal(cacheStatus(await get(`${gw.url}/stored`)), 'Refresh')
  assert.equal(cacheStatus(await get(`${gw.url}/stored`)), 'Hit')
})

test('proxy-cache: a streamed (chunked) response and a HEAD response are cached', async (t) => {
  const { gw, up } = await cacheGateway(t, ['/'], () => [pc({})])
  const a = await get(`${gw.url}/stream?chunked=1`)
  assert.equal(cacheStatus(a), 'Miss')
  assert.equal(a.headers['content-length'], undefined)
  const b = await get(`${gw.url}/stream?chunked=1`)
  assert.equal(cacheStatus(b), 'Hit')
  assert.equal(b.body, a.body)
  assert.equal(cacheStatus(await get(`${gw.url}/head`, {}, 'HEAD')), 'Miss')
  const h = await get(`${gw.url}/head`, {}, 'HEAD')
  assert.equal(cacheStatus(h), 'Hit')
  assert.equal(h.body, '')
  assert.equal(up.hits, 2)
})

test('proxy-cache: a Content-Length response in several chunks reaches the body filter with last=true, and is cached', async (t) => {
  const { gw, up } = await cacheGateway(t, ['/'], () => [pc({})])
  const a = await get(`${gw.url}/split?split=1`)
  assert.equal(cacheStatus(a), 'Miss')
  assert.equal(a.headers['content-length'], String(Buffer.byteLength(a.body)))
  // proxy-cache stores only on the body filter's last call: a Hit proves it came.
  const b = await get(`${gw.url}/split?split=1`)
  assert.equal(cacheStatus(b), 'Hit')
  assert.equal(b.body, a.body)
  assert.equal(up.hits, 1)
})

test('proxy-cache: hop-by-hop and *ratelimit-remaining* headers are not replayed; repeated headers are', async (t) => {
  const { gw } = await cacheGateway(t, ['/'], () => [pc({})])
  const q = 'h=x-ratelimit-remaining-minute:5&h=set-cookie:a=1&h=set-cookie:b=2&h=x-kept:yes'
  const a = await get(`${gw.url}/h?${q}`)
  assert.equal(a.headers['x-ratelimit-remaining-minute'], '5')
  const b = await get(`${gw.url}/h?${q}`)
  assert.equal(cacheStatus(b), 'Hit')
  assert.equal(b.headers['x-ratelimit-remaining-minute'], undefined)
  assert.deepEqual(b.headers['set-cookie'], ['a=1', 'b=2'])
  assert.equal(b.headers['x-kept'], 'yes')
  assert.equal(b.headers['content-length'], String(Buffer.byteLength(b.body)))
})

test('proxy-cache: a body larger than the per-entry bound streams through and is not cached', async (t) => {
  const big = await startBig(9 * 1024 * 1024)
  t.after(() => big.close())
  const svc = service({ host: '127.0.0.1', port: big.port })
  const r = route({ paths: ['/'] }, svc)
  const snap = withEntities(snapshot([svc], [r], snapshotVersion()), { plugins: [pc({ content_type: ['application/octet-stream'] })] })
  const gw = await gateway(t, { snapshot: snap })
  const a = await get(`${gw.url}/big`)
  assert.equal(a.status, 200)
  assert.equal(Buffer.byteLength(a.body), 9 * 1024 * 1024)
  const b = await get(`${gw.url}/big`)
  assert.equal(cacheStatus(b), 'Miss')
  assert.equal(big.received.length, 2)
})
