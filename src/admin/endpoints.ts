/**
 * CRUD endpoints generated from entity schemas (kong/api/endpoints.lua generate_endpoints):
 * `/{entities}`, `/{entities}/{id|key}`, and for each foreign key of S referencing F,
 * `/{S}/{s}/{fk}`, `/{F}/{f}/{S}` and `/{F}/{f}/{S}/{s}`, with Kong's verb semantics. Every
 * write runs in one transaction with its cluster_events rows.
 */
import type { Pool } from '../db/pool.ts'
import {
  daoFor, withWrite, type Dao, type Entity, type EntityKey, type Queryable, type WriteOptions, type WriteTx,
} from '../db/dao/index.ts'
import { invalidPrimaryKey } from '../db/schema/db-errors.ts'
import { allSchemas, getSchema } from '../db/schema/registry.ts'
import type { EntitySchema } from '../db/schema/types.ts'
import { decodeUtf8 } from '../db/schema/utf8.ts'
import { isUuid } from '../db/schema/validate-field.ts'
import { inferValue } from './infer.ts'
import { escapeUri, listArgs } from './list-options.ts'
import { METHOD_NOT_ALLOWED, NOT_FOUND, type Reply } from './respond.ts'
import { decodeSegmentBytes, route, type Call, type Route } from './router.ts'
import { randomUUID } from 'node:crypto'
import { luaToNumber } from '../db/schema/url.ts'

export interface EndpointContext {
  readonly pool: Pool
  readonly nodeId: string
  /** Plugin names the `plugins` setting enables on this node. */
  readonly enabledPlugins: ReadonlySet<string>
}

/** Generated endpoints Kong turns off (`endpoints.disable`): they answer 404 Not found. */
const DISABLED = new Set(['/targets', '/targets/{targets}', '/targets/{targets}/upstream', '/snis/{snis}/certificate'])

const apiName = (s: EntitySchema): string => s.admin_api_name ?? s.name
const nestedName = (s: EntitySchema): string => s.admin_api_nested_name ?? s.admin_api_name ?? s.name

/** The URL key: an id when it is a UUID, else the endpoint key (query_entity). */
export function entityKey (schema: EntitySchema, raw: string): EntityKey {
  const decoded = decodeUtf8(decodeSegmentBytes(raw))
  if (isUuid(decoded)) return { id: decoded }
  const ek = schema.endpoint_key
  if (ek !== undefined) return { field: ek, value: inferValue(decoded, schema.fields[ek]!) }
  throw invalidPrimaryKey({ id: 'expected a valid UUID' })
}

const fkId = (e: Entity, field: string): string | null => {
  const v = e[field] as { id?: unknown } | null | undefined
  return typeof v?.id === 'string' ? v.id : null
}

export const ok = (body: unknown): Reply => ({ status: 200, body })

export function write<T> (c: EndpointContext, schema: EntitySchema, fn: (tx: WriteTx) => Promise<T>): Promise<T> {
  return withWrite(c.pool, c.nodeId, schema, fn, { enabledPlugins: c.enabledPlugins })
}

/**
 * extract_options: `ttl` travels in the body of writes to entities whose rows expire and is
 * taken out of it (form values arrive as text).
 */
export function writeOptions (s: EntitySchema, call: Call): WriteOptions {
  if (s.ttl !== true || !Object.hasOwn(call.body, 'ttl')) return {}
  const raw = call.body.ttl
  delete call.body.ttl
  if (raw === undefined) return {}
  return { ttl: call.bodyKind === 'args' && typeof raw === 'string' ? luaToNumber(raw) ?? raw : raw }
}

export async function page (c: EndpointContext, dao: Dao, call: Call, base: string, foreign?: { field: string; id: string }): Promise<Reply> {
  const hasTags = Object.hasOwn(dao.schema.fields, 'tags')
  const { options, nextSuffix } = listArgs(call.query, hasTags)
  // Tags are validated on nested collections too, but do not filter them (#6779).
  const p = await dao.page(c.pool, foreign !== undefined ? { ...options, tags: undefined, foreign } : options)
  const next = p.offset === undefined ? null : `${base}?offset=${escapeUri(p.offset)}${foreign === undefined ? nextSuffix : ''}`
  return ok(p.offset === undefined ? { data: p.data, next } : { data: p.data, offset: p.offset, next })
}

function collection (c: EndpointContext, s: EntitySchema): Route {
  const dao = daoFor(s)
  return route(`/${apiName(s)}`, {
    GET: (call) => page(c, dao, call, `/${apiName(s)}`),
    POST: async (call) => {
      const opts = writeOptions(s, call)
      return { status: 201, body: await write(c, s, (tx) => dao.insert(tx, call.body, opts)) }
    },
  }, s)
}

function entity (c: EndpointContext, s: EntitySchema): Route {
  const dao = daoFor(s)
  const p = s.name
  return route(`/${apiName(s)}/{${p}}`, {
    GET: async (call) => {
      const e = await dao.select(c.pool, entityKey(s, call.params[p]!))
      return e === null ? NOT_FOUND : ok(e)
    },
    PUT: async (call) => {
      const opts = writeOptions(s, call)
      return ok(await write(c, s, (tx) => dao.upsert(tx, entityKey(s, call.params[p]!), call.body, opts)))
    },
    PATCH: async (call) => {
      const opts = writeOptions(s, call)
      return ok(await write(c, s, (tx) => dao.update(tx, entityKey(s, call.params[p]!), call.body, opts)))
    },
    DELETE: async (call) => {
      await write(c, s, (tx) => dao.delete(tx, entityKey(s, call.params[p]!)))
      return { status: 204 }
    },
  }, s)
}

