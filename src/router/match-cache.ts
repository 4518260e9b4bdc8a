/**
 * The router's match cache, as Kong's router keeps one (kong/router/atc.lua: an LRU of match
 * results and one of misses, 5,000 entries each, keyed by the values of the request fields the
 * routes use). A request whose fields were seen before gets the same answer without probing the
 * indexes or running a regex.
 *
 * Key: method, listener/Host port, Host header, raw path; plus scheme and SNI when some route has
 * `snis`; plus the values of the headers some route tests (in request order). Those are every
 * input `match()` reads, so equal keys give equal answers. A key longer than MAX_KEY (a long path
 * or header value) is not cached: the cache's memory stays bounded by size x MAX_KEY.
 *
 * Eviction: two generations. Hits are read from `hot`, then from `cold` (and copied into hot);
 * when `hot` reaches half the size it becomes `cold` and the old cold is dropped. A key used at
 * least once per half-size insertions stays; the cost of a hit is one or two Map lookups, with no
 * list to maintain. The cache belongs to one router: a new snapshot or patch starts empty.
 *
 * Cached matches are frozen (and their captures): every request that hits shares one object.
 *
 * A miss costs more than an uncached match (the key, the insert: ~0.5 us at 10,000 routes), a
 * hit saves about as much. Traffic that seldom repeats (ids in paths) would pay without gain, so
 * the cache watches itself: over each WINDOW lookups, a hit ratio under a half turns it off for
 * the next SKIP_WINDOWS windows (requests go straight to the indexes), then it samples again. What
 * it holds is kept meanwhile.
 */
import type { MatchInput, RouteMatch } from './types.ts'

/** Longest key cached (characters). */
export const MAX_KEY = 512
/** Entries held at most (both generations), Kong's 5,000 hits and 5,000 misses. */
export const DEFAULT_CACHE_SIZE = 10_000

/** Lookups per measuring window. */
export const WINDOW = 1024
/** Windows bypassed after a window with a hit ratio under a half. */
export const SKIP_WINDOWS = 15

const SEP = '\u0001'
const PAIR = '\u0002'

export class MatchCache<T> {
  #hot = new Map<string, RouteMatch<T> | null>()
  #cold = new Map<string, RouteMatch<T> | null>()
  readonly #half: number
  /** Header names some route tests (lowercase); null: none. */
  readonly #headers: ReadonlySet<string> | null
  /** Some route has `snis`: scheme and SNI are inputs too. */
  readonly #tls: boolean
  hits = 0
  misses = 0
  /** Lookups left to bypass (0: caching). */
  #skip = 0
  #windowLeft = WINDOW
  #windowHits = 0

  constructor (headerNames: Iterable<string>, tls: boolean, size = DEFAULT_CACHE_SIZE) {
    const names = new Set(headerNames)
    this.#headers = names.size > 0 ? names : null
    this.#tls = tls
    this.#half = Math.max(1, size >> 1)
  }

  /** The router's answer for `input`: from the cache, or from `probe` (then remembered). */
  match (input: MatchInput, probe: (input: MatchInput) => RouteMatch<T> | null): RouteMatch<T> | null {
    if (this.#skip > 0) { this.#skip--; return probe(input) }
    const k = this.key(input)
    if (k === '') return probe(input)
    const hit = this.get(k)
    if (--this.#windowLeft === 0) {
      const h = this.#windowHits + (hit !== undefined ? 1 : 0)
      this.#windowLeft = WINDOW
      this.#windowHits = 0
      if (h * 2 < WINDOW) this.#skip = SKIP_WINDOWS * WINDOW
    } else if (hit !== undefined) this.#windowHits++
    return hit !== undefined ? hit : this.set(k, probe(input))
  }

  /** Lookups still bypassed before the cache samples again. */
  get bypassing (): number { return this.#skip }

  /** The request's key, or '' when it is not to be cached. */
  key (input: MatchInput): string {
    let k = input.method + SEP + input.port + SEP + input.host + SEP + input.path
    if (this.#tls) k += SEP + input.scheme + SEP + (input.sni ?? '')
    const names = this.#headers
    if (names !== null) {
      const h = input.headers
      for (let i = 0; i + 1 < h.length; i += 2) {
        const name = h[i]!
        if (names.has(name)) k += SEP + name + PAIR + h[i + 1]!
      }
    }
    return k.length <= MAX_KEY ? k : ''
  }

  /** The cached answer: a match, null (no route), or undefined (not cached). */
  get (key: string): RouteMatch<T> | null | undefined {
    const v = this.#hot.get(key)
    if (v !== undefined) { this.hits++; return v }
    const c = this.#cold.get(key)
    if (c !== undefined) { this.hits++; this.#put(key, c); return c }
    this.misses++
    return undefined
  }

  /** Remembers `m` (frozen) for `key`; returns it. */
  set (key: string, m: RouteMatch<T> | null): RouteMatch<T> | null {
    if (m !== null) {
      const c = m.captures
      if (c !== null) { Object.freeze(c.unnamed); Object.freeze(c.named); Object.freeze(c) }
      Object.freeze(m)
    }
    this.#put(key, m)
    return m
  }

  get size (): number { return this.#hot.size + this.#cold.size }

  #put (key: string, m: RouteMatch<T> | null): void {
    this.#hot.set(key, m)
    if (this.#hot.size >= this.#half) {
      this.#cold = this.#hot
      this.#hot = new Map()
    }
  }
}
