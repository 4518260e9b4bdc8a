/**
 * The router seam (hono's `Router` interface idea): a router is built once per snapshot from
 * Kong-shaped route rows and answers `match()` per request. Pure: no I/O, no threads, no clock.
 */
import type { RouteRow } from '../common/snapshot.ts'

/** One route to compile, with whatever the caller wants back on a match (its compiled route). */
export interface RouterEntry<T> {
  route: RouteRow
  /** The route's service `path` (null: none). Used to compose the upstream path. */
  servicePath: string | null
  payload: T
}

/** What the router needs from a request. Built by the worker from the uWS request, once. */
export interface MatchInput {
  method: string
  /** The Host header as received (may carry `:port`); '' when absent. */
  host: string
  /** The raw request target's path, without the query string (still percent-encoded). */
  path: string
  /** Flat lowercase-name header list `[name0, value0, name1, value1, ...]`. */
  headers: readonly string[]
  /** `http` or `https`. */
  scheme: string
  /** TLS SNI, when the request came over TLS. */
  sni: string | null
  /** The listener port that accepted the request (for `host:port` route hosts). */
  port: number
}

export interface RouteMatch<T> {
  payload: T
  route: RouteRow
  /** Upstream path per path_handling v0/v1 and strip_path, re-escaped, without the query. */
  upstreamPath: string
  /** The matched and stripped prefix, for X-Forwarded-Prefix; null when nothing was stripped. */
  strippedPrefix: string | null
  /** Regex path captures: positional and named; null when the route matched by prefix or no path. */
  captures: { unnamed: string[]; named: Record<string, string> } | null
  /** The normalised path the route matched on. */
  normalizedPath: string
}

export interface Router<T> {
  match (input: MatchInput): RouteMatch<T> | null
  /** Number of compiled matchers (a route with paths of several kinds may split, as in Kong). */
  readonly size: number
}

export type BuildRouter = <T>(entries: ReadonlyArray<RouterEntry<T>>) => Router<T>
