/**
 * A Kong-shaped configuration of N routes for the router and snapshot benchmarks, and requests
 * that hit them. Route i is of kind i % 5:
 *
 *   0 exact host + prefix     hosts [api<i>.example.com]        paths [/v1/svc<i>]
 *   1 wildcard host           hosts [*.t<i>.example.net] (even) or [t<i>.example.*] (odd), no paths
 *   2 prefix only             paths [/p<i>/items, /p<i>/orders], methods [GET, POST]
 *   3 regex path              paths [~/r<i>/users/(?<id>\d+)$]
 *   4 header                  paths [/h<i>], headers { x-tenant: [t<i>] }
 *
 * Services: one per 10 routes (route i -> service floor(i / 10)), all on one upstream.
 * Requests are drawn with a seeded generator, so every run matches the same inputs.
 */
import type { RouteRow, ServiceRow, Snapshot } from '../../src/common/snapshot.ts'
import type { MatchInput } from '../../src/router/types.ts'
import { routeWithDefaults } from '../../src/router/conformance-helpers.ts'

export const KINDS = ['exact host + prefix', 'wildcard host', 'prefix only', 'regex path', 'header'] as const

function uuid (kind: number, n: number): string {
  const hex = n.toString(16).padStart(12, '0')
  return `00000000-0000-4000-800${kind}-${hex}`
}

export function serviceRow (n: number): ServiceRow {
  return {
    id: uuid(1, n),
    name: `svc-${n}`,
    protocol: 'http',
    host: '127.0.0.1',
    port: 9100,
    path: null,
    retries: 5,
    connect_timeout: 60000,
    write_timeout: 60000,
    read_timeout: 60000,
    enabled: true,
    tags: null,
    client_certificate: null,
    tls_verify: null,
    tls_verify_depth: null,
    ca_certificates: null,
    created_at: 1700000000,
    updated_at: 1700000000,
  }
}

export function routeRow (i: number, serviceId: string | null): RouteRow {
  const row: RouteRow = routeWithDefaults(uuid(2, i), { name: `route-${i}`, service: serviceId === null ? null : { id: serviceId } })
  switch (i % 5) {
    case 0: row.hosts = [`api${i}.example.com`]; row.paths = [`/v1/svc${i}`]; break
    case 1: row.hosts = [i % 2 === 0 ? `*.t${i}.example.net` : `t${i}.example.*`]; break
    case 2: row.paths = [`/p${i}/items`, `/p${i}/orders`]; row.methods = ['GET', 'POST']; break
    case 3: row.paths = [`~/r${i}/users/(?<id>\\d+)$`]; break
    case 4: row.paths = [`/h${i}`]; row.headers = { 'x-tenant': [`t${i}`] }; break
  }
  return row
}

export function buildConfig (routes: number): { services: ServiceRow[]; routes: RouteRow[] } {
  const services: ServiceRow[] = []
  for (let s = 0; s < Math.ceil(routes / 10); s++) services.push(serviceRow(s))
  const rows: RouteRow[] = []
  for (let i = 0; i < routes; i++) rows.push(routeRow(i, services[Math.floor(i / 10)]!.id))
  return { services, routes: rows }
}

export function buildSnapshot (routes: number): Snapshot {
  const c = buildConfig(routes)
  return { version: 1, hash: '0123456789abcdef0123456789abcdef', services: c.services, routes: c.routes, entities: {} }
}

const CLIENT_HEADERS = ['user-agent', 'wrk/4.1', 'accept', '*/*']

/** A request that route i (of its kind) should answer. */
export function requestFor (i: number): MatchInput {
  let host = 'unknown.test'
  let path = '/'
  let method = 'GET'
  const headers: string[] = []
  switch (i % 5) {
    case 0: host = `api${i}.example.com`; path = `/v1/svc${i}/resource/42`; break
    case 1: host = i % 2 === 0 ? `a.t${i}.example.net` : `t${i}.example.org`; path = '/anything'; break
    case 2: path = `/p${i}/orders/17`; method = 'POST'; break
    case 3: path = `/r${i}/users/12345`; break
    case 4: path = `/h${i}/x`; headers.push('x-tenant', `t${i}`); break
  }
  return { method, host, path, headers: ['host', host, ...CLIENT_HEADERS, ...headers], scheme: 'http', sni: null, port: 8000 }
}

/** A request no route answers (404). */
export function missFor (i: number): MatchInput {
  const host = 'none.test'
  return { method: 'GET', host, path: `/nope/${i}`, headers: ['host', host, ...CLIENT_HEADERS], scheme: 'http', sni: null, port: 8000 }
}

/** mulberry32: a small seeded generator. */
export function random (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` route indices of the given kind (or any kind: -1) below `routes`. */
export function sampleRoutes (routes: number, kind: number, count: number, seed: number): number[] {
  const rnd = random(seed)
  const out: number[] = []
  while (out.length < count) {
    const i = Math.floor(rnd() * routes)
    if (kind < 0 || i % 5 === kind) out.push(i)
  }
  return out
}
