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
import { prng, randomRequest, randomRoutes } from './random-routes.fixture.ts'
import type { MatchInput, RouteMatch } from './types.ts'

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
