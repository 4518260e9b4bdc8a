/**
 * Route rows -> matchers: what `kong/router/transform.lua` get_expression / get_priority and
 * `split_routes_and_services_by_path` produce for the ATC engine, as plain pre-parsed data.
 *
 * One matcher per route, or per path group of a split route. Matchers come back sorted in
 * evaluation order (rank 0 first). Routes Kong would not route in the http subsystem are left
 * out; routes Kong could not compile, or that Sluice cannot express, are reported in `errors`.
 */
import type { RouteRow } from '../common/snapshot.ts'
import type { RouterEntry } from './types.ts'
import { computePriority, compareRanked, uuidSortKey, type MatchCalculation } from './priority.ts'
import { compileHeaderRegex, compilePathRegex, asciiLower } from './regex.ts'
import { groupPaths, splitMatcherId } from './split.ts'
import { isEscapeSafe } from './uri.ts'

export const HOST_EXACT = 0
export const HOST_SUFFIX = 1 // `*.example.com`: the value is `.example.com`
export const HOST_PREFIX = 2 // `example.*`: the value is `example.`

export interface HostPattern {
  kind: number
  value: string
  /** Required `net.dst.port` (`h:8000`), -1 for any. */
  port: number
}

export interface HeaderValue {
  /** Expected value, lower-cased (ASCII, as Lua's `string.lower`), or null for a regex. */
  exact: string | null
  re: RegExp | null
}

export interface HeaderRule {
  /** Header name, lower-cased with `_` read as `-` (nginx header lookup). */
  name: string
  values: HeaderValue[]
}

export interface PathRegex {
  re: RegExp
  literalPrefix: string
}

/** What matching and result building read from a matcher (index entries carry a copy). */
export interface MatchTarget<T> {
  payload: T
  route: RouteRow
  methods: string[] | null
  hosts: HostPattern[] | null
  /** Prefix paths of this group (all the same length), or null. */
  prefixes: string[] | null
  /** Regex paths of this group, in route order, or null. */
  regexes: PathRegex[] | null
  headers: HeaderRule[] | null
  /** Some header value is a regex: its captures join the result (ATC engine behaviour). */
  headerRegex: boolean
  snis: HostPattern[] | null
  stripPath: boolean
  pathHandlingV1: boolean
  /** Service path, `/` when null. */
  servicePath: string
  /** The service path needs no escaping (then neither does an upstream path built from an
   *  escape-safe request path). */
  servicePathSafe: boolean
}

export interface Matcher<T> extends MatchTarget<T> {
  /** The route id, or the UUIDv5 of a split group. */
  id: string
  /** Position in evaluation order: 0 is tried first. */
  rank: number
  priority: bigint
  uuidKey: string
}

export interface RouterBuildError {
  routeId: string
  /** The offending path or header value, when the error is about one. */
  value: string | null
  message: string
}

export interface RouterOptions {
  /** Kong EE's `route_match_calculation`; `original` (default) is what Kong 3.x OSS does. */
  matchCalculation?: MatchCalculation
  /**
   * Honour `path_handling = v1`. Kong's traditional_compatible flavor ignores it (atc.lua always
   * calls get_upstream_uri_v0); only the `traditional` flavor applies it. Default false.
   */
  pathHandlingV1?: boolean
  /** Entries of the match cache (match-cache.ts); 0 turns it off. Default DEFAULT_CACHE_SIZE. */
  matchCacheSize?: number
}

const HTTP_PROTOCOLS = new Set(['http', 'https', 'grpc', 'grpcs'])

function nonEmpty<V> (a: readonly V[] | null | undefined): a is readonly V[] {
  return Array.isArray(a) && a.length > 0
}

/** `split_host_port`: port only when everything after the first `:` is a number. */
export function splitHostPort (h: string): [string, number] {
  const colon = h.indexOf(':')
  if (colon < 0) return [h, -1]
  const rest = h.slice(colon + 1)
  if (!/^[0-9]+$/.test(rest)) return [h, -1]
  return [h.slice(0, colon), Number(rest)]
}

function compileHost (h: string): HostPattern {
  const [host, port] = splitHostPort(h)
  if (host.charCodeAt(0) === 42) return { kind: HOST_SUFFIX, value: host.slice(1), port }
  if (host.charCodeAt(host.length - 1) === 42) return { kind: HOST_PREFIX, value: host.slice(0, -1), port }
  return { kind: HOST_EXACT, value: host, port }
}

/** sni_op_transform / sni_val_transform: a trailing dot is not used for routing. */
function compileSni (s: string): HostPattern {
  if (s.charCodeAt(s.length - 1) === 42) return { kind: HOST_PREFIX, value: s.slice(0, -1), port: -1 }
  const v = s.length > 1 && s.endsWith('.') ? s.slice(0, -1) : s
  if (v.charCodeAt(0) === 42) return { kind: HOST_SUFFIX, value: v.slice(1), port: -1 }
  return { kind: HOST_EXACT, value: v, port: -1 }
}

