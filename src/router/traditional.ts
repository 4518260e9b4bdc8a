/**
 * Kong's `traditional_compatible` router (the default flavor): route fields compiled the way
 * `kong/router/transform.lua` turns them into ATC matchers, evaluated in the ATC engine's order
 * (priority, then greater UUID), answered from indexes instead of a scan.
 *
 * Build (once per snapshot): compile and rank matchers (compile.ts, priority.ts), then index
 * them by host and, under each host pattern or for host-less routes, by the literal text the path
 * must start with (index-build.ts, index-probe.ts).
 *
 * Match (per request): normalise the path (uri.ts), hash the Host header and the path prefixes
 * in place, probe the indexes, keep the best-ranked matcher whose remaining predicates hold
 * (search.ts), then build the result (result.ts). The only allocations are the normalised path
 * when normalisation changes it, regex exec results, and the returned match. In front of that, the
 * match cache (match-cache.ts, as Kong's router has one): a request whose routing inputs were seen
 * before gets the same (frozen) answer from one Map lookup.
 *
 * Patching (a config delta, `patchRouter`): a full build is the *base*; a patched router is the
 * base minus the routes that changed or went away since (their index entries are marked dead for
 * this router's generation and later ones), plus an *overlay* router built from the current
 * entries of exactly those routes. The winner of the full router is the first matcher in Kong's
 * order whose predicates hold, among all matchers; the base (minus dead) and the overlay
 * partition that set, so the winner is the better of the two layers' winners, compared by
 * (priority, uuid) as the ATC engine orders them. Each patch rebuilds only the overlay (cost:
 * the routes changed since the base), and the caller rebuilds in full when the overlay grows.
 */
import type { MatchInput, RouteMatch, Router, RouterEntry } from './types.ts'
import { compileEntries, type RouterBuildError, type RouterOptions } from './compile.ts'
import { buildIndex } from './index-build.ts'
import { RouterIndex } from './index-probe.ts'
import { compareRanked } from './priority.ts'
import { buildMatch } from './result.ts'
import { Search, type IndexEntry } from './search.ts'
import { DEFAULT_CACHE_SIZE, MatchCache } from './match-cache.ts'
import type { Matcher } from './compile.ts'
import { normalizePath, normalized } from './uri.ts'

export type { RouterBuildError, RouterOptions } from './compile.ts'

/** What a patched router needs from its base (internal to the router module). */
interface Base<T> {
  readonly index: RouterIndex<T>
  readonly size: number
  /** Route id -> its index entries; built on the first patch. */
  byRoute: Map<string, Array<IndexEntry<T>>> | null
  /** Generations handed out to patched routers of this base. */
  gens: number
  /** Header names some matcher tests, and whether some matcher has snis (match cache keys). */
  readonly headerNames: ReadonlySet<string>
  readonly tls: boolean
}

export interface TraditionalRouter<T> extends Router<T> {
  /** Routes or paths left out at build time, and why (bad regex, unsupported fields, ...). */
  readonly errors: readonly RouterBuildError[]
  /** The full build this router rests on (itself when it is one). */
  readonly base: Base<T>
  /** Number of routes taken from the base and served by the overlay instead (0: a full build). */
  readonly patched: number
  /** The match cache, null when turned off (options.matchCacheSize = 0). */
  readonly cache: MatchCache<T> | null
}

function routingInputs<T> (matchers: ReadonlyArray<Matcher<T>>): { headerNames: Set<string>; tls: boolean } {
  const headerNames = new Set<string>()
  let tls = false
  for (const m of matchers) {
    if (m.headers !== null) for (const h of m.headers) headerNames.add(h.name)
    if (m.snis !== null) tls = true
  }
  return { headerNames, tls }
}

function newCache<T> (headerNames: Iterable<string>, tls: boolean, options?: RouterOptions): MatchCache<T> | null {
  const size = options?.matchCacheSize ?? DEFAULT_CACHE_SIZE
  return size > 0 ? new MatchCache<T>(headerNames, tls, size) : null
}