/** `/routes/{routes}/service`: the entity a foreign key points to. */
function foreignEntity (c: EndpointContext, s: EntitySchema, fk: string, f: EntitySchema): Route {
  const child = daoFor(s)
  const parent = daoFor(f)
  const p = s.name
  const load = async (q: Queryable, call: Call, lock = false): Promise<Entity | null> => await child.select(q, entityKey(s, call.params[p]!), lock)
  return route(`/${apiName(s)}/{${p}}/${fk}`, {
    GET: async (call) => {
      const e = await load(c.pool, call)
      const id = e === null ? null : fkId(e, fk)
      const target = id === null ? null : await parent.selectById(c.pool, id)
      return target === null ? NOT_FOUND : ok(target)
    },
    PUT: async (call) => {
      const r = await write(c, f, async (tx) => {
        const e = await load(tx.client, call, true)
        if (e === null) return null
        const id = fkId(e, fk)
        const target = await parent.upsert(tx, { id: id ?? randomUUID() }, call.body)
        // A route without a service gets the new one (endpoints.lua put_entity_endpoint "associate").
        if (id === null) await child.update(tx, { id: e.id as string }, { [fk]: { id: target.id } })
        return target
      })
      return r === null ? NOT_FOUND : ok(r)
    },
    PATCH: async (call) => {
      const r = await write(c, f, async (tx) => {
        const e = await load(tx.client, call)
        const id = e === null ? null : fkId(e, fk)
        return id === null ? null : await parent.update(tx, { id }, call.body)
      })
      return r === null ? NOT_FOUND : ok(r)
    },
    DELETE: async (call) => {
      const e = await load(c.pool, call)
      return e === null || fkId(e, fk) === null ? NOT_FOUND : METHOD_NOT_ALLOWED
    },
  }, f)
}

/** `/services/{services}/routes`: the children of one parent. */
function nestedCollection (c: EndpointContext, s: EntitySchema, fk: string, f: EntitySchema): Route {
  const child = daoFor(s)
  const parent = daoFor(f)
  const p = f.name
  return route(`/${apiName(f)}/{${p}}/${nestedName(s)}`, {
    GET: async (call) => {
      const pe = await parent.select(c.pool, entityKey(f, call.params[p]!))
      if (pe === null) return NOT_FOUND
      return await page(c, child, call, `/${apiName(f)}/${call.params[p]!}/${nestedName(s)}`, { field: fk, id: pe.id as string })
    },
    POST: async (call) => {
      const opts = writeOptions(s, call)
      const r = await write(c, s, async (tx) => {
        const pe = await parent.select(tx.client, entityKey(f, call.params[p]!))
        if (pe === null) return null
        return await child.insert(tx, { ...call.body, [fk]: { id: pe.id } }, opts)
      })
      return r === null ? NOT_FOUND : { status: 201, body: r }
    },
  }, s)
}

/** `/services/{services}/routes/{routes}`: one child, 404 unless it belongs to the parent. */
function nestedEntity (c: EndpointContext, s: EntitySchema, fk: string, f: EntitySchema): Route {
  const child = daoFor(s)
  const parent = daoFor(f)
  const pp = f.name
  const cp = s.name
  const owned = async (q: Queryable, call: Call): Promise<{ pe: Entity; ce: Entity } | null> => {
    const pe = await parent.select(q, entityKey(f, call.params[pp]!))
    if (pe === null) return null
    const ce = await child.select(q, entityKey(s, call.params[cp]!))
    if (ce === null || fkId(ce, fk) !== pe.id) return null
    return { pe, ce }
  }
  return route(`/${apiName(f)}/{${pp}}/${nestedName(s)}/{${cp}}`, {
    GET: async (call) => {
      const r = await owned(c.pool, call)
      return r === null ? NOT_FOUND : ok(r.ce)
    },
    PUT: async (call) => {
      const opts = writeOptions(s, call)
      const r = await write(c, s, async (tx) => {
        const pe = await parent.select(tx.client, entityKey(f, call.params[pp]!))
        if (pe === null) return null
        return await child.upsert(tx, entityKey(s, call.params[cp]!), { ...call.body, [fk]: { id: pe.id } }, opts)
      })
      return r === null ? NOT_FOUND : ok(r)
    },
    PATCH: async (call) => {
      const opts = writeOptions(s, call)
      const r = await write(c, s, async (tx) => {
        const o = await owned(tx.client, call)
        if (o === null) return null
        const body = Object.hasOwn(call.body, fk) ? call.body : { ...call.body, [fk]: { id: o.pe.id } }
        return await child.update(tx, { id: o.ce.id as string }, body, opts)
      })
      return r === null ? NOT_FOUND : ok(r)
    },
    DELETE: async (call) => {
      const r = await write(c, s, async (tx) => {
        const o = await owned(tx.client, call)
        if (o === null) return false
        await child.delete(tx, { id: o.ce.id as string })
        return true
      })
      return r ? { status: 204 } : NOT_FOUND
    },
  }, s)
}

/** All generated routes, for every registered entity with an Admin API. */
export function entityRoutes (c: EndpointContext): Route[] {
  return generatedRoutes(c).filter((r) => !DISABLED.has(r.template))
}

function generatedRoutes (c: EndpointContext): Route[] {
  const out: Route[] = []
  for (const s of allSchemas()) {
    if (s.generate_admin_api === false) continue
    out.push(collection(c, s), entity(c, s))
    for (const [fk, def] of Object.entries(s.fields)) {
      if (def.type !== 'foreign' || def.reference === undefined) continue
      const f = getSchema(def.reference)
      if (f === undefined || f.generate_admin_api === false) continue
      out.push(foreignEntity(c, s, fk, f), nestedCollection(c, s, fk, f), nestedEntity(c, s, fk, f))
    }
  }
  return out
}
