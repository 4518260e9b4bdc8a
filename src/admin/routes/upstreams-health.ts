/**
 * Upstream health on the Admin API (kong/api/routes/upstreams.lua):
 *
 * - `GET /upstreams/{u}/health`: the targets page of `/upstreams/{u}/targets` with each target's
 *   `health` and `data` from the node's health registry; `?balancer_health=1` the balancer's.
 * - `PUT /upstreams/{u}/targets/{t}/healthy|unhealthy` and `.../{t}/{address}/healthy|unhealthy`:
 *   a manual post, 204; 404 for an unknown upstream or target (or a target of another
 *   upstream); 400 `{message}` when the upstream has no health checks. POST is accepted too
 *   (Kong before 3.0 used POST). The post reaches the other nodes (primary/health/node.ts).
 *
 * Entities are read from PostgreSQL, or from the served configuration in DB-less mode, where
 * posts are node-local. Without a registry (an Admin API alone, in tests) every target reports
 * HEALTHCHECKS_OFF, as before health checks existed.
 */
import { daoFor, type Entity } from '../../db/dao/index.ts'
import { getSchema } from '../../db/schema/registry.ts'
import { decodeUtf8 } from '../../db/schema/utf8.ts'
import { isUuid } from '../../db/schema/validate-field.ts'
import type { MemoryStore } from '../../declarative/store.ts'
import type { HealthAdmin } from '../../primary/health/node.ts'
import { balancerHealth, targetHealth } from '../../primary/health/view.ts'
import { entityKey, ok, type EndpointContext } from '../endpoints.ts'
import { escapeUri } from '../list-options.ts'
import { NOT_FOUND, type Reply } from '../respond.ts'
import { decodeSegmentBytes, route, type Call, type Handler, type Route } from '../router.ts'
import { activePage } from './upstreams.ts'

interface Lookup {
  upstream (call: Call): Promise<Entity | null>
  targets (upstreamId: string): Promise<Entity[]>
  target (call: Call, upstream: Entity): Promise<Entity | null>
}

const fkId = (e: Entity, f: string): string | null => {
  const v = e[f] as { id?: unknown } | null | undefined
  return typeof v?.id === 'string' ? v.id : null
}

function dbLookup (c: EndpointContext): Lookup {
  const upstreams = getSchema('upstreams')!
  const targets = daoFor(getSchema('targets')!)
  return {
    upstream: (call) => daoFor(upstreams).select(c.pool, entityKey(upstreams, call.params.upstreams!)),
    targets: (id) => targets.rowsWhere(c.pool, 'upstream', id),
    async target (call, u) {
      const key = decodeUtf8(decodeSegmentBytes(call.params.targets!))
      if (typeof key !== 'string') return null
      if (isUuid(key)) return await targets.selectById(c.pool, key)
      return (await targets.rowsWhere(c.pool, 'upstream', u.id as string)).find((t) => t.target === key) ?? null
    },
  }
}

function storeLookup (store: () => MemoryStore): Lookup {
  const upstreams = getSchema('upstreams')!
  return {
    async upstream (call) {
      const k = entityKey(upstreams, call.params.upstreams!)
      return 'id' in k ? store().selectById('upstreams', k.id) : store().selectByField('upstreams', k.field, k.value)
    },
    targets: async (id) => store().rowsWhere('targets', 'upstream', id),
    async target (call, u) {
      const key = decodeUtf8(decodeSegmentBytes(call.params.targets!))
      if (typeof key !== 'string') return null
      if (isUuid(key)) return store().selectById('targets', key)
      return store().rowsWhere('targets', 'upstream', u.id as string).find((t) => t.target === key) ?? null
    },
  }
}

export function upstreamHealthRoutes (c: EndpointContext, health: HealthAdmin | null, store: (() => MemoryStore) | null): Route[] {
  const look = store !== null ? storeLookup(store) : dbLookup(c)

  const getHealth: Handler = async (call) => {
    const upstream = await look.upstream(call)
    if (upstream === null) return NOT_FOUND
    const id = upstream.id as string
    if (call.rawQuery.balancer_health === '1') {
      if (health !== null) await health.settle(id)
      const b = health === null ? null : balancerHealth(health.registry, id)
      return ok({ data: b ?? { health: 'HEALTHCHECKS_OFF', balancer_health: 'HEALTHY', id }, next: null, node_id: c.nodeId })
    }
    const p = activePage(await look.targets(id), call)
    if (health !== null) await health.settle(id, p.data.map((t) => String(t.target)))
    const data = p.data.map((t) => health === null ? { ...t, health: 'HEALTHCHECKS_OFF' } : { ...t, ...targetHealth(health.registry, id, String(t.target)) })
    const next = p.offset === undefined ? null : `/upstreams/${call.params.upstreams!}/health?offset=${escapeUri(p.offset)}`
    return ok(p.offset === undefined ? { data, next, node_id: c.nodeId } : { data, offset: p.offset, next, node_id: c.nodeId })
  }

  const setHealth = (healthy: boolean): Handler => async (call): Promise<Reply> => {
    const upstream = await look.upstream(call)
    if (upstream === null) return NOT_FOUND
    const target = await look.target(call, upstream)
    if (target === null || fkId(target, 'upstream') !== upstream.id) return NOT_FOUND
    if (health === null) return { status: 400, body: { message: `no healthchecker found for ${String(upstream.name)}` } }
    const raw = call.params.address
    let address: string | null = null
    if (raw !== undefined) {
      const a = decodeUtf8(decodeSegmentBytes(raw))
      address = typeof a === 'string' ? a : raw
    }
    await health.settle(upstream.id as string, [String(target.target)])
    const err = await health.post({ id: upstream.id as string, name: String(upstream.name) }, String(target.target), address, healthy)
    return err === null ? { status: 204 } : { status: 400, body: { message: err } }
  }
  const both = (healthy: boolean): Partial<Record<'PUT' | 'POST', Handler>> => ({ PUT: setHealth(healthy), POST: setHealth(healthy) })

  return [
    route('/upstreams/{upstreams}/health', { GET: getHealth }),
    route('/upstreams/{upstreams}/targets/{targets}/healthy', both(true)),
    route('/upstreams/{upstreams}/targets/{targets}/unhealthy', both(false)),
    route('/upstreams/{upstreams}/targets/{targets}/{address}/healthy', both(true)),
    route('/upstreams/{upstreams}/targets/{targets}/{address}/unhealthy', both(false)),
  ]
}
