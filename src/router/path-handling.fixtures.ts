/**
 * The rows of Kong's `spec/fixtures/router_path_handling_tests.lua` (all 113, same order), as data:
 * service path, route path (null: the route matches on host only), strip_path, path_handling,
 * request path, expected upstream path (before escaping). A list in a cell means "each of".
 */

type OneOrMany<V> = V | V[]
export type PathHandlingRow = [
  servicePath: string,
  routePath: string | null,
  stripPath: OneOrMany<boolean>,
  pathHandling: OneOrMany<'v0' | 'v1'>,
  requestPath: string,
  expectedPath: string,
]

export interface PathHandlingCase {
  row: number
  servicePath: string
  routePath: string | null
  stripPath: boolean
  pathHandling: 'v0' | 'v1'
  requestPath: string
  expectedPath: string
}

export const PATH_HANDLING_ROWS: PathHandlingRow[] = [
  ['/', '/', [false, true], ['v0', 'v1'], '/', '/'],
  ['/', '/', [false, true], ['v0', 'v1'], '/route', '/route'],
  ['/', '/', [false, true], ['v0', 'v1'], '/route/', '/route/'],
  ['/', '/', [false, true], ['v0', 'v1'], '/routereq', '/routereq'],
  ['/', '/', [false, true], ['v0', 'v1'], '/route/req', '/route/req'],
  ['/', '/route', false, ['v0', 'v1'], '/route', '/route'],
  ['/', '/route', false, ['v0', 'v1'], '/route/', '/route/'],
  ['/', '/route', false, ['v0', 'v1'], '/routereq', '/routereq'],
  ['/', '/route', true, ['v0', 'v1'], '/route', '/'],
  ['/', '/route', true, ['v0', 'v1'], '/route/', '/'],
  ['/', '/route', true, ['v0', 'v1'], '/routereq', '/req'],
  ['/', '/route/', false, ['v0', 'v1'], '/route/', '/route/'],
  ['/', '/route/', false, ['v0', 'v1'], '/route/req', '/route/req'],
  ['/', '/route/', true, ['v0', 'v1'], '/route/', '/'],
  ['/', '/route/', true, ['v0', 'v1'], '/route/req', '/req'],
  ['/srv', '/rou', false, 'v0', '/roureq', '/srv/roureq'],
  ['/srv', '/rou', false, 'v1', '/roureq', '/srvroureq'],
  ['/srv', '/rou', true, 'v0', '/roureq', '/srv/req'],
  ['/srv', '/rou', true, 'v1', '/roureq', '/srvreq'],
  ['/srv/', '/rou', false, ['v0', 'v1'], '/rou', '/srv/rou'],
  ['/srv/', '/rou', true, 'v0', '/rou', '/srv'],
  ['/srv/', '/rou', true, 'v1', '/rou', '/srv/'],
  ['/service', '/', [false, true], ['v0', 'v1'], '/', '/service'],
  ['/service', '/', [false, true], 'v0', '/route', '/service/route'],
  ['/service', '/', [false, true], 'v1', '/route', '/serviceroute'],
  ['/service', '/', [false, true], 'v0', '/route/', '/service/route/'],
  ['/service', '/', [false, true], 'v1', '/route/', '/serviceroute/'],
  ['/service', '/', [false, true], 'v0', '/routereq', '/service/routereq'],
  ['/service', '/', [false, true], 'v1', '/routereq', '/serviceroutereq'],
  ['/service', '/', [false, true], 'v0', '/route/req', '/service/route/req'],
  ['/service', '/', [false, true], 'v1', '/route/req', '/serviceroute/req'],
  ['/service', '/route', false, 'v0', '/route', '/service/route'],
  ['/service', '/route', false, 'v1', '/route', '/serviceroute'],
  ['/service', '/route', false, 'v0', '/route/', '/service/route/'],
  ['/service', '/route', false, 'v1', '/route/', '/serviceroute/'],
  ['/service', '/route', false, 'v0', '/routereq', '/service/routereq'],
  ['/service', '/route', false, 'v1', '/routereq', '/serviceroutereq'],
  ['/service', '/route', true, ['v0', 'v1'], '/route', '/service'],
  ['/service', '/route', true, ['v0', 'v1'], '/route/', '/service/'],
  ['/service', '/route', true, 'v0', '/routereq', '/service/req'],
  ['/service', '/route', true, 'v1', '/routereq', '/servicereq'],
  ['/service', '/route/', false, 'v0', '/route/', '/service/route/'],
  ['/service', '/route/', false, 'v1', '/route/', '/serviceroute/'],
  ['/service', '/route/', false, 'v0', '/route/req', '/service/route/req'],
  ['/service', '/route/', false, 'v1', '/route/req', '/serviceroute/req'],
  ['/service', '/route/', true, 'v0', '/route/', '/service/'],
  ['/service', '/route/', true, 'v1', '/route/', '/service'],
  ['/service', '/route/', true, 'v0', '/route/req', '/service/req'],
  ['/service', '/route/', true, 'v1', '/route/req', '/servicereq'],
  ['/service/', '/', [false, true], 'v0', '/route/', '/service/route/'],
  ['/service/', '/', [false, true], 'v1', '/route/', '/service/route/'],
  ['/service/', '/', [false, true], ['v0', 'v1'], '/', '/service/'],
  ['/service/', '/', [false, true], ['v0', 'v1'], '/route', '/service/route'],
  ['/service/', '/', [false, true], ['v0', 'v1'], '/routereq', '/service/routereq'],
  ['/service/', '/', [false, true], ['v0', 'v1'], '/route/req', '/service/route/req'],
  ['/service/', '/route', false, ['v0', 'v1'], '/route', '/service/route'],
  ['/service/', '/route', false, ['v0', 'v1'], '/route/', '/service/route/'],
  ['/service/', '/route', false, ['v0', 'v1'], '/routereq', '/service/routereq'],
  ['/service/', '/route', true, 'v0', '/route', '/service'],
  ['/service/', '/route', true, 'v1', '/route', '/service/'],
  ['/service/', '/route', true, ['v0', 'v1'], '/route/', '/service/'],
  ['/service/', '/route', true, ['v0', 'v1'], '/routereq', '/service/req'],
  ['/service/', '/route/', false, ['v0', 'v1'], '/route/', '/service/route/'],
  ['/service/', '/route/', false, ['v0', 'v1'], '/route/req', '/service/route/req'],
  ['/service/', '/route/', true, ['v0', 'v1'], '/route/', '/service/'],
  ['/service/', '/route/', true, ['v0', 'v1'], '/route/req', '/service/req'],
  ['/', null, [false, true], ['v0', 'v1'], '/', '/'],
  ['/', null, [false, true], ['v0', 'v1'], '/route', '/route'],
  ['/', null, [false, true], ['v0', 'v1'], '/route/', '/route/'],
  ['/service', null, [false, true], ['v0', 'v1'], '/', '/service'],
  ['/service', null, [false, true], 'v0', '/route', '/service/route'],
  ['/service', null, [false, true], 'v1', '/route', '/serviceroute'],
  ['/service', null, [false, true], 'v0', '/route/', '/service/route/'],
  ['/service', null, [false, true], 'v1', '/route/', '/serviceroute/'],
  ['/service/', null, [false, true], ['v0', 'v1'], '/', '/service/'],
  ['/service/', null, [false, true], ['v0', 'v1'], '/route', '/service/route'],
  ['/service/', null, [false, true], ['v0', 'v1'], '/route/', '/service/route/'],
  ['/service', '/route', true, 'v0', '/route./req', '/service/req'],
  ['/service', '/route', true, 'v1', '/route./req', '/servicereq'],
  ['/service/', '/route', true, ['v0', 'v1'], '/route./req', '/service/req'],
  ['/service', '/route', true, 'v0', '/route%2E/req', '/service/req'],
  ['/service', '/route', true, 'v1', '/route%2E/req', '/servicereq'],
  ['/service/', '/route', true, ['v0', 'v1'], '/route%2E/req', '/service/req'],
  ['/service', '/route', true, 'v0', '/route%2e/req', '/service/req'],
  ['/service', '/route', true, 'v1', '/route%2e/req', '/servicereq'],
  ['/service/', '/route', true, ['v0', 'v1'], '/route%2e/req', '/service/req'],
  ['/service', '/route', true, 'v0', '/route../req', '/service/req'],
  ['/service', '/route', true, 'v1', '/route../req', '/servicereq'],
  ['/service/', '/route', true, ['v0', 'v1'], '/route../req', '/service/req'],
  ['/service', '/route', true, 'v0', '/route%2E%2E/req', '/service/req'],
  ['/service', '/route', true, 'v1', '/route%2E%2E/req', '/servicereq'],
  ['/service/', '/route', true, ['v0', 'v1'], '/route%2E%2E/req', '/service/req'],
  ['/service', '/route', true, 'v0', '/route%2e%2E/req', '/service/req'],
  ['/service', '/route', true, 'v1', '/route%2e%2E/req', '/servicereq'],
  ['/service/', '/route', true, ['v0', 'v1'], '/route%2e%2E/req', '/service/req'],
  ['/service', '/route', false, 'v0', '/route./req', '/service/route./req'],
  ['/service', '/route', false, 'v1', '/route./req', '/serviceroute./req'],
  ['/service/', '/route', false, ['v0', 'v1'], '/route./req', '/service/route./req'],
  ['/service', '/route', false, 'v0', '/route%2E/req', '/service/route./req'],
  ['/service', '/route', false, 'v1', '/route%2E/req', '/serviceroute./req'],
  ['/service/', '/route', false, ['v0', 'v1'], '/route%2E/req', '/service/route./req'],
  ['/service', '/route', false, 'v0', '/route%2e/req', '/service/route./req'],
  ['/service', '/route', false, 'v1', '/route%2e/req', '/serviceroute./req'],
  ['/service/', '/route', false, ['v0', 'v1'], '/route%2e/req', '/service/route./req'],
  ['/service', '/route', false, 'v0', '/route../req', '/service/route../req'],
  ['/service', '/route', false, 'v1', '/route../req', '/serviceroute../req'],
  ['/service/', '/route', false, ['v0', 'v1'], '/route../req', '/service/route../req'],
  ['/service', '/route', false, 'v0', '/route%2E%2E/req', '/service/route../req'],
  ['/service', '/route', false, 'v1', '/route%2E%2E/req', '/serviceroute../req'],
  ['/service/', '/route', false, ['v0', 'v1'], '/route%2E%2E/req', '/service/route../req'],
  ['/service', '/route', false, 'v0', '/route%2e%2E/req', '/service/route../req'],
  ['/service', '/route', false, 'v1', '/route%2e%2E/req', '/serviceroute../req'],
  ['/service/', '/route', false, ['v0', 'v1'], '/route%2e%2E/req', '/service/route../req'],
]

function many<V> (v: OneOrMany<V>): V[] {
  return Array.isArray(v) ? v : [v]
}

/** Each row expanded over its strip_path and path_handling lists (the fixture's `expand()`). */
export function expandPathHandlingRows (): PathHandlingCase[] {
  const out: PathHandlingCase[] = []
  PATH_HANDLING_ROWS.forEach(([servicePath, routePath, strip, handling, requestPath, expectedPath], i) => {
    for (const stripPath of many(strip)) {
      for (const pathHandling of many(handling)) {
        out.push({ row: i + 1, servicePath, routePath, stripPath, pathHandling, requestPath, expectedPath })
      }
    }
  })
  return out
}
