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
 * when normalisation changes it, regex exec results, and the returned match.
 */
import type { MatchInput, RouteMatch, Router, RouterEntry } from './types.ts'
import { compileEntries, type RouterBuildError, type RouterOptions } from './compile.ts'
import { buildIndex } from './index-build.ts'
import { RouterIndex } from './index-probe.ts'
import { buildMatch } from './result.ts'
import { Search } from './search.ts'
import { normalizePath, normalized } from './uri.ts'

export type { RouterBuildError, RouterOptions } from './compile.ts'

export interface TraditionalRouter<T> extends Router<T> {
  /** Routes or paths left out at build time, and why (bad regex, unsupported fields, ...). */
  readonly errors: readonly RouterBuildError[]
}

export function buildRouter<T> (
  entries: ReadonlyArray<RouterEntry<T>>, options?: RouterOptions
): TraditionalRouter<T> {
  const { matchers, errors } = compileEntries(entries, options)
  const index = new RouterIndex(buildIndex(matchers))
  const search = new Search<T>(index.maxKeyLength)

  function match (input: MatchInput): RouteMatch<T> | null {
    const path = normalizePath(input.path)
    if (path === null) return null
    const pathSafe = normalized.escapeSafe
    const s = search
    s.begin(input, path)
    index.probe(s)
    const e = s.best
    let result: RouteMatch<T> | null = null
    if (e !== null) {
      const matchedPrefix = e.regexIdx < 0 && e.prefixes !== null ? e.key : null
      result = buildMatch(e, matchedPrefix, s.bestExec, path, input.headers, pathSafe)
    }
    s.end()
    return result
  }

  return { match, size: matchers.length, errors }
}
