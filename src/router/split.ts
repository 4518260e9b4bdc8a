/**
 * Kong's `split_routes_and_services_by_path` (`kong/router/transform.lua`): a route whose paths
 * mix regex and prefix paths, or prefix paths of different lengths, becomes one matcher per
 * group (all regex paths; each prefix length), each with its own priority. Groups keep the order
 * of first appearance; the split matchers get UUIDv5 ids from the route id and the group index,
 * which matters because ties are broken by UUID.
 */
import { createHash } from 'node:crypto'

export interface PathGroup {
  regex: boolean
  paths: string[]
}

export function isRegexPath (p: string): boolean {
  return p.charCodeAt(0) === 126 // '~'
}

/** Group paths by "regex" or by prefix length, in order of first appearance. */
export function groupPaths (paths: readonly string[]): PathGroup[] {
  const groups: PathGroup[] = []
  const byKey = new Map<number, PathGroup>()
  for (const p of paths) {
    const regex = isRegexPath(p)
    const key = regex ? -1 : p.length
    let g = byKey.get(key)
    if (g === undefined) {
      g = { regex, paths: [] }
      byKey.set(key, g)
      groups.push(g)
    }
    g.paths.push(p)
  }
  return groups
}

/** The namespace Kong uses for split route ids. */
const SPLIT_NAMESPACE = '7f145bf9-0dce-4f91-98eb-debbce4b9f6b'

function namespaceBytes (namespace: string): Buffer {
  return Buffer.from(namespace.replace(/-/g, ''), 'hex')
}

/** Decoded once: every split route of every build hashes it (router build cost at 10k routes). */
const SPLIT_NAMESPACE_BYTES = namespaceBytes(SPLIT_NAMESPACE)

/** RFC 4122 version 5 (SHA-1, name-based) UUID, as resty.jit-uuid's `factory_v5` makes it. */
export function uuidV5 (namespace: string, name: string): string {
  const ns = namespace === SPLIT_NAMESPACE ? SPLIT_NAMESPACE_BYTES : namespaceBytes(namespace)
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest()
  hash[6] = (hash[6]! & 0x0f) | 0x50
  hash[8] = (hash[8]! & 0x3f) | 0x80
  const h = hash.subarray(0, 16).toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** Id of the `index`-th (1-based) group of a split route. */
export function splitMatcherId (routeId: string, index: number): string {
  return uuidV5(SPLIT_NAMESPACE, `${routeId}#${index}`)
}
