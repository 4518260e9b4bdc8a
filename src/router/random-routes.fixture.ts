/**
 * Seeded random routes and requests for the router's differential tests (traditional.differential,
 * patch.differential): many shapes of hosts, prefixes, regexes, headers, methods and SNIs.
 * Test-only; no runtime code imports it.
 */
import { makeRoute, request } from './conformance-helpers.ts'
import type { MatchInput, RouterEntry } from './types.ts'

export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function pick<V> (rnd: () => number, values: readonly V[]): V {
  return values[Math.floor(rnd() * values.length)]!
}

export const HOSTS = ['a.test', 'b.test', 'c.test', 'a.test:8000', 'b.test:8443', '*.w.test', '*.x.w.test', 'p.*',
  'p.q.*', '*.w.test:8000', 'A.test', '*odd.test', 'odd*']
export const PREFIXES = ['/', '/a', '/ab', '/a/b', '/api', '/api/v1', '/api/v1/users', '/u', '/users', '/a%2Fb', '/é']
export const REGEXES = ['~/users/\\d+', '~/api/(v\\d)/items', '~/a.*', '~/(?P<x>[a-z]+)/z', '~/u|/a', '~(?i)/API',
  '~/[0]?a', '~/(bad', '~/api/(?<ver>v\\d+)?', '~/users/(\\d+)/(?P<tab>\\w*)']
const HEADER_VALUES = ['1', '2', 'Yes', '~*^v\\d', '~*(no)']

export function randomRoutes (rnd: () => number, n: number, wide = false): RouterEntry<string>[] {
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

export function randomRequest (rnd: () => number, wide = false): MatchInput {
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
