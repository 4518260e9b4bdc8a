/**
 * More of Kong 3.10's spec/01-unit/08-router_spec.lua, for the default traditional_compatible
 * flavor, beyond the shared conformance suite (router.conformance.ts). Each test names the Kong
 * `it(...)` it ports. Kong's `select()` skips normalisation; these go through `match()`, which
 * normalises as Kong's `exec()` does, so only cases whose paths normalisation leaves alone are
 * ported literally.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildRouter } from './traditional.ts'
import { routes as makeRoutes, type RouteSpec } from './conformance-helpers.ts'
import type { BuildRouter } from './types.ts'

const build: BuildRouter = (e) => buildRouter(e)
const routes = (specs: RouteSpec[]) => makeRoutes(build, specs)

describe('08-router_spec: more cases (traditional_compatible)', () => {
  it('[both regex and prefix with regex_priority] prefix matching ignores regex_priority', () => {
    const r = routes([
      { n: 101, paths: ['/.*'], hosts: ['domain-1.org'] }, // a prefix path: no `~`
      { n: 102, paths: ['/'], hosts: ['domain-2.org'], regex_priority: 5 },
      { n: 103, paths: ['/v1'], hosts: ['domain-2.org'] },
    ])
    assert.equal(r.hit('/v1', { host: 'domain-2.org' }), 103)
    assert.equal(r.hit('/.*/x', { host: 'domain-1.org' }), 101)
    assert.equal(r.hit('/anything', { host: 'domain-1.org' }), null)
  })

  it('[both regex and prefix] assigns different priorities to regex and non-regex path', () => {
    const r = routes([
      { n: 101, paths: ['~/some/thing/else', '/foo'], hosts: ['domain-1.org'] },
      { n: 102, paths: ['/foo/bar'], hosts: ['domain-1.org'] },
    ])
    assert.equal(r.hit('/some/thing/else', { host: 'domain-1.org' }), 101)
    assert.equal(r.hit('/foo/bar', { host: 'domain-1.org' }), 102)
    assert.equal(r.hit('/foo', { host: 'domain-1.org' }), 101)
  })

  it('[overlapping prefixes] assigns different priorities to each path', () => {
    const r = routes([
      { n: 101, paths: ['/foo', '/foo/bar/baz'], hosts: ['domain-1.org'] },
      { n: 102, paths: ['/foo/bar'], hosts: ['domain-1.org'] },
    ])
    assert.equal(r.hit('/foo', { host: 'domain-1.org' }), 101)
    assert.equal(r.hit('/foo/bar', { host: 'domain-1.org' }), 102)
    assert.equal(r.hit('/foo/bar/baz', { host: 'domain-1.org' }), 101)
  })

  it('[can create route with multiple paths and no service]', () => {
    const r = routes([{ n: 101, paths: ['/foo', '/foobar', '~/regex'], servicePath: null }])
    assert.equal(r.hit('/foobar/x'), 101)
    assert.equal(r.hit('/regex'), 101)
  })

  it('does not supersede another route with a longer [uri] when a better [uri] match exists for another [host]', () => {
    const r = routes([
      { n: 101, hosts: ['example.com'], paths: ['/my-route'] },
      { n: 102, hosts: ['example.com'], paths: ['/my-route/hello'] },
      { n: 103, hosts: ['example.net'], paths: ['/my-route/hello/world'] },
    ])
    assert.equal(r.hit('/my-route/hello/world', { host: 'example.com' }), 102)
    assert.equal(r.hit('/my-route/hello/world/and/goodnight', { host: 'example.com' }), 102)
  })

  it('prefers port-specific even for http and https default ports', () => {
    for (const port of [80, 443]) {
      const r = routes([
        { n: 101, hosts: ['*.route.com'] },
        { n: 102, hosts: ['route.*'] },
        { n: 103, hosts: [`route.*:${port}`] },
      ])
      assert.equal(r.hit('/', { host: 'route.org:123' }), 102)
      assert.equal(r.hit('/', { host: `route.org:${port}` }), 103)
      // no port in the Host header: net.dst.port is the listener's
      assert.equal(r.hit('/', { host: 'route.org', port }), 103)
    }
  })

  it('matches [wildcard host + path] even if a similar [plain host] exists, and the reverse', () => {
    const r = routes([
      { n: 101, hosts: ['*.route.com'], paths: ['/path1'] },
      { n: 102, hosts: ['plain.route.com'], paths: ['/path2'] },
    ])
    assert.equal(r.hit('/path1', { host: 'plain.route.com' }), 101)
    assert.equal(r.match('/path1', { host: 'plain.route.com' })?.captures, null)
    assert.equal(r.hit('/path2', { host: 'plain.route.com' }), 102)
  })

  it('submatch_weight [wildcard host port] > [wildcard host]', () => {
    const r = routes([
      { n: 101, hosts: ['route.*'] },
      { n: 102, hosts: ['route.*:80', 'route.com.*'] },
    ])
    assert.equal(r.hit('/', { host: 'route.org:80' }), 102)
  })

  it('matches a [wildcard host + port] even if a [wildcard host] matched', () => {
    const r = routes([
      { n: 101, hosts: ['route.*'] },
      { n: 102, hosts: ['route.*:123'] },
      { n: 103, hosts: ['route.*:80'] },
    ])
    assert.equal(r.hit('/', { host: 'route.org:123' }), 102)
    assert.equal(r.hit('/', { host: 'route.org:80' }), 103)
    assert.equal(r.hit('/', { host: 'route.org:8000' }), 101)
  })

  it('half [uri] and [host] match does not supersede another route', () => {
    const r = routes([
      { n: 101, hosts: ['host1.com'], paths: ['/v1/path'] },
      { n: 102, hosts: ['host2.com'], paths: ['/'] },
    ])
    assert.equal(r.hit('/v1/path', { host: 'host1.com' }), 101)
    assert.equal(r.hit('/v1/path', { host: 'host2.com' }), 102)
  })

  it('half [wildcard host] and [method] match does not supersede another route', () => {
    const r = routes([
      { n: 101, hosts: ['host.*'], methods: ['GET'] },
      { n: 102, hosts: ['host.*'], methods: ['POST'] },
    ])
    assert.equal(r.hit('/', { host: 'host.com' }), 101)
    assert.equal(r.hit('/', { host: 'host.com', method: 'POST' }), 102)
  })

  it('[method] does not supersede [uri prefix] nor [wildcard host]', () => {
    const r = routes([{ n: 101, methods: ['GET'] }, { n: 102, paths: ['/example'] }])
    assert.equal(r.hit('/example'), 102)
    assert.equal(r.hit('/example/status/200'), 102)
    const w = routes([{ n: 101, methods: ['GET'] }, { n: 102, hosts: ['domain.*'] }])
    assert.equal(w.hit('/', { host: 'nothing.com' }), 101)
    assert.equal(w.hit('/', { host: 'domain.com' }), 102)
  })

  it('multiple routes of same category with conflicting values: matches correct route', () => {
    const specs: RouteSpec[] = []
    for (let i = 1; i <= 5; i++) specs.push({ n: 110 + i, hosts: ['domain.org'], paths: ['/my-uri'] })
    specs.push({ n: 121, hosts: ['domain.org'], paths: ['/my-target-uri'] })
    assert.equal(routes(specs).hit('/my-target-uri', { host: 'domain.org' }), 121)
  })

  it('misses: invalid host, method, uri, headers', () => {
    const r = routes([
      { n: 101, hosts: ['domain-1.org'] },
      { n: 104, hosts: ['domain-1.org'], paths: ['/route-4'] },
      { n: 107, hosts: ['domain-with-method.org'], methods: ['TRACE'], paths: ['/my-route'] },
      { n: 109, headers: { location: ['my-location-1', 'my-location-2'] } },
      { n: 112, hosts: ['domain-with-headers-1.org'], headers: { location: ['my-location-5'] }, methods: ['GET'], paths: ['/headers-host-uri-method'] },
    ])
    assert.equal(r.hit('/', { host: 'domain-2.org' }), null)
    assert.equal(r.hit('/route-4', { host: 'domain-2.org' }), null)
    assert.equal(r.hit('/my-route', { host: 'domain-with-method.org', method: 'GET' }), null)
    assert.equal(r.hit('/my-route', { host: 'domain-with-method.org', method: 'TRACE' }), 107)
    assert.equal(r.hit('/another-route', { host: 'domain-with-method.org', method: 'TRACE' }), null)
    assert.equal(r.hit('/some/my-route', { host: 'domain-with-method.org', method: 'TRACE' }), null)
    assert.equal(r.hit('/', { host: 'x', headers: ['location', 'invalid-location'] }), null)
    assert.equal(r.hit('/headers-host-uri-method', { host: 'domain-with-headers-1.org', headers: ['location', 'my-location-6'] }), null)
  })

  it('empty route fields ({} or null) are ignored', () => {
    for (const empty of [[], null] as Array<string[] | null>) {
      const r = routes([{ n: 101, methods: ['GET'], paths: ['/foo'], hosts: empty, snis: empty, headers: empty === null ? null : {} }])
      assert.equal(r.hit('/foo', { host: '' }), 101)
      assert.equal(r.hit('/foo', { host: 'x.test', scheme: 'https', sni: 'y.test' }), 101)
      const p = routes([{ n: 101, methods: ['GET'], paths: empty }])
      assert.equal(p.hit('/anything'), 101)
      assert.equal(p.hit('/anything', { method: 'POST' }), null)
    }
  })

  it('raw string: regex paths with `"`, `"#`, `\\\\` and `\\d`', () => {
    const r = routes([
      { n: 101, methods: ['GET'], paths: ['~/\\"/*$'] },
      { n: 102, methods: ['GET'], paths: ['~/\\"#/*$'] },
      { n: 103, methods: ['GET'], paths: ['~/\\\\/*$'] },
      { n: 104, methods: ['GET'], paths: ['~/\\d+'] },
    ])
    assert.equal(r.hit('/%22'), 101)
    assert.equal(r.size, 4)
    assert.equal(r.hit('/%22#'), 102) // a raw `#` (a %23 stays encoded: reserved)
    assert.equal(r.hit('/%22%23'), null)
    assert.equal(r.hit('/%5C'), 103)
    assert.equal(r.hit('/42'), 104)
  })

  it('select() vs exec(): a route path is not normalised, the request path is', () => {
    const r = routes([
      { n: 100, paths: ['/plain/a.b.c'] },
      { n: 101, paths: ['/plain/a.b%58c'] },
      { n: 102, paths: ['~/reg%65x/\\d+'] },
      { n: 104, paths: ['~/regex-reserved%2Fabc'] },
    ])
    assert.equal(r.hit('/plain/a.b.c'), 100)
    assert.equal(r.hit('/plain/a.bXc'), null)
    assert.equal(r.hit('/plain/a.b%58c'), null) // decoded to /plain/a.bXc before matching
    assert.equal(r.hit('/regex/123'), null)
    assert.equal(r.hit('/regex-reserved%2Fabc'), 104) // %2F is reserved: kept (upper-cased)
    assert.equal(r.hit('/regex-reserved%2fabc'), 104)
    assert.equal(r.hit('/regex-reserved/abc'), null)
  })
})
