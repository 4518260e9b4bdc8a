/**
 * Targets under their upstream (kong/api/routes/upstreams.lua, kong/db/dao/targets.lua):
 * `/upstreams/{u}/targets` lists the newest first with a numeric offset, `/targets/all` pages
 * every row by id, `/targets/{id|host:port}` reads, updates (PUT and PATCH both update) and
 * deletes one. `/health` and the manual health posts are in upstreams-health.ts (registered by
 * admin/server.ts after the DB-less rewrite, since they serve both modes).
 */
import { daoFor, type Entity } from '../../db/dao/index.ts'
import { invalidOffset, invalidSize } from '../../db/schema/db-errors.ts'
import { getSchema } from '../../db/schema/registry.ts'
import { decodeUtf8 } from '../../db/schema/utf8.ts'
import { isUuid } from '../../db/schema/validate-field.ts'
import { luaToNumber } from '../../db/schema/url.ts'
import { MAX_PAGE_SIZE, PAGE_SIZE } from '../../db/dao/index.ts'
import { entityKey, ok, page, write, writeOptions, type EndpointContext } from '../endpoints.ts'
import { escapeUri } from '../list-options.ts'
import { NOT_FOUND, type Reply } from '../respond.ts'
import { decodeSegmentBytes, route, type Call, type Handler, type Route } from '../router.ts'

const newestFirst = (a: Entity, b: Entity): number => {
  const ca = a.created_at as number
  const cb = b.created_at as number
  if (ca !== cb) return cb - ca
  return (a.id as string) < (b.id as string) ? 1 : -1
}

/** page_for_upstream: all targets, newest first, `offset` a plain row count. */
export function activePage (targets: Entity[], call: Call): { data: Entity[]; offset?: string } {
  const rawSize = call.rawQuery.size
  let size = PAGE_SIZE
  if (rawSize !== undefined) {
    const n = typeof rawSize === 'string' ? luaToNumber(rawSize) : null
    if (n === null) throw invalidSize('size must be a number')
    if (!Number.isInteger(n) || n < 1) throw invalidSize(`size must be an integer between 1 and ${MAX_PAGE_SIZE}`)
    size = Math.min(n, MAX_PAGE_SIZE)
  }
  const rawOffset = call.rawQuery.offset
  let offset = 0
  if (rawOffset !== undefined) {
    const n = typeof rawOffset === 'string' ? luaToNumber(rawOffset) : null
    if (n === null || !Number.isInteger(n) || n < 0) throw invalidOffset(String(rawOffset), 'bad offset')
    offset = n
  }
  const sorted = [...targets].sort(newestFirst)
  const data = sorted.slice(offset, offset + size)
  return sorted.length > offset + size ? { data, offset: String(offset + size) } : { data }
}

export function upstreamRoutes (c: EndpointContext): Route[] {
  const upstreams = getSchema('upstreams')!
  const targetsSchema = getSchema('targets')!
  const targets = daoFor(targetsSchema)

  const upstreamOf = (call: Call): Promise<Entity | null> => daoFor(upstreams).select(c.pool, entityKey(upstreams, call.params.upstreams!))

  /** target_endpoint: the upstream, then its target by id or by exact `host:port`. */
  const withTarget = (fn: (call: Call, upstream: Entity, target: Entity) => Promise<Reply>): Handler => async (call) => {
    const upstream = await upstreamOf(call)
    if (upstream === null) return NOT_FOUND
    const key = decodeUtf8(decodeSegmentBytes(call.params.targets!))
    let target: Entity | null = null
    if (typeof key === 'string' && isUuid(key)) target = await targets.selectById(c.pool, key)
    else if (typeof key === 'string') target = (await targets.rowsWhere(c.pool, 'upstream', upstream.id as string)).find((t) => t.target === key) ?? null
    if (target === null || (target.upstream as { id: string }).id !== upstream.id) return NOT_FOUND
    return await fn(call, upstream, target)
  }

  const update = withTarget(async (call, _u, target) => {
    const opts = writeOptions(targetsSchema, call)
    return ok(await write(c, targetsSchema, (tx) => targets.update(tx, { id: target.id as string }, call.body, opts)))
  })

  return [
    route('/upstreams/{upstreams}/targets', {
      GET: async (call) => {
        const upstream = await upstreamOf(call)
        if (upstream === null) return NOT_FOUND
        const p = activePage(await targets.rowsWhere(c.pool, 'upstream', upstream.id as string), call)
        if (p.offset === undefined) return ok({ data: p.data, next: null })
        return ok({ data: p.data, offset: p.offset, next: `/upstreams/${call.params.upstreams!}/targets?offset=${escapeUri(p.offset)}` })
      },
    }, targetsSchema),
    route('/upstreams/{upstreams}/targets/all', {
      GET: async (call) => {
        const upstream = await upstreamOf(call)
        if (upstream === null) return NOT_FOUND
        return await page(c, targets, call, `/upstreams/${call.params.upstreams!}/targets/all`, { field: 'upstream', id: upstream.id as string })
      },
    }, targetsSchema),
    route('/upstreams/{upstreams}/targets/{targets}', {
      GET: withTarget(async (_call, _u, target) => ok(target)),
      PUT: update,
      PATCH: update,
      DELETE: withTarget(async (_call, _u, target) => {
        await write(c, targetsSchema, (tx) => targets.delete(tx, { id: target.id as string }))
        return { status: 204 }
      }),
    }, targetsSchema),
  ]
}
