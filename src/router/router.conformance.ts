/**
 * One suite of Kong routing cases, run against every Router (hono's common.case.test.ts idea).
 *
 * The cases port Kong 3.10's own assertions for the default `traditional_compatible` flavor;
 * each name cites its source: U = spec/01-unit/08-router_spec.lua, I =
 * spec/02-integration/05-proxy/02-router_spec.lua, T = kong/router/transform.lua, A =
 * kong/router/atc.lua, F = kong/router/fields.lua. Cases marked "Sluice" pin behaviour Kong's
 * schema makes unreachable there. Priority cases hold under both match calculations
 * (priority.ts); the cases where the two differ live in traditional.test.ts.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { BuildRouter } from './types.ts'
import { routes as makeRoutes, type RouteSpec } from './conformance-helpers.ts'

export interface ConformanceOptions {
  /** Case name -> reason it is skipped for this router. */
  skip?: Readonly<Record<string, string>>
}

export function runConformance (name: string, build: BuildRouter, options: ConformanceOptions = {}): void {
  const skip = options.skip ?? {}
  const test = (title: string, fn: () => void): void => {
    const reason = skip[title]
    if (reason !== undefined) it(title, { skip: reason }, fn)
    else it(title, fn)
  }
  const routes = (specs: RouteSpec[]) => makeRoutes(build, specs)

  describe(`${name}: Kong router conformance`, () => {
    describe('hosts', () => {
      const r = routes([
        { n: 101, hosts: ['domain-1.org', 'domain-2.org'] },
        { n: 103, paths: ['/my-route'] },
        { n: 113, hosts: ['domain-1.org:321', 'domain-2.org'] },
        { n: 114, hosts: ['domain-3.org:321'] },
      ])
      test('U [host] matches a plain host, any port', () => {
        assert.equal(r.hit('/', { host: 'domain-1.org' }), 101)
        assert.equal(r.hit('/', { host: 'domain-1.org:80' }), 101)
        assert.equal(r.hit('/', { host: 'domain-1.org:123' }), 101)
      })
      test('U [host] matches specific port (equal priority: greater UUID)', () => {
        assert.equal(r.hit('/', { host: 'domain-1.org:321' }), 113)
      })
      test('U [host] port-only route matches only that port', () => {
        assert.equal(r.hit('/', { host: 'domain-3.org:321' }), 114)
        assert.equal(r.hit('/', { host: 'domain-3.org:123' }), null)
      })
      test('F net.dst.port is the listener port when the Host header has none', () => {
        assert.equal(r.hit('/', { host: 'domain-3.org', port: 321 }), 114)
        assert.equal(r.hit('/', { host: 'domain-3.org', port: 8000 }), null)
      })
      test('U [uri + empty host] a request without Host matches host-less routes only', () => {
        assert.equal(r.hit('/my-route-uri', { host: '' }), 103)
        assert.equal(r.hit('/', { host: '' }), null)
      })
      test('T hosts compare exactly (no lowercasing)', () => {
        assert.equal(r.hit('/', { host: 'DOMAIN-1.org' }), null)
      })
      test('T a non-numeric port is part of the host', () => {
        assert.equal(r.hit('/', { host: 'domain-1.org:80b' }), null)
      })
    })

    describe('wildcard hosts', () => {
      const specs: RouteSpec[] = [{ n: 101, hosts: ['*.route.com'] }, { n: 102, hosts: ['route.*'] }]
      const r = routes(specs)
      test('U [wildcard host] matches leftmost wildcards, any port', () => {
        assert.equal(r.hit('/', { host: 'foo.route.com' }), 101)
        assert.equal(r.hit('/', { host: 'foo.bar.route.com:123' }), 101)
      })
      test('U [wildcard host] matches rightmost wildcards, any port', () => {
        assert.equal(r.hit('/', { host: 'route.org' }), 102)
        assert.equal(r.hit('/', { host: 'route.org:123' }), 102)
        assert.equal(r.hit('/', { host: 'xroute.org' }), null)
      })
      test('U [wildcard host] matches port-specific routes', () => {
        const p = routes([...specs, { n: 103, hosts: ['*.route.net:123'] }, { n: 104, hosts: ['route.*:123'] }])
        assert.equal(p.hit('/', { host: 'foo.route.net:123' }), 103)
        assert.equal(p.hit('/', { host: 'foo.route.net:456' }), null)
        assert.equal(p.hit('/', { host: 'route.org:123' }), 104)
      })
      test('U [wildcard host] does not take precedence over a plain host', () => {
        const p = routes([{ n: 103, hosts: ['plain.route.com'] }, ...specs, { n: 104, hosts: ['route.com'] }])
        assert.equal(p.hit('/', { host: 'route.com' }), 104)
        assert.equal(p.hit('/', { host: 'route.org' }), 102)
        assert.equal(p.hit('/', { host: 'plain.route.com' }), 103)
        assert.equal(p.hit('/', { host: 'foo.route.com' }), 101)
      })
      test('U matches [wildcard/plain + uri + method]', () => {
        const p = routes([{ n: 101, hosts: ['*.domain.com', 'example.com'], paths: ['/path'], methods: ['GET', 'TRACE'] }])
        assert.equal(p.hit('/path', { method: 'POST', host: 'foo.domain.com' }), null)
        assert.equal(p.hit('/path', { host: 'foo.domain.com' }), 101)
        assert.equal(p.hit('/path', { method: 'TRACE', host: 'example.com' }), 101)
      })
    })

    describe('paths', () => {
      test('T prefix paths are plain string prefixes, not segment-aware', () => {
        const r = routes([{ n: 103, paths: ['/my-route'] }])
        assert.equal(r.hit('/my-route/some/path'), 103)
        assert.equal(r.hit('/my-routeXYZ'), 103)
        assert.equal(r.hit('/my-rout'), null)
      })
      test('U [uri prefix] does not supersede another route with a longer [uri]', () => {
        const r = routes([{ n: 101, paths: ['/my-route/hello'] }, { n: 102, paths: ['/my-route'] }])
        assert.equal(r.hit('/my-route/hello'), 101)
        assert.equal(r.hit('/my-route/hello/world'), 101)
        assert.equal(r.hit('/my-route'), 102)
        assert.equal(r.hit('/my-route/world'), 102)
      })
      test('U [uri prefix] longer [uri] wins while [hosts] are also defined', () => {
        const r = routes([
          { n: 101, hosts: ['domain.org'], paths: ['/my-route'] },
          { n: 102, hosts: ['domain.org'], paths: ['/my-route/hello'] },
        ])
        assert.equal(r.hit('/my-route/hello/world'), 102)
        assert.equal(r.hit('/my-route/world'), 101)
      })
      test('U only matches [uri prefix] as a prefix (anchored mode)', () => {
        const r = routes([{ n: 101, paths: ['/something/my-route'] }, { n: 102, hosts: ['example.com'], paths: ['/my-route'] }])
        assert.equal(r.hit('/something/my-route', { host: 'example.com' }), 101)
      })
      test('U matches a [uri regex] even if a [prefix uri] got a match', () => {
        const r = routes([{ n: 101, paths: ['/route/persons'] }, { n: 102, paths: ['~/route/persons/\\d+/profile'] }])
        assert.equal(r.hit('/route/persons/123/profile'), 102)
        assert.equal(r.hit('/route/persons/123'), 101)
      })
      test('U matches a [uri regex] even if a [uri] got an exact match', () => {
        const r = routes([{ n: 101, paths: ['/route/fixture'] }, { n: 102, paths: ['~/route/(fixture)'] }])
        assert.equal(r.hit('/route/fixture'), 102)
      })
      test('U matches a [uri regex + host] even if a [prefix uri] got a match', () => {
        const r = routes([
          { n: 101, hosts: ['route.com'], paths: ['/pat'] },
          { n: 102, hosts: ['route.com'], paths: ['/path'], methods: ['POST'] },
          { n: 103, hosts: ['route.com'], paths: ['~/(path)'] },
        ])
        assert.equal(r.hit('/path', { host: 'route.com' }), 103)
      })
      test('U matches the right route when several ones have a [uri regex]', () => {
        const r = routes([
          { n: 101, paths: ['~/route/persons/\\d{3}'] },
          { n: 102, paths: ['~/route/persons/\\d{3}/following'] },
          { n: 103, paths: ['~/route/persons/\\d{3}/[a-z]+'] },
        ])
        assert.equal(r.hit('/route/persons/456'), 101)
      })
      test('U matches from the beginning of the request URI [uri regex]', () => {
        const r = routes([{ n: 101, paths: ['~/prefix/[0-9]+'] }])
        assert.equal(r.hit('/prefix/123'), 101)
        assert.equal(r.hit('/extra/prefix/123'), null)
      })
      test('U [wildcard host] + [uri regex] matches', () => {
        const r = routes([
          { n: 101, hosts: ['*.example.com'], paths: ['~/users/\\d+/profile'] },
          { n: 102, hosts: ['*.example.com'], paths: ['/users'] },
        ])
        assert.equal(r.hit('/users/123/profile', { host: 'test.example.com' }), 101)
        assert.equal(r.hit('/users', { host: 'test.example.com' }), 102)
      })
      test('I depends on the regex_priority field', () => {
        const r = routes([
          { n: 101, paths: ['~/status/(?P<foo>re)'], regex_priority: 0 },
          { n: 102, paths: ['~/status/(re)'], regex_priority: 4 },
        ])
        assert.equal(r.hit('/status/re'), 102)
      })
      test('T split_routes_and_services_by_path: each path length gets its own priority', () => {
        const r = routes([{ n: 101, paths: ['/a', '/bbbbbbb'] }, { n: 102, paths: ['/a/bb'] }])
        assert.equal(r.hit('/a/bb/foobar'), 102)
        assert.equal(r.hit('/a/b'), 101)
        assert.equal(r.hit('/bbbbbbb/x'), 101)
        assert.equal(r.size, 3)
      })
      test('T split routes: a regex path outranks the same route\'s prefix paths', () => {
        const r = routes([{ n: 101, paths: ['/users', '~/users/\\d+'], strip_path: true }, { n: 102, paths: ['/users/1'] }])
        assert.equal(r.hit('/users/12'), 101)
        assert.equal(r.match('/users/12')?.strippedPrefix, '/users/12')
        assert.equal(r.hit('/users/x'), 101)
        assert.equal(r.match('/users/x')?.strippedPrefix, '/users')
      })
      test('Sluice: a regex JS cannot compile is skipped; the route\'s other paths and other routes work', () => {
        const r = routes([
          { n: 101, paths: ['~/(unclosed', '~/ok'] }, { n: 102, paths: ['~/(also-bad'] }, { n: 103, paths: ['/x'] },
        ])
        assert.equal(r.hit('/ok'), 101)
        assert.equal(r.hit('/(unclosed'), null)
        assert.equal(r.hit('/x'), 103)
        assert.equal(r.hit('/'), null)
      })
    })

    describe('priority', () => {
      const r = routes([
        { n: 101, hosts: ['domain-1.org', 'domain-2.org'] },
        { n: 102, methods: ['TRACE'] },
        { n: 103, paths: ['/my-route'] },
        { n: 104, hosts: ['domain-1.org', 'domain-2.org'], paths: ['/route-4'] },
        { n: 105, hosts: ['domain-1.org', 'domain-2.org'], methods: ['POST', 'PUT', 'PATCH'] },
        { n: 106, methods: ['POST', 'PUT', 'PATCH'], paths: ['/route-6'] },
        { n: 107, hosts: ['domain-with-uri-1.org'], methods: ['POST', 'PUT', 'PATCH'], paths: ['/my-route-uri'] },
      ])
      test('U [host] and [uri] have higher priority than [method]', () => {
        assert.equal(r.hit('/', { method: 'TRACE', host: 'domain-2.org' }), 101)
        assert.equal(r.hit('/my-route', { method: 'TRACE' }), 103)
        assert.equal(r.hit('/', { method: 'TRACE' }), 102)
      })
      test('U [host + uri], [host + method], [uri + method], [host + uri + method]', () => {
        assert.equal(r.hit('/route-4', { host: 'domain-1.org' }), 104)
        assert.equal(r.hit('/', { method: 'POST', host: 'domain-1.org' }), 105)
        assert.equal(r.hit('/route-6', { method: 'PUT' }), 106)
        assert.equal(r.hit('/my-route-uri', { method: 'PUT', host: 'domain-with-uri-1.org' }), 107)
      })
      test('kong.md 2.2: a host + path route beats a path-only route with a longer path', () => {
        const p = routes([{ n: 101, paths: ['/root/fixture/get'] }, { n: 102, hosts: ['ahost.test'], paths: ['/root'] }])
        assert.equal(p.hit('/root/fixture/get', { host: 'ahost.test' }), 102)
        assert.equal(p.hit('/root/fixture/get', { host: 'other.test' }), 101)
      })
      test('U half [uri] and [host] match does not supersede another route', () => {
        const p = routes([{ n: 101, hosts: ['host1.com'], paths: ['/v1/path'] }, { n: 102, hosts: ['host2.com'], paths: ['/'] }])
        assert.equal(p.hit('/v1/path', { host: 'host1.com' }), 101)
        assert.equal(p.hit('/v1/path', { host: 'host2.com' }), 102)
      })
      test('U half [uri regex] and [method] match does not supersede another route', () => {
        const p = routes([
          { n: 101, methods: ['GET'], paths: ['~/users/\\d+/profile'] },
          { n: 102, methods: ['POST'], paths: ['~/users/\\d*/profile'] },
        ])
        assert.equal(p.hit('/users/123/profile'), 101)
        assert.equal(p.hit('/users/123/profile', { method: 'POST' }), 102)
      })
      test('U [method] does not supersede [uri prefix] nor [wildcard host]', () => {
        const p = routes([{ n: 101, methods: ['GET'] }, { n: 102, paths: ['/example'] }, { n: 103, hosts: ['domain.*'] }])
        assert.equal(p.hit('/example/status/200', { host: 'nothing.com' }), 102)
        assert.equal(p.hit('/', { host: 'domain.com' }), 103)
        assert.equal(p.hit('/', { host: 'nothing.com' }), 101)
      })
      test('U root / [uri] acts as a catch-all and does not supersede another route', () => {
        const p = routes([{ n: 115, paths: ['/'] }, { n: 103, paths: ['/my-route'] }])
        assert.equal(p.hit('/my-route/hello/world'), 103)
        assert.equal(p.hit('/foobar/baz'), 115)
      })
      test('U evaluates Routes with more [headers] first', () => {
        const p = routes([
          { n: 101, headers: { version: ['v1', 'v2'], user_agent: ['foo', 'bar'] } },
          { n: 102, headers: { version: ['v1', 'v2'], user_agent: ['foo', 'bar'], location: ['east', 'west'] } },
        ])
        const headers = ['version', 'v1', 'user-agent', 'foo', 'location', 'north', 'location', 'west']
        assert.equal(p.hit('/', { headers }), 102)
        assert.equal(p.hit('/', { headers: headers.slice(0, 6) }), 101)
      })
      test('U more [headers] has priority over longer [paths]', () => {
        const p = routes([
          { n: 101, headers: { version: ['v1'] }, paths: ['/my-route/hello'] },
          { n: 102, headers: { version: ['v1'], location: ['us-east'] }, paths: ['/my-route'] },
        ])
        assert.equal(p.hit('/my-route/hello', { headers: ['version', 'v1', 'location', 'us-east'] }), 102)
      })
      test('I prioritizes longer paths if same number of headers', () => {
        const p = routes([
          { n: 101, headers: { version: ['v1'] }, paths: ['/my-route'] },
          { n: 102, headers: { version: ['v1'] }, paths: ['/my-route/hello'] },
        ])
        assert.equal(p.hit('/my-route/hello', { headers: ['version', 'v1'] }), 102)
      })
      test('kong.md 2.1 (atc-router router.rs): equal priority goes to the greater UUID', () => {
        const same = { hosts: ['domain.org'], paths: ['/my-uri'] }
        const p = routes([{ n: 111, ...same }, { n: 121, ...same }, { n: 115, ...same }])
        assert.equal(p.hit('/my-uri'), 121)
      })
    })

    describe('methods and headers', () => {
      const r = routes([
        { n: 109, headers: { location: ['my-location-1', 'my-location-2'] } },
        { n: 110, headers: { location: ['my-location-1'], version: ['v1', 'v2'] } },
        { n: 115, headers: { user_agent: ['~*windows|linux|os\\s+x\\s*[\\d\\._]+|solaris|bsd'] } },
      ])
      test('U single [headers] value, any of the request values', () => {
        assert.equal(r.hit('/', { headers: ['location', 'my-location-2'] }), 109)
        assert.equal(r.hit('/', { headers: ['location', 'my-location-3', 'location', 'my-location-2'] }), 109)
        assert.equal(r.hit('/', { headers: ['location', 'my-location-3'] }), null)
      })
      test('U multiple [headers] values, with fallback to the one-header route', () => {
        assert.equal(r.hit('/', { headers: ['location', 'my-location-1', 'version', 'v2'] }), 110)
        assert.equal(r.hit('/', { headers: ['location', 'my-location-2', 'version', 'v2'] }), 109)
      })
      test('U [headers] regex value (~*) matches case-insensitively, unanchored', () => {
        const ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0'
        assert.equal(r.hit('/', { headers: ['user-agent', ua] }), 115)
        assert.equal(r.hit('/', { headers: ['user-agent', 'curl/8.0'] }), null)
      })
      test('U [headers] names are case-insensitive (`_` reads as `-`)', () => {
        const p = routes([{ n: 101, headers: { USER_AGENT: ['foo', 'bar'] } }, { n: 102, headers: { 'User-Agent': ['baz'] } }])
        assert.equal(p.hit('/', { headers: ['user-agent', 'foo'] }), 101)
        assert.equal(p.hit('/', { headers: ['user-agent', 'baz'] }), 102)
      })
      test('U [headers] matches values in a case-insensitive way', () => {
        const p = routes([{ n: 101, headers: { user_agent: ['foo', 'bar'] } }, { n: 102, headers: { user_agent: ['BAZ'] } }])
        assert.equal(p.hit('/', { headers: ['user-agent', 'FOO'] }), 101)
        assert.equal(p.hit('/', { headers: ['user-agent', 'baz'] }), 102)
      })
      test('I restricts a route to its methods if specified', () => {
        const p = routes([{ n: 101, paths: ['/get'], methods: ['GET'] }])
        assert.equal(p.hit('/get'), 101)
        assert.equal(p.hit('/get', { method: 'POST' }), null)
        assert.equal(p.hit('/get', { method: 'get' }), null)
      })
    })

    describe('snis', () => {
      const r = routes([{ n: 101, snis: ['*.sni.test'] }, { n: 102, snis: ['sni.*'] }, { n: 103, snis: ['exact.test.'] }])
      test('U [wildcard sni] matches leftmost and rightmost wildcards over https', () => {
        for (const sni of ['foo.sni.test', 'foo.bar.sni.test']) assert.equal(r.hit('/', { scheme: 'https', sni }), 101)
        for (const sni of ['sni.foo', 'sni.foo.bar']) assert.equal(r.hit('/', { scheme: 'https', sni }), 102)
        assert.equal(r.hit('/', { scheme: 'https', sni: 'exact.test' }), 103)
      })
      test('U [wildcard sni] does not match other names', () => {
        for (const sni of ['bar.sni.foo', 'foo.sni.test.bar']) assert.equal(r.hit('/', { scheme: 'https', sni }), null)
        assert.equal(r.hit('/', { scheme: 'https', sni: null }), null)
      })
      test('T (#6425) snis are not enforced when the request is not https', () => {
        assert.notEqual(r.hit('/', { scheme: 'http', sni: null }), null)
      })
    })

    describe('path normalisation and re-escaping', () => {
      const r = routes([
        { n: 101, paths: ['/foo/bar'] },
        { n: 102, paths: ['/hello'] },
        { n: 103, paths: ['/anything/world'], strip_path: false },
        { n: 104, paths: ['/endel%2Fst'], strip_path: false },
      ])
      test('I matches against normalized URI with "..", "//", "/./" and percent-encoding', () => {
        assert.equal(r.hit('/foo/a/../bar'), 101)
        assert.equal(r.hit('/foo//bar'), 101)
        assert.equal(r.hit('/foo/./bar'), 101)
        assert.equal(r.hit('/h%65llo'), 102)
        assert.equal(r.hit('/foo/bar%2E%2E/x'), 101)
      })
      test('I proxies the normalized URI (strip_path true and false)', () => {
        assert.equal(r.match('/h%65llo/anything/a/../b')?.upstreamPath, '/anything/b')
        assert.equal(r.match('/anything/./a/../wor%6cd/a/../b')?.upstreamPath, '/anything/world/b')
      })
      test('I re-encodes special characters in the request uri', () => {
        assert.equal(r.match('/anything/world/cat%20and%20dog')?.upstreamPath, '/anything/world/cat%20and%20dog')
      })
      test('U allows url encoded paths if they are reserved characters', () => {
        assert.equal(r.hit('/endel%2Fst'), 104)
        assert.equal(r.match('/endel%2fst')?.upstreamPath, '/endel%2Fst')
        assert.equal(r.hit('/endel/st'), null)
      })
      test('U works with special characters (\'"\', \'\\\')', () => {
        const p = routes([{ n: 101, paths: ['/\\d'], strip_path: false }, { n: 102, paths: ['~/\\d+"'], strip_path: false }])
        assert.equal(p.match('/\\d')?.payload, 101)
        assert.equal(p.match('/\\d')?.upstreamPath, '/%5Cd')
        assert.equal(p.match('/123"')?.payload, 102)
        assert.equal(p.match('/123"')?.upstreamPath, '/123%22')
      })
      test('U gracefully handles invalid utf-8 sequences (no match)', () => {
        const p = routes([{ n: 101, paths: ['/'] }])
        assert.equal(p.hit('/%FC%80%80%80%80%AF'), null)
        assert.equal(p.hit('/caf%C3%A9'), 101)
      })
    })

    describe('strip_path and captures', () => {
      const r = routes([
        { n: 101, paths: ['/my-route', '/xx-route'], strip_path: true },
        { n: 102, methods: ['POST'], paths: ['/my-route', '/xx-route'], strip_path: false },
      ])
      test('U strips the specified paths from the given uri if matching', () => {
        const m = r.match('/my-route/hello/world')
        assert.ok(m)
        assert.equal(m.payload, 101)
        assert.equal(m.strippedPrefix, '/my-route')
        assert.equal(m.upstreamPath, '/hello/world')
        assert.equal(r.match('/xx-route')?.upstreamPath, '/')
        assert.equal(r.match('/xx-route')?.strippedPrefix, '/xx-route')
      })
      test('U doesn\'t strip if strip_path is not enabled', () => {
        const m = r.match('/my-route/hello/world', { method: 'POST' })
        assert.ok(m)
        assert.equal(m.payload, 102)
        assert.equal(m.strippedPrefix, null)
        assert.equal(m.upstreamPath, '/my-route/hello/world')
      })
      test('U does not strip root / URI (and sends no X-Forwarded-Prefix)', () => {
        const m = routes([{ n: 101, paths: ['/'], strip_path: true }]).match('/my-route/hello/world')
        assert.ok(m)
        assert.equal(m.upstreamPath, '/my-route/hello/world')
        assert.equal(m.strippedPrefix, null)
      })
      test('U strips a [uri regex], with or without a capture group', () => {
        for (const path of ['~/users/\\d+/profile', '~/users/(\\d+)/profile']) {
          const m = routes([{ n: 101, paths: [path] }]).match('/users/123/profile/hello/world')
          assert.ok(m)
          assert.equal(m.strippedPrefix, '/users/123/profile')
          assert.equal(m.upstreamPath, '/hello/world')
        }
      })
      test('U returns uri_captures from a [uri regex]', () => {
        const p = routes([{ n: 101, paths: ['~/users/(?P<user_id>\\d+)/profile/?(?P<scope>[a-z]*)'] }])
        const m = p.match('/users/1984/profile')
        assert.deepEqual(m?.captures, { unnamed: ['/users/1984/profile', '1984', ''], named: { user_id: '1984', scope: '' } })
        assert.deepEqual(p.match('/users/1984/profile/email')?.captures?.named, { user_id: '1984', scope: 'email' })
      })
      test('U uri_captures works with an optional capture group (#13014)', () => {
        const m = routes([{ n: 101, paths: ['~/(users/)?1984/(?<subpath>profile)$'] }]).match('/1984/profile')
        assert.equal(m?.captures?.unnamed[1] || null, null)
        assert.equal(m?.captures?.named.subpath, 'profile')
        assert.equal(m?.captures?.named.scope, undefined)
      })
      test('U returns uri_captures normalized (#7913)', () => {
        const p = routes([{ n: 101, paths: ['~/users/(?P<fullname>[a-zA-Z\\s\\d%]+)/profile/?(?P<scope>[a-z]*)'] }])
        const m = p.match('/users/%6aohn%20doe/profile')
        assert.equal(m?.captures?.named.fullname, 'john doe')
        assert.equal(m?.captures?.unnamed[0], '/users/john doe/profile')
      })
      test('U returns no uri_captures from a [uri prefix] match, nor from a regex without groups', () => {
        const p = routes([{ n: 101, paths: ['/hello'] }, { n: 102, paths: ['~/users/\\d+/profile'] }])
        assert.equal(p.match('/hello/world')?.upstreamPath, '/world')
        assert.equal(p.match('/hello/world')?.captures, null)
        assert.equal(p.match('/users/1984/profile')?.captures, null)
      })
    })
  })
}
