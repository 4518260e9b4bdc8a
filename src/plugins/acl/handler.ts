/**
 * acl (kong/plugins/acl/handler.lua + groups.lua, PRIORITY 950).
 *
 * The groups of the authenticated consumer (acls rows, indexed per snapshot: consumer id ->
 * groups, in row order) or, when there is no consumer, or no credential, or
 * always_use_authenticated_groups, the groups an external auth set (ctx.authenticatedGroups).
 * `allow`: blocked unless in one of the groups; `deny`: blocked if in one. Blocked: 403 `You
 * cannot consume this service`. Nobody authenticated: 401 `Unauthorized` (403 when a credential
 * exists without a consumer). Allowed: `X-Consumer-Groups: g1, g2` upstream (or
 * `X-Authenticated-Groups` for external groups) unless hide_groups_header.
 *
 * The verdict per (config, consumer groups) is computed once and cached on the prepared config.
 */
import { H_AUTHENTICATED_GROUPS, H_CONSUMER_GROUPS } from '../auth-consumer.ts'
import type { PluginContext, PluginHandler, PrepareEnv } from '../types.ts'

export interface AclConfig {
  allow?: string[] | null
  deny?: string[] | null
  hide_groups_header: boolean
  always_use_authenticated_groups: boolean
}

interface ConsumerGroups {
  readonly list: readonly string[]
  readonly set: ReadonlySet<string>
  readonly joined: string
}

interface Prepared {
  readonly deny: boolean
  readonly groups: readonly string[]
  readonly hide: boolean
  readonly alwaysAuthenticated: boolean
  readonly byConsumer: GroupLookup
  /** Verdict per consumer groups object: true (blocked) or the header value. */
  readonly verdicts: Map<ConsumerGroups, true | string>
}

const EMPTY_GROUPS: ConsumerGroups = { list: [], set: new Set(), joined: '' }
const FORBIDDEN = 'You cannot consume this service'

/** Consumer id -> groups. */
interface GroupLookup { get (consumerId: string): ConsumerGroups | undefined }

const GROUPS_CACHE = 4096

/**
 * Consumer id -> groups, in row order. Equal group lists share one object (the verdict cache is
 * keyed by it). Over a compact acls table: row positions sorted by consumer id, groups gathered on
 * first use of a consumer (the last 4096 kept); a Map per consumer otherwise.
 */
function buildGroups (env: PrepareEnv): GroupLookup {
  const interned = new Map<string, ConsumerGroups>()
  const intern = (list: string[]): ConsumerGroups => {
    const k = list.join('\n')
    let g = interned.get(k)
    if (g === undefined) interned.set(k, g = { list, set: new Set(list), joined: list.join(', ') })
    return g
  }
  const t = env.table?.('acls')
  if (t !== undefined) {
    const owner = (i: number): string | null => { const id = t.field(i, 'consumer'); return typeof id === 'string' ? id : null }
    const ids: Array<string | null> = []
    const kept: number[] = []
    for (let i = 0; i < t.size; i++) {
      const id = owner(i)
      if (id !== null && typeof t.field(i, 'group') === 'string') { kept.push(i); ids[i] = id }
    }
    kept.sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : a - b))
    const perm = Int32Array.from(kept)
    let cache = new Map<string, ConsumerGroups | undefined>()
    return {
      get (consumerId) {
        if (cache.has(consumerId)) return cache.get(consumerId)
        let lo = 0
        let hi = perm.length
        while (lo < hi) { // first position whose consumer is >= consumerId
          const mid = (lo + hi) >>> 1
          if (owner(perm[mid]!)! < consumerId) lo = mid + 1
          else hi = mid
        }
        const list: string[] = []
        for (let k = lo; k < perm.length && owner(perm[k]!) === consumerId; k++) list.push(t.field(perm[k]!, 'group') as string)
        const g = list.length === 0 ? undefined : intern(list)
        if (cache.size >= GROUPS_CACHE) cache = new Map()
        cache.set(consumerId, g)
        return g
      },
    }
  }
  const lists = new Map<string, string[]>()
  for (const row of env.rows('acls')) {
    const id = (row.consumer as { id?: unknown } | null)?.id
    const group = row.group
    if (typeof id !== 'string' || typeof group !== 'string') continue
    const l = lists.get(id)
    if (l === undefined) lists.set(id, [group])
    else l.push(group)
  }
  const out = new Map<string, ConsumerGroups>()
  for (const [id, list] of lists) out.set(id, intern(list))
  return out
}

function verdict (c: Prepared, groups: ConsumerGroups): true | string {
  let inGroup = false
  for (const g of c.groups) if (groups.set.has(g)) { inGroup = true; break }
  const blocked = c.deny ? inGroup : !inGroup
  if (blocked) return true
  return c.hide ? '' : groups.joined
}

function external (list: readonly string[]): ConsumerGroups {
  return { list, set: new Set(list), joined: list.join(', ') }
}

function deny (ctx: PluginContext): void {
  if (ctx.credential !== null) ctx.error(403, FORBIDDEN)
  else ctx.error(401)
}

export const handler: PluginHandler<AclConfig, Prepared> = {
  name: 'acl',
  priority: 950,
  prepare (c, env) {
    const isDeny = Array.isArray(c.deny) && c.deny.length > 0
    return {
      deny: isDeny,
      groups: (isDeny ? c.deny : c.allow) ?? [],
      hide: c.hide_groups_header === true,
      alwaysAuthenticated: c.always_use_authenticated_groups === true,
      byConsumer: env.memo('acl:groups', () => buildGroups(env)),
      verdicts: new Map(),
    }
  },
  access (ctx, c) {
    let consumerId: string | null = ctx.consumer?.id ?? null
    if (consumerId === null) {
      const cid = ctx.credential?.consumer_id
      if (typeof cid === 'string') consumerId = cid
    }
    let result: true | string
    if (consumerId === null) {
      const ext = ctx.authenticatedGroups
      if (ext === null) { deny(ctx); return }
      result = verdict(c, external(ext))
    } else {
      const ext = ctx.credential === null || c.alwaysAuthenticated ? ctx.authenticatedGroups : null
      if (ext !== null) {
        consumerId = null
        result = verdict(c, external(ext))
      } else {
        let groups = c.byConsumer.get(consumerId)
        if (groups === undefined) {
          if (!c.deny) { deny(ctx); return }
          groups = EMPTY_GROUPS
        }
        let v = c.verdicts.get(groups)
        if (v === undefined) {
          v = verdict(c, groups)
          c.verdicts.set(groups, v)
        }
        result = v
      }
    }
    if (result === true) {
      ctx.error(403, FORBIDDEN)
      return
    }
    // An empty list (deny mode, a consumer without groups) still sends the header, empty, as Kong does.
    if (!c.hide) ctx.setHeader(consumerId !== null ? H_CONSUMER_GROUPS : H_AUTHENTICATED_GROUPS, result)
  },
}
