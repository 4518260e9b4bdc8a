/**
 * Certificates addressed by one of their SNI names (kong/api/routes/certificates.lua):
 * `/certificates/{id|sni}`, also under `/snis` nesting. An unknown name is `404 SNI not found`
 * except on PUT, which creates the certificate and adds the name to its `snis`.
 */
import { randomUUID } from 'node:crypto'
import { daoFor } from '../../db/dao/index.ts'
import { getSchema } from '../../db/schema/registry.ts'
import { decodeUtf8 } from '../../db/schema/utf8.ts'
import { isUuid } from '../../db/schema/validate-field.ts'
import type { EndpointContext } from '../endpoints.ts'
import { inferValue } from '../infer.ts'
import type { Reply } from '../respond.ts'
import { decodeSegmentBytes, parentHandler, route, type Call, type Handler, type Method, type Route } from '../router.ts'

const SNI_NOT_FOUND: Reply = { status: 404, body: { message: 'SNI not found' } }

/** prepare_params: the certificate id, and the SNI name when the URL named one. */
async function resolve (c: EndpointContext, call: Call): Promise<{ id: string; name?: unknown } | Reply> {
  const raw = decodeUtf8(decodeSegmentBytes(call.params.certificates!))
  if (typeof raw === 'string' && isUuid(raw)) return { id: raw }
  const snis = getSchema('snis')!
  const name = inferValue(raw, snis.fields.name!)
  const sni = await daoFor(snis).selectByField(c.pool, 'name', name)
  if (sni !== null) return { id: (sni.certificate as { id: string }).id, name }
  if (call.method !== 'PUT') return SNI_NOT_FOUND
  return { id: randomUUID(), name }
}

/** prepare_args: `snis` as a list, the URL's name added on PUT; PUT without `snis` clears them. */
function prepareArgs (call: Call, name: unknown): void {
  const b = call.body
  const field = getSchema('snis')!.fields.name!
  let snis = Object.hasOwn(b, 'snis') ? b.snis : undefined
  if (Array.isArray(snis)) {
    if (call.bodyKind === 'args') snis = snis.map((x) => inferValue(x, field))
    const list = snis as unknown[]
    if (name !== undefined && call.method === 'PUT' && !list.includes(name)) list.push(name)
  } else if (typeof snis === 'string') {
    const one = call.bodyKind === 'args' ? inferValue(snis, field) : snis
    snis = name !== undefined && call.method === 'PUT' && name !== one ? [one, name] : [one]
  }
  if ((snis === undefined || snis === false) && call.method === 'PUT') snis = null
  if (snis !== undefined) b.snis = snis
}

export function certificateRoutes (c: EndpointContext, generated: readonly Route[]): Route[] {
  const wrap = (template: string, method: Method, args: boolean): Handler => {
    const parent = parentHandler(generated, template, method)
    return async (call) => {
      const r = await resolve(c, call)
      if ('status' in r) return r
      if (args) prepareArgs(call, r.name)
      return await parent({ ...call, params: { ...call.params, certificates: r.id } })
    }
  }
  const all = (template: string, methods: Method[], args: Method[] = []): Route => {
    const handlers: Partial<Record<Method, Handler>> = {}
    for (const m of methods) handlers[m] = wrap(template, m, args.includes(m))
    return route(template, handlers)
  }
  return [
    all('/certificates/{certificates}', ['GET', 'PUT', 'PATCH', 'DELETE'], ['PUT', 'PATCH']),
    all('/certificates/{certificates}/snis', ['GET', 'POST']),
    all('/certificates/{certificates}/snis/{snis}', ['GET', 'PUT', 'PATCH', 'DELETE']),
  ]
}
