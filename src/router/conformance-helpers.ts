/**
 * Small builders for router tests: Kong-shaped route rows with Kong's defaults, match inputs,
 * and a wrapper that answers "which route matched". Test-only; no runtime code imports it.
 */
import type { RouteRow } from '../common/snapshot.ts'
import type { BuildRouter, MatchInput, RouteMatch, RouterEntry } from './types.ts'

/** Kong's spec ids: `kid(101)` is `e8fb37f1-102d-461e-9c51-6608a6bb8101`. */
export function kid (n: number): string {
  return `e8fb37f1-102d-461e-9c51-6608a6bb8${String(n).padStart(3, '0')}`
}

/**
 * A route row with the routes schema defaults (kong.md 1.3). The one builder of test and benchmark
 * route rows (router conformance, worker harness, native-bench).
 */
export function routeWithDefaults (id: string, fields: Partial<RouteRow> = {}, at = 1700000000): RouteRow {
  return {
    id,
    name: null,
    protocols: ['http', 'https'],
    methods: null,
    hosts: null,
    paths: null,
    headers: null,
    https_redirect_status_code: 426,
    regex_priority: 0,
    strip_path: true,
    preserve_host: false,
    request_buffering: true,
    response_buffering: true,
    path_handling: 'v0',
    snis: null,
    sources: null,
    destinations: null,
    service: null,
    tags: null,
    created_at: at,
    updated_at: at,
    ...fields,
  }
}

/** A route row with the schema defaults; `n` makes its id. */
export function makeRoute (n: number, fields: Partial<RouteRow> = {}): RouteRow {
  return routeWithDefaults(kid(n), fields)
}

/** A route spec for `routes()`: row fields plus the service path (default: no path). */
export type RouteSpec = Partial<RouteRow> & { n: number; servicePath?: string | null }

export function entries (specs: readonly RouteSpec[]): RouterEntry<number>[] {
  return specs.map(({ n, servicePath, ...fields }) => ({
    route: makeRoute(n, fields),
    servicePath: servicePath ?? null,
    payload: n,
  }))
}

export interface RequestSpec {
  method?: string
  host?: string
  headers?: string[]
  scheme?: string
  sni?: string | null
  port?: number
}

export function request (path: string, spec: RequestSpec = {}): MatchInput {
  return {
    method: spec.method ?? 'GET',
    host: spec.host ?? 'domain.org',
    path,
    headers: spec.headers ?? [],
    scheme: spec.scheme ?? 'http',
    sni: spec.sni ?? null,
    port: spec.port ?? 8000,
  }
}

export interface TestRouter {
  match (path: string, spec?: RequestSpec): RouteMatch<number> | null
  /** The `n` of the matched route, or null. */
  hit (path: string, spec?: RequestSpec): number | null
  size: number
}

export function routes (build: BuildRouter, specs: readonly RouteSpec[]): TestRouter {
  const router = build(entries(specs))
  return {
    match: (path, spec) => router.match(request(path, spec)),
    hit: (path, spec) => router.match(request(path, spec))?.payload ?? null,
    size: router.size,
  }
}