interface Shared {
  methods: string[] | null
  hosts: HostPattern[] | null
  headers: HeaderRule[] | null
  headerRegex: boolean
  snis: HostPattern[] | null
  plainHostOnly: boolean
  weightWithoutPaths: number
  headerCount: number
}

function compileShared (route: RouteRow, errors: RouterBuildError[]): Shared | null {
  const headers: HeaderRule[] = []
  let headerRegex = false
  const rawHeaders = route.headers ?? {}
  for (const name of Object.keys(rawHeaders)) {
    const rule: HeaderRule = { name: name.toLowerCase().replace(/_/g, '-'), values: [] }
    for (const v of rawHeaders[name] ?? []) {
      if (v.startsWith('~*')) {
        const re = compileHeaderRegex(v.slice(2))
        if (typeof re === 'string') {
          errors.push({ routeId: route.id, value: v, message: `invalid header regex: ${re}` })
          continue
        }
        headerRegex = true
        rule.values.push({ exact: null, re })
      } else {
        rule.values.push({ exact: asciiLower(v), re: null })
      }
    }
    if (rule.values.length === 0) {
      errors.push({ routeId: route.id, value: name, message: 'header has no usable value' })
      return null
    }
    headers.push(rule)
  }
  const hosts = nonEmpty(route.hosts) ? route.hosts.map(compileHost) : null
  const methods = nonEmpty(route.methods) ? [...route.methods] : null
  const snis = nonEmpty(route.snis) ? route.snis.map(compileSni) : null
  return {
    methods,
    hosts,
    headers: headers.length > 0 ? headers : null,
    headerRegex,
    snis,
    // transform.lua: `type(hosts) == "table"`, so an empty array counts as plain hosts only
    plainHostOnly: Array.isArray(route.hosts) && route.hosts.every((h) => !h.includes('*')),
    weightWithoutPaths: (methods ? 1 : 0) + (hosts ? 1 : 0) + (headers.length > 0 ? 1 : 0) + (snis ? 1 : 0),
    headerCount: headers.length,
  }
}

export interface Compiled<T> {
  matchers: Matcher<T>[]
  errors: RouterBuildError[]
}

export function compileEntries<T> (
  entries: ReadonlyArray<RouterEntry<T>>, options: RouterOptions = {}
): Compiled<T> {
  const mode = options.matchCalculation ?? 'original'
  const errors: RouterBuildError[] = []
  const matchers: Matcher<T>[] = []
  const seen = new Set<string>()

  for (const entry of entries) {
    const route = entry.route
    if (!route.protocols.some((p) => HTTP_PROTOCOLS.has(p))) continue // stream route
    if (nonEmpty(route.sources) || nonEmpty(route.destinations)) {
      errors.push({ routeId: route.id, value: null, message: 'sources/destinations are not supported on http routes' })
      continue
    }
    const shared = compileShared(route, errors)
    if (shared === null) continue

    const groups = nonEmpty(route.paths) ? groupPaths(route.paths) : []
    const split = groups.length > 1
    const units = groups.length > 0 ? groups : [null]
    for (let gi = 0; gi < units.length; gi++) { // a loop, not forEach: no closure per route
      const group = units[gi]!
      let prefixes: string[] | null = null
      let regexes: PathRegex[] | null = null
      if (group !== null && group.regex) {
        regexes = []
        for (const p of group.paths) {
          const r = compilePathRegex(p.slice(1))
          if (typeof r === 'string') errors.push({ routeId: route.id, value: p, message: `invalid regex: ${r}` })
          else regexes.push({ re: r.re, literalPrefix: r.literalPrefix })
        }
        if (regexes.length === 0) continue // never widen a route to "any path"
      } else if (group !== null) {
        prefixes = group.paths
      }
      const weight = shared.weightWithoutPaths + (group !== null ? 1 : 0)
      if (weight === 0) {
        errors.push({ routeId: route.id, value: null, message: 'route has no matching fields' })
        continue
      }
      const id = split ? splitMatcherId(route.id, gi + 1) : route.id
      if (seen.has(id)) {
        errors.push({ routeId: route.id, value: null, message: 'duplicate route id' })
        continue
      }
      seen.add(id)
      const priority = computePriority({
        matchWeight: weight,
        plainHostOnly: shared.plainHostOnly,
        headerCount: shared.headerCount,
        regex: regexes !== null,
        regexPriority: route.regex_priority,
        prefixLength: prefixes !== null ? prefixes[0]!.length : 0,
      }, mode)
      matchers.push({
        id,
        rank: 0,
        priority,
        uuidKey: uuidSortKey(id),
        payload: entry.payload,
        route,
        methods: shared.methods,
        hosts: shared.hosts,
        prefixes,
        regexes,
        headers: shared.headers,
        headerRegex: shared.headerRegex,
        snis: shared.snis,
        stripPath: route.strip_path,
        pathHandlingV1: options.pathHandlingV1 === true && route.path_handling === 'v1',
        servicePath: entry.servicePath ?? '/',
        servicePathSafe: isEscapeSafe(entry.servicePath ?? '/'),
      })
    }
  }

  matchers.sort(compareRanked)
  for (let i = 0; i < matchers.length; i++) matchers[i]!.rank = i
  return { matchers, errors }
}
