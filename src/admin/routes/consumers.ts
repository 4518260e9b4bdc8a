/**
 * Consumer extras: `GET /consumers?custom_id=` (kong/api/routes/consumers.lua) and
 * `/consumers/{c}/acls/{group}`, where the last segment may be a group name
 * (kong/plugins/acl/api.lua).
 */
import { randomUUID } from 'node:crypto'
import { daoFor } from '../../db/dao/index.ts'
import { getSchema } from '../../db/schema/registry.ts'
import { decodeUtf8 } from '../../db/schema/utf8.ts'
import { isUuid } from '../../db/schema/validate-field.ts'
import { entityKey, ok, type EndpointContext } from '../endpoints.ts'
import { NOT_FOUND } from '../respond.ts'
import { decodeSegmentBytes, parentHandler, route, type Call, type Handler, type Method, type Route } from '../router.ts'

const BAD_CUSTOM_ID = { status: 400, body: { message: 'custom_id must be an unempty string' } }

export function consumerRoutes (c: EndpointContext, generated: readonly Route[]): Route[] {
  const consumers = getSchema('consumers')!
  const acls = getSchema('acls')!
  const list = parentHandler(generated, '/consumers', 'GET')

  const byGroup = (method: Method): Handler => {
    const parent = parentHandler(generated, '/consumers/{consumers}/acls/{acls}', method)
    return async (call: Call) => {
      const group = decodeUtf8(decodeSegmentBytes(call.params.acls!))
      const byId: boolean = isUuid(group)
      if (byId) return await parent(call)
      const consumer = await daoFor(consumers).select(c.pool, entityKey(consumers, call.params.consumers!))
      if (consumer === null) return NOT_FOUND
      const acl = typeof group === 'string' && !group.includes('\0')
        ? await daoFor(acls).findOne(c.pool, { consumer: { id: consumer.id }, group })
        : null
      if (acl !== null) return await parent({ ...call, params: { ...call.params, acls: acl.id as string } })
      if (method !== 'PUT') return NOT_FOUND
      if (call.body.group === undefined) call.body.group = group
      return await parent({ ...call, params: { ...call.params, acls: randomUUID() } })
    }
  }

  return [
    route('/consumers', {
      GET: async (call) => {
        if (!Object.hasOwn(call.rawQuery, 'custom_id')) return await list(call)
        const id = call.rawQuery.custom_id
        if (typeof id !== 'string' || id === '') return BAD_CUSTOM_ID
        const found = await daoFor(consumers).selectByField(c.pool, 'custom_id', id)
        return ok({ data: found === null ? [] : [found], next: null })
      },
    }),
    route('/consumers/{consumers}/acls/{acls}', {
      GET: byGroup('GET'), PUT: byGroup('PUT'), PATCH: byGroup('PATCH'), DELETE: byGroup('DELETE'),
    }),
  ]
}
