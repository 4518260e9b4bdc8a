/**
 * Differential test: the indexed router must answer exactly what a naive scan of all matchers in
 * evaluation order answers, over thousands of random routes and requests (fixed seeds).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { compileEntries, splitHostPort, type Matcher, type RouterOptions } from './compile.ts'
import { headersMatch, hostMatches, methodMatches, sniMatches } from './predicates.ts'
import { buildMatch } from './result.ts'
import { buildRouter } from './traditional.ts'
import { normalizePath } from './uri.ts'
import { makeRoute, request } from './conformance-helpers.ts'
import type { MatchInput, RouteMatch, RouterEntry } from './types.ts'

function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The reference: every matcher in rank order, every predicate tested directly. */
function naiveMatch<T> (matchers: readonly Matcher<T>[], input: MatchInput): RouteMatch<T> | null {
  const path = normalizePath(input.path)
  if (path === null) return null
  const [hostPart, hostPort] = splitHostPort(input.host)
  const port = hostPort >= 0 ? hostPort : input.port
  for (const m of matchers) {
    if (m.hosts !== null && (input.host === '' || !hostMatches(m.hosts, hostPart, hostPart.length, port))) continue
    if (m.methods !== null && !methodMatches(m.methods, input.method)) continue
    if (m.snis !== null && !sniMatches(m.snis, input.scheme, input.sni)) continue
    if (m.headers !== null && !headersMatch(m.headers, input.headers)) continue
    let prefix: string | null = null
    let exec: RegExpExecArray | null = null
    if (m.prefixes !== null) {
      prefix = m.prefixes.find((p) => path.startsWith(p)) ?? null
      if (prefix === null) continue
    } else if (m.regexes !== null) {
      for (const r of m.regexes) { exec = r.re.exec(path); if (exec !== null) break }
      if (exec === null) continue
    }
    return buildMatch(m, prefix, exec, path, input.headers, false)
  }
  return null
}

function pick<V> (rnd: () => number, values: readonly V[]): V {
  return values[Math.floor(rnd() * values.length)]!
}

const HOSTS = ['a.test', 'b.test', 'c.test', 'a.test:8000', 'b.test:8443', '*.w.test', '*.x.w.test', 'p.*',
  'p.q.*', '*.w.test:8000', 'A.test', '*odd.test', 'odd*']
const PREFIXES = ['/', '/a', '/ab', '/a/b', '/api', '/api/v1', '/api/v1/users', '/u', '/users', '/a%2Fb', '/é']
const REGEXES = ['~/users/\\d+', '~/api/(v\\d)/items', '~/a.*', '~/(?P<x>[a-z]+)/z', '~/u|/a', '~(?i)/API',
  '~/[0]?a', '~/(bad', '~/api/(?<ver>v\\d+)?', '~/users/(\\d+)/(?P<tab>\\w*)']
const HEADER_VALUES = ['1', '2', 'Yes', '~*^v\\d', '~*(no)']

function randomRoutes (rnd: () => number, n: number, wide = false): RouterEntry<string>[] {
  const out: RouterEntry<string>[] = []
  for (let i = 0; i < n; i++) {
    const id = Array.from({ length: 32 }, () => pick(rnd, [...'0123456789abcdef'])).join('')
    const uuid = `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`
    const paths: string[] = []
    if (rnd() < 0.75) {
      const count = 1 + Math.floor(rnd() * 3)
      for (let k = 0; k < count; k++) {
        if (wide && rnd() < 0.6) paths.push(`/api/v1/users/${Math.floor(rnd() * 400)}`)
        else if (rnd() < 0.7) paths.push(pick(rnd, PREFIXES) + (rnd() < 0.3 ? pick(rnd, ['/x', 'y', '/z/']) : ''))
        else paths.push(pick(rnd, REGEXES))
      }
    }
    const route = makeRoute(0, {
      id: uuid,
      hosts: rnd() < 0.5 ? [pick(rnd, HOSTS), ...(rnd() < 0.3 ? [pick(rnd, HOSTS)] : [])] : null,
      paths: paths.length > 0 ? [...new Set(paths)] : null,
      methods: rnd() < 0.3 ? pick(rnd, [['GET'], ['GET', 'POST'], ['PUT']]) : null,
      headers: rnd() < 0.2 ? { [pick(rnd, ['x-a', 'X_A', 'x-b'])]: [pick(rnd, HEADER_VALUES), pick(rnd, HEADER_VALUES)] } : null,
      snis: rnd() < 0.1 ? [pick(rnd, ['s.test', '*.s.test', 's.*'])] : null,
      regex_priority: Math.floor(rnd() * 8) - 2,
      strip_path: rnd() < 0.5,
      path_handling: rnd() < 0.2 ? 'v1' : 'v0',
    })
    if (route.hosts === null && route.paths === null && route.methods === null && route.headers === null) route.paths = ['/']
    out.push({ route, servicePath: pick(rnd, ['/', '/s', '/s/', null]), payload: uuid })
  }
  return out
}

