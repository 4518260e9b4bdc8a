/**
 * The plugins DAO (kong/db/dao/plugins.lua): the name must be an enabled plugin, and a plugin
 * scoped to a route (or a service) must share a protocol with it (check_protocols_match).
 */
import { schemaViolation } from '../../schema/db-errors.ts'
import { NOT_ENABLED } from '../../schema/entities/plugins.ts'
import type { DaoHooks, Entity, WriteCtx } from '../hooks.ts'

const fkId = (v: unknown): string | null => {
  const id = (v as { id?: unknown } | null | undefined)?.id
  return typeof id === 'string' ? id : null
}

const common = (a: unknown, b: unknown): boolean =>
  Array.isArray(a) && Array.isArray(b) && a.some((p) => b.includes(p))

async function checkProtocols (ctx: WriteCtx, plugin: Entity): Promise<void> {
  if (!Array.isArray(plugin.protocols)) return
  const q = ctx.tx.client
  const routeId = fkId(plugin.route)
  if (routeId !== null) {
    const route = await ctx.dao('routes').selectById(q, routeId)
    if (route !== null && !common(plugin.protocols, route.protocols)) {
      throw schemaViolation({ protocols: "must match the associated route's protocols" })
    }
    return
  }
  const serviceId = fkId(plugin.service)
  if (serviceId === null) return
  const routes = await ctx.dao('routes').rowsWhere(q, 'service', serviceId)
  if (routes.length > 0 && !routes.some((r) => common(plugin.protocols, r.protocols))) {
    throw schemaViolation({ protocols: "must match the protocols of at least one route pointing to this Plugin's service" })
  }
}

export const pluginsHooks: DaoHooks = {
  check (ctx, entity) {
    const name = entity.name
    const enabled = ctx.tx.enabledPlugins
    if (typeof name === 'string' && enabled !== undefined && !enabled.has(name)) {
      throw schemaViolation({ name: NOT_ENABLED.replace('%s', name) })
    }
  },
  async transform (ctx, entity) {
    // kong/db/dao/plugins.lua: an update checks only when it touches protocols, service or route
    const i = ctx.input
    if (ctx.op !== 'update' || i.protocols !== undefined || i.service !== undefined || i.route !== undefined) {
      await checkProtocols(ctx, entity)
    }
  },
}