function finish<T> (e: IndexEntry<T>, s: Search<T>, path: string, input: MatchInput, pathSafe: boolean): RouteMatch<T> {
  const matchedPrefix = e.regexIdx < 0 && e.prefixes !== null ? e.key : null
  return buildMatch(e, matchedPrefix, s.bestExec, path, input.headers, pathSafe)
}

export function buildRouter<T> (
  entries: ReadonlyArray<RouterEntry<T>>, options?: RouterOptions
): TraditionalRouter<T> {
  const { matchers, errors } = compileEntries(entries, options)
  const index = new RouterIndex(buildIndex(matchers))
  const search = new Search<T>(index.maxKeyLength)
  const { headerNames, tls } = routingInputs(matchers)
  const cache = newCache<T>(headerNames, tls, options)

  function probe (input: MatchInput): RouteMatch<T> | null {
    const path = normalizePath(input.path)
    if (path === null) return null
    const pathSafe = normalized.escapeSafe
    const s = search
    s.begin(input, path)
    index.probe(s)
    const e = s.best
    const result = e === null ? null : finish(e, s, path, input, pathSafe)
    s.end()
    return result
  }

  const base: Base<T> = { index, size: matchers.length, byRoute: null, gens: 0, headerNames, tls }
  return { match: cached(cache, probe), size: matchers.length, errors, base, patched: 0, cache }
}

/** `probe` behind the cache (when there is one). */
function cached<T> (cache: MatchCache<T> | null, probe: (input: MatchInput) => RouteMatch<T> | null): (input: MatchInput) => RouteMatch<T> | null {
  if (cache === null) return probe
  return (input) => cache.match(input, probe)
}

/**
 * The router for `base`'s routes with every route in `replaced` taken out, plus `overlay` (the
 * current entries of those routes, or none for a deleted one). `replaced` is cumulative: every
 * route changed since the base, not only since the previous patch. Routers made earlier from the
 * same base keep answering as before (requests in flight).
 */
export function patchRouter<T> (
  router: TraditionalRouter<T>, replaced: Iterable<string>, overlay: ReadonlyArray<RouterEntry<T>>, options?: RouterOptions
): TraditionalRouter<T> {
  const base = router.base
  let byRoute = base.byRoute
  if (byRoute === null) {
    byRoute = new Map()
    for (const e of base.index.entries) {
      const list = byRoute.get(e.route.id)
      if (list === undefined) byRoute.set(e.route.id, [e])
      else list.push(e)
    }
    base.byRoute = byRoute
  }
  const gen = ++base.gens
  let patched = 0
  let deadMatchers = 0
  for (const id of replaced) {
    patched++
    const list = byRoute.get(id)
    if (list === undefined) continue
    const seen = new Set<string>()
    for (const e of list) {
      if (e.dead > gen) e.dead = gen
      seen.add(`${e.priority}|${e.uuidKey}`)
    }
    deadMatchers += seen.size
  }
  const top = buildRouter(overlay, { ...options, matchCacheSize: 0 })
  const index = base.index
  const search = new Search<T>(index.maxKeyLength)
  search.gen = gen
  const oIndex = top.base.index
  const oSearch = new Search<T>(oIndex.maxKeyLength)

  const cache = newCache<T>([...base.headerNames, ...top.base.headerNames], base.tls || top.base.tls, options)

  function probe (input: MatchInput): RouteMatch<T> | null {
    const path = normalizePath(input.path)
    if (path === null) return null
    const pathSafe = normalized.escapeSafe
    const s = search
    const o = oSearch
    s.begin(input, path)
    index.probe(s)
    o.begin(input, path)
    oIndex.probe(o)
    const b = s.best
    const t = o.best
    let result: RouteMatch<T> | null = null
    if (t !== null && (b === null || compareRanked(t, b) < 0)) result = finish(t, o, path, input, pathSafe)
    else if (b !== null) result = finish(b, s, path, input, pathSafe)
    s.end()
    o.end()
    return result
  }

  return { match: cached(cache, probe), size: base.size - deadMatchers + top.size, errors: top.errors, base, patched, cache }
}