function randomRequest (rnd: () => number, wide = false): MatchInput {
  let path = wide && rnd() < 0.5 ? `/api/v1/users/${Math.floor(rnd() * 450)}` : ''
  const segments = 1 + Math.floor(rnd() * 4)
  for (let i = 0; i < segments; i++) {
    path += pick(rnd, ['/a', '/ab', '/b', '/api', '/v1', '/v2', '/users', '/123', '/items', '/z', '/API', '/u',
      '/.', '/..', '//', '/%61', '%2F', '/%2E%2E', '/x y', '/%C3%A9', '/é', '/%FF'])
  }
  return request(path, {
    method: pick(rnd, ['GET', 'POST', 'PUT']),
    host: pick(rnd, ['a.test', 'b.test', 'c.test', 'a.test:8000', 'b.test:8443', 'q.w.test', 'q.x.w.test',
      'w.test', 'p.org', 'p.q.org', 'A.test', 'zodd.test', 'oddity', '', 'a.test:80x', 'q.w.test:8000']),
    headers: rnd() < 0.4 ? [pick(rnd, ['x-a', 'x-b']), pick(rnd, ['1', '2', 'YES', 'V7', 'no', 'No'])] : [],
    scheme: rnd() < 0.3 ? 'https' : 'http',
    sni: rnd() < 0.5 ? pick(rnd, ['s.test', 'a.s.test', 's.org']) : null,
    port: pick(rnd, [8000, 8443]),
  })
}

describe('traditional: indexed lookup equals a naive priority-ordered scan', () => {
  const cases: Array<[string, RouterOptions, number, boolean]> = [
    ['original', {}, 20240601, false],
    ['strict', { matchCalculation: 'strict' }, 7, false],
    ['original + v1', { pathHandlingV1: true }, 99, false],
    ['original, many distinct prefixes (Bloom-filtered indexes)', {}, 4242, true],
  ]
  for (const [label, options, seed, wide] of cases) {
    it(`${label}: 3000 random routes x 4000 random requests (seed ${seed})`, () => {
      const rnd = prng(seed)
      const entries = randomRoutes(rnd, 3000, wide)
      const router = buildRouter(entries, options)
      const { matchers } = compileEntries(entries, options)
      let matched = 0
      for (let i = 0; i < 4000; i++) {
        const input = randomRequest(rnd, wide)
        const expected = naiveMatch(matchers, input)
        const got = router.match(input)
        if (got !== null) matched++
        assert.deepEqual(got && { ...got, route: got.route.id }, expected && { ...expected, route: expected.route.id },
          JSON.stringify(input))
      }
      assert.ok(matched > 2000, `only ${matched} requests matched: the generator is too sparse`)
    })
  }

  it('small route sets hit the edge cases (many seeds)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = prng(seed)
      const entries = randomRoutes(rnd, 1 + Math.floor(rnd() * 12))
      const router = buildRouter(entries)
      const { matchers } = compileEntries(entries)
      for (let i = 0; i < 50; i++) {
        const input = randomRequest(rnd)
        const expected = naiveMatch(matchers, input)
        const got = router.match(input)
        assert.equal(got?.payload ?? null, expected?.payload ?? null, `seed ${seed}: ${JSON.stringify(input)}`)
        assert.equal(got?.upstreamPath, expected?.upstreamPath)
      }
    }
  })
})
