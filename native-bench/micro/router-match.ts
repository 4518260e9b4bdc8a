/**
 * Router match at 10,000 routes (issue 3: "router match median under 1 microsecond").
 *
 *   node --expose-gc --import tsx native-bench/micro/router-match.ts [--routes 10000]
 *
 * `buildRouter` (src/router/traditional.ts) over the mixed configuration of micro/routes.ts, each
 * call matching the next of 1,024 pre-built requests (so caches and branch predictors see a spread
 * of routes, as under real traffic):
 * - baseline: one `Map.get` on a 10,000-entry Map keyed by host + path (the least a lookup costs);
 * - the same router built from one route (`/`): scenario (a)'s lookup;
 * - 10,000 routes: a mix of every kind, then each kind alone, then misses (404): the router's own
 *   work, with its match cache turned off (matchCacheSize 0);
 * - the match cache (src/router/match-cache.ts, default on): the mixed 1,024 requests again (all
 *   hits after the first round), one route, and 65,536 distinct paths cycled (more than the cache
 *   holds: every call a miss, so the row is the probe plus the cache's own cost).
 * Every request is checked to match the route it was made for before anything is timed.
 */
import { buildRouter } from '../../src/router/traditional.ts'
import type { MatchInput, RouterEntry } from '../../src/router/types.ts'
import { bench, engine, isMain, newResult, save, sink, type MicroResult } from './harness.ts'
import { KINDS, buildConfig, missFor, random, requestFor, routeRow, sampleRoutes } from './routes.ts'

const N_INPUTS = 1024

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}

export async function run (routes = arg('routes', 10_000)): Promise<MicroResult> {
  const result = newResult('router-match', `Router match at ${routes} routes (src/router/traditional.ts buildRouter)`, await engine())
  const rows = result.rows
  const config = buildConfig(routes)
  const entries: Array<RouterEntry<number>> = config.routes.map((route, i) => ({ route, servicePath: null, payload: i }))

  const t0 = performance.now()
  const router = buildRouter(entries, { matchCacheSize: 0 })
  const cachedRouter = buildRouter(entries)
  result.facts['build ms'] = Number((performance.now() - t0).toFixed(1))
  result.facts.routes = routes
  result.facts['compiled matchers'] = router.size
  result.facts['routes left out at build'] = router.errors.length

  const oneEntry = [{ route: { ...routeRow(0, null), hosts: null, paths: ['/'] }, servicePath: null, payload: 0 }]
  const one = buildRouter(oneEntry, { matchCacheSize: 0 })
  const oneCached = buildRouter(oneEntry)

  // Inputs, checked against the route each was made for.
  const mixed = sampleRoutes(routes, -1, N_INPUTS, 1)
  const perKind = KINDS.map((_, k) => sampleRoutes(routes, k, N_INPUTS, 10 + k))
  let wrong = 0
  const check = (idx: readonly number[]): MatchInput[] => idx.map((i) => {
    const input = requestFor(i)
    if (router.match(input)?.payload !== i) wrong++
    return input
  })
  const mixedInputs = check(mixed)
  const kindInputs = perKind.map(check)
  const missInputs = Array.from({ length: N_INPUTS }, (_, i) => missFor(i))
  for (const m of missInputs) if (router.match(m) !== null) wrong++
  result.facts['inputs that matched another route'] = wrong
  if (wrong > 0) process.stdout.write(`warning: ${wrong} inputs did not match the route they were made for\n`)

  const map = new Map<string, number>()
  for (let i = 0; i < routes; i++) { const r = requestFor(i); map.set(r.host + r.path, i) }
  const rnd = random(7)
  const keys = Array.from({ length: N_INPUTS }, () => { const r = requestFor(Math.floor(rnd() * routes)); return r.host + r.path })
  const scenarioA: MatchInput = { method: 'GET', host: '127.0.0.1:8000', path: '/hello', headers: ['host', '127.0.0.1:8000', 'user-agent', 'wrk/4.1'], scheme: 'http', sni: null, port: 8000 }

  const M = N_INPUTS - 1
  let k = 0
  const g = 'match'
  await bench(rows, g, `Map.get, ${routes} keys`, () => { sink(map.get(keys[k++ & M]!)) }, true)
  await bench(rows, g, 'router, 1 route (scenario a)', () => { sink(one.match(scenarioA)) })
  await bench(rows, g, `router, ${routes} routes, mixed kinds`, () => { sink(router.match(mixedInputs[k++ & M]!)) })
  for (let kind = 0; kind < KINDS.length; kind++) {
    const inputs = kindInputs[kind]!
    await bench(rows, g, `router, ${routes} routes, ${KINDS[kind]}`, () => { sink(router.match(inputs[k++ & M]!)) })
  }
  await bench(rows, g, `router, ${routes} routes, miss (404)`, () => { sink(router.match(missInputs[k++ & M]!)) })

  // The match cache. Distinct inputs: the mixed requests with a varying last path segment, where
  // the route is a prefix or regex that still matches it (hosts with /anything, and headers
  // routes, keep their one path: they are cycled as they are).
  const U = 65_536
  const unique: MatchInput[] = Array.from({ length: U }, (_, i) => {
    const base = mixedInputs[i & M]!
    const slash = base.path.lastIndexOf('/')
    return /\d$/.test(base.path) ? { ...base, path: `${base.path.slice(0, slash + 1)}${100000 + i}` } : base
  })
  const c = 'match cache'
  await bench(rows, c, 'cached router, 1 route (scenario a)', () => { sink(oneCached.match(scenarioA)) })
  await bench(rows, c, `cached router, ${routes} routes, mixed kinds (1,024 requests: hits)`, () => { sink(cachedRouter.match(mixedInputs[k++ & M]!)) })
  let u = 0
  await bench(rows, c, `router (no cache), ${routes} routes, the same 65,536 distinct paths`, () => { sink(router.match(unique[u++ & (U - 1)]!)) })
  await bench(rows, c, `cached router, ${routes} routes, mixed kinds, 65,536 distinct paths (misses)`, () => { sink(cachedRouter.match(unique[u++ & (U - 1)]!)) })

  const mixedRow = rows.find((r) => r.name.endsWith('mixed kinds'))!
  result.facts['goal: mixed median < 1 us'] = mixedRow.stats.p50 < 1000
  const hitRow = rows.find((r) => r.name.endsWith('(1,024 requests: hits)'))!
  result.facts['mixed median with the match cache (hits) < 1 us'] = hitRow.stats.p50 < 1000
  return result
}

if (isMain(import.meta.url)) save(await run())
