/**
 * Kong's routing as a client sees it, through real worker threads and a real upstream:
 * spec/02-integration/05-proxy/02-router_spec.lua cases that the router unit suites cannot show
 * (what reaches the upstream, HEAD, repeated headers, Host ports, HTTP/1.0 without Host), and
 * the Kong-Debug response headers that spec reads to tell which route and service matched.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { startEcho, type Received, type Upstream } from '../helpers/upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from '../helpers/worker-harness.ts'
import type { RouteRow, ServiceRow } from '../../src/common/snapshot.ts'

interface Res { status: number; headers: Record<string, string | string[] | undefined>; text: string }

/** node:http client: any header list (repeated names kept), any method, any target. */
function send (h: Harness, method: string, path: string, headers: Array<[string, string]> = []): Promise<Res> {
  return new Promise((resolve, reject) => {
    const flat: string[] = []
    for (const [k, v] of headers) flat.push(k, v)
    if (!headers.some(([k]) => k.toLowerCase() === 'host')) flat.push('host', 'domain.test')
    const req = httpRequest({ host: '127.0.0.1', port: h.port, method, path, headers: flat, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** A raw exchange on one connection, read until the server closes it. */
function raw (h: Harness, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(h.port, '127.0.0.1')
    let out = ''
    s.setEncoding('latin1')
    s.on('data', (c: string) => { out += c })
    s.on('end', () => resolve(out))
    s.on('error', reject)
    s.write(bytes, 'latin1')
  })
}

let echo: Upstream
let h: Harness
let svcA: ServiceRow
let svcB: ServiceRow
const R: Record<string, RouteRow> = {}

before(async () => {
  echo = await startEcho()
  svcA = service({ host: '127.0.0.1', port: echo.port, name: 'service-a' })
  svcB = service({ host: '127.0.0.1', port: echo.port, name: 'service-b', path: '/b' })
  R.byMethod = route({ methods: ['GET'], name: 'by-method' }, svcA)
  R.post = route({ methods: ['POST'], paths: ['/post'], name: 'post' }, svcB)
  R.headers1 = route({ headers: { location: ['my-location-1', 'my-location-2'] } }, svcA)
  R.headers2 = route({ headers: { location: ['~*^loc-\\d+$'] }, paths: ['/regex-header'] }, svcB)
  R.caps = route({ paths: ['~/users/(?<id>\\d+)/profile'], strip_path: false }, svcA)
  R.ported = route({ hosts: ['ported.test:9'] }, svcA)
  R.wild = route({ hosts: ['*.wild.test'], paths: ['/w'] }, svcA)
  R.plain = route({ hosts: ['plain.wild.test'], paths: ['/w'] }, svcB)
  R.nosvc = route({ hosts: ['serviceless.test'], name: 'no-service' }, null)
  h = await startWorkers({
    conf: { allow_debug_header: 'on' },
    snapshot: snapshot([svcA, svcB], Object.values(R)),
  })
})

after(async () => {
  await h?.stop()
  await echo?.close()
})

describe('02-router_spec through the proxy', () => {
  test('restricts a route to its methods; method-only route is the fallback', async () => {
    const post = await send(h, 'POST', '/post')
    assert.equal(post.status, 200)
    assert.equal((JSON.parse(post.text) as Received).url, '/b')
    assert.equal((await send(h, 'DELETE', '/post')).status, 404)
    const get = await send(h, 'GET', '/get')
    assert.equal(get.status, 200)
    assert.equal((JSON.parse(get.text) as Received).url, '/get')
  })

  test('HTTP/1.0 without Host routes to host-less routes', { todo: 'src/worker edge (not src/router): the pinned uWS builds never hand an HTTP/1.0 request to JavaScript (edge.ts); Kong routes it to host-less routes (02-router_spec "HTTP/1.0 routes normally")' }, async () => {
    const out = await raw(h, 'GET /get HTTP/1.0\r\n\r\n')
    assert.match(out, /^HTTP\/1\.[01] 200 /)
    assert.ok(out.includes('"url":"/get"'), out)
  })

  test('HEAD with no matching route: 404, Kong\'s headers, no body', async () => {
    const res = await send(h, 'HEAD', '/nowhere', [['host', 'nothing.test']])
    assert.equal(res.status, 404)
    assert.equal(res.text, '')
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    assert.match(String(res.headers['x-kong-request-id']), /^[0-9a-f]{32}$/)
  })

  test('headers: any of the request\'s repeated values; a comma-joined value is one value', async () => {
    const two = await send(h, 'POST', '/x', [['location', 'other'], ['location', 'my-location-2']])
    assert.equal(two.status, 200)
    const joined = await send(h, 'POST', '/x', [['location', 'other, my-location-2']])
    assert.equal(joined.status, 404)
    const upper = await send(h, 'POST', '/x', [['Location', 'MY-LOCATION-1']])
    assert.equal(upper.status, 200)
  })

  test('headers: a ~* value is a case-insensitive regex', async () => {
    const res = await send(h, 'POST', '/regex-header/x', [['location', 'LOC-42']])
    assert.equal(res.status, 200)
    assert.equal((JSON.parse(res.text) as Received).url, '/b/x')
    assert.equal((await send(h, 'POST', '/regex-header/x', [['location', 'LOC-42a']])).status, 404)
  })

  test('a host with a port matches that Host header port only', async () => {
    assert.equal((await send(h, 'POST', '/', [['host', 'ported.test:9']])).status, 200)
    assert.equal((await send(h, 'POST', '/', [['host', 'ported.test:10']])).status, 404)
    // no port in the Host header: the listener port (not 9) is net.dst.port
    assert.equal((await send(h, 'POST', '/', [['host', 'ported.test']])).status, 404)
  })

  test('a plain host beats a wildcard host with the same path; the wildcard still matches others', async () => {
    const plain = await send(h, 'POST', '/w/x', [['host', 'plain.wild.test']])
    assert.equal((JSON.parse(plain.text) as Received).url, '/b/x')
    const other = await send(h, 'POST', '/w/x', [['host', 'other.wild.test']])
    assert.equal((JSON.parse(other.text) as Received).url, '/x')
  })

  test('a regex route with strip_path=false proxies the normalised path, re-escaped', async () => {
    const res = await send(h, 'POST', '/users/%31%32/profile/a%20b/../c')
    assert.equal(res.status, 200)
    assert.equal((JSON.parse(res.text) as Received).url, '/users/12/profile/c')
  })
})

describe('[snis] for HTTPS connections (02-router_spec, traditional_compatible wildcards)', () => {
  let tls: Harness
  let svcs: ServiceRow[]
  before(async () => {
    svcs = ['www', 'apex', 'wild', 'bar'].map((name) => service({ host: '127.0.0.1', port: echo.port, name, path: `/${name}` }))
    tls = await startWorkers({
      ssl: true,
      snapshot: snapshot(svcs, [
        route({ protocols: ['https'], snis: ['www.example.org'] }, svcs[0]!),
        route({ protocols: ['https'], snis: ['example.org'] }, svcs[1]!),
        route({ protocols: ['https'], snis: ['*.foo.test'] }, svcs[2]!),
        route({ protocols: ['https'], snis: ['bar.*'] }, svcs[3]!),
      ]),
    })
  })
  after(async () => { await tls?.stop() })

  function tlsGet (servername: string | undefined, host: string): Promise<Res> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({
        host: '127.0.0.1', port: tls.tlsPort, path: '/status/200', servername, rejectUnauthorized: false, agent: false,
        headers: { host },
      }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
      })
      req.on('error', reject)
      req.end()
    })
  }
  const upstreamUrl = (r: Res): string => (JSON.parse(r.text) as Received).url

  test('matches a route on its snis; the Host header plays no part', async () => {
    assert.equal(upstreamUrl(await tlsGet('www.example.org', 'anything.test')), '/www/status/200')
    assert.equal(upstreamUrl(await tlsGet('example.org', 'www.example.org')), '/apex/status/200')
  })
  test('leftmost and rightmost wildcard snis', async () => {
    assert.equal(upstreamUrl(await tlsGet('a.foo.test', 'x')), '/wild/status/200')
    assert.equal(upstreamUrl(await tlsGet('bar.example', 'x')), '/bar/status/200')
  })
  test('no route for another sni', async () => {
    assert.equal((await tlsGet('nothing.test', 'x')).status, 404)
  })
})

describe('Kong-Debug response headers (allow_debug_header = on)', () => {
  test('Kong-Route-Id/-Name, Kong-Service-Id/-Name after a match; none on a 404; only the route ones on a 503 (kong/router/utils.lua add_debug_headers)', async () => {
    const res = await send(h, 'POST', '/post', [['kong-debug', '1']])
    assert.equal(res.status, 200)
    assert.equal(res.headers['kong-route-id'], R.post!.id)
    assert.equal(res.headers['kong-route-name'], 'post')
    assert.equal(res.headers['kong-service-id'], svcB.id)
    assert.equal(res.headers['kong-service-name'], 'service-b')
    const miss = await send(h, 'DELETE', '/post', [['kong-debug', '1']])
    assert.equal(miss.status, 404)
    assert.equal(miss.headers['kong-route-id'], undefined)
    const nosvc = await send(h, 'GET', '/', [['host', 'serviceless.test'], ['kong-debug', '1']])
    assert.equal(nosvc.status, 503)
    assert.equal(nosvc.headers['kong-route-id'], R.nosvc!.id)
    assert.equal(nosvc.headers['kong-route-name'], 'no-service')
    assert.equal(nosvc.headers['kong-service-id'], undefined)
  })
})
