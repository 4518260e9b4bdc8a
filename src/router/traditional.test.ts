import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { runConformance } from './router.conformance.ts'
import { buildRouter, type RouterOptions } from './traditional.ts'
import { entries, makeRoute, request, type RouteSpec } from './conformance-helpers.ts'
import { expandPathHandlingRows } from './path-handling.fixtures.ts'
import type { BuildRouter } from './types.ts'

runConformance('traditional', buildRouter)
runConformance('traditional (route_match_calculation=strict)', (e) => buildRouter(e, { matchCalculation: 'strict' }))

function hit (specs: RouteSpec[], path: string, host = 'domain.org', options?: RouterOptions): number | null {
  return buildRouter(entries(specs), options).match(request(path, { host }))?.payload ?? null
}

describe('traditional: path handling fixture (spec/fixtures/router_path_handling_tests.lua)', () => {
  // 08-router_spec "#slash handling": every row through the router, as a prefix route and as the
  // same path turned into a regex ("~/[0]?..."); v1 rows need the traditional flavor's v1 support
  for (const c of expandPathHandlingRows()) {
    const v1 = c.pathHandling === 'v1'
    const options: RouterOptions = { pathHandlingV1: v1 }
    const variants: Array<[string, string[] | null]> = [['plain', c.routePath === null ? null : [c.routePath]]]
    if (c.routePath !== null) variants.push(['regex', ['~/[0]?' + c.routePath.slice(1)]])
    for (const [kind, paths] of variants) {
      const title = `(${c.row}) ${kind}, service ${c.servicePath}, route ${paths?.[0] ?? 'host-only'}, ` +
        `strip ${c.stripPath}, ${c.pathHandling}, req ${c.requestPath} -> ${c.expectedPath}`
      it(title, () => {
        const router = buildRouter([{
          route: makeRoute(101, { hosts: ['localbin.com'], paths, strip_path: c.stripPath, path_handling: c.pathHandling }),
          servicePath: c.servicePath,
          payload: c.row,
        }], options)
        const m = router.match(request(c.requestPath, { host: 'localbin.com' }))
        assert.ok(m)
        assert.equal(m.upstreamPath, c.expectedPath)
      })
    }
  }
})

describe('traditional: options and Kong quirks', () => {
  it('atc.lua: path_handling v1 is ignored by traditional_compatible unless enabled', () => {
    const e = entries([{ n: 101, paths: ['/rou'], path_handling: 'v1', servicePath: '/srv' }])
    assert.equal(buildRouter(e).match(request('/roureq'))?.upstreamPath, '/srv/req')
    assert.equal(buildRouter(e, { pathHandlingV1: true }).match(request('/roureq'))?.upstreamPath, '/srvreq')
  })

  it('route_match_calculation=original: a plain-host route outranks one with more fields', () => {
    // transform.lua get_priority shifts match_weight with 32-bit bit.lshift (to bit 29), so
    // plain_host_only (bit 60) dominates; strict keeps match_weight on top
    const specs: RouteSpec[] = [{ n: 101, hosts: ['api.test'] }, { n: 102, methods: ['GET'], paths: ['/x'] }]
    assert.equal(hit(specs, '/x', 'api.test'), 101)
    assert.equal(hit(specs, '/x', 'api.test', { matchCalculation: 'strict' }), 102)
  })

  it('route_match_calculation=original: a regex path outranks a wildcard host + prefix path', () => {
    const specs: RouteSpec[] = [{ n: 101, hosts: ['*.api.test'], paths: ['/users'] }, { n: 102, paths: ['~/users'] }]
    assert.equal(hit(specs, '/users', 'a.api.test'), 102)
    assert.equal(hit(specs, '/users', 'a.api.test', { matchCalculation: 'strict' }), 101)
  })

  it('route_match_calculation=original: match_weight >= 4 collapses to the top bit', () => {
    // 4 << 29 is negative in 32 bits; LuaJIT turns it into 0x8000000000000000 on x86-64, so the
    // prefix length is lost too and the greater UUID wins
    const specs: RouteSpec[] = [
      { n: 101, hosts: ['*.api.test'], methods: ['GET'], paths: ['/a/longer'], headers: { x: ['1'] } },
      { n: 102, hosts: ['*.api.test'], methods: ['GET'], paths: ['/a'], headers: { x: ['1'] } },
    ]
    const req = request('/a/longer', { host: 'b.api.test', headers: ['x', '1'] })
    assert.equal(buildRouter(entries(specs)).match(req)?.payload, 102)
    assert.equal(buildRouter(entries(specs), { matchCalculation: 'strict' }).match(req)?.payload, 101)
  })

  it('routes of stream protocols are left out; unsupported fields are reported, not routed', () => {
    const router = buildRouter(entries([
      { n: 101, protocols: ['tcp'], snis: ['a.test'] },
      { n: 102, paths: ['/src'], sources: [{ ip: '10.0.0.0/8' }] },
      { n: 103, paths: ['~/(bad'] },
      { n: 104, hosts: [] },
      { n: 105, paths: ['/ok'] },
    ]))
    assert.equal(router.size, 1)
    assert.deepEqual(router.errors.map((e) => e.routeId.slice(-3)), ['102', '103', '104'])
    assert.equal(router.match(request('/src'))?.payload, undefined)
  })

  it('atc engine: captures of a matching ~* header regex join the uri captures', () => {
    const router = buildRouter(entries([{ n: 101, paths: ['/p'], headers: { 'x-v': ['~*v(\\d+)'] } }]))
    const m = router.match(request('/p', { headers: ['x-v', 'V42'] }))
    assert.deepEqual(m?.captures, { unnamed: ['v42', '42'], named: {} })
  })

  it('the router satisfies the BuildRouter seam', () => {
    const b: BuildRouter = buildRouter
    assert.equal(b(entries([{ n: 101, paths: ['/'] }])).size, 1)
  })
})
