/**
 * `/config` and the DB-less Admin API (kong/api/routes/config.lua, kong/db/strategies/off):
 *
 * - `GET /config`: the served configuration as Kong's export, `{"config": "<yaml>"}`;
 *   `POST /config`: replace the whole configuration (JSON or YAML body, or a `config` field),
 *   `?check_hash=1` (304 when unchanged), `?flatten_errors=1`, 201 with the entities, 400 code 14,
 *   429 while another load runs. In DB mode both answer 400.
 * - In DB-less mode every generated and custom entity endpoint keeps its path and methods, reads
 *   come from the in-memory store of the served configuration, and writes answer 405 with code 12
 *   (`cannot create 'services' entities when not using a database`), except where Kong's DAO looks
 *   the entity up first: PATCH of a missing entity is 404, DELETE of a missing one 204.
 */
import type { IncomingMessage } from 'node:http'
import { operationUnsupported } from '../../declarative/admin-errors.ts'
import type { MemoryStore, StoreRow } from '../../declarative/store.ts'
import type { Table } from '../../declarative/parse.ts'
import { invalidOffset, invalidSize } from '../../db/schema/db-errors.ts'
import { MAX_PAGE_SIZE, PAGE_SIZE, type EntityKey } from '../../db/dao/index.ts'
import { plPretty } from '../../db/schema/pretty.ts'
import { allSchemas, getSchema } from '../../db/schema/registry.ts'
import type { EntitySchema } from '../../db/schema/types.ts'
import { typedefs } from '../../db/schema/typedefs.ts'
import { luaToNumber } from '../../db/schema/url.ts'
import { decodeUtf8 } from '../../db/schema/utf8.ts'
import { isUuid, validateField } from '../../db/schema/validate-field.ts'
import { invalidUnique } from '../../db/schema/db-errors.ts'
import { entityKey } from '../endpoints.ts'
import { inferValue } from '../infer.ts'
import { escapeUri, listArgs } from '../list-options.ts'
import { METHOD_NOT_ALLOWED, NOT_FOUND, type Reply } from '../respond.ts'
import { decodeSegmentBytes, route, type Call, type Handler, type Method, type Route } from '../router.ts'

/** What the DB-less primary gives the Admin API (primary/dbless.ts). */
export interface DeclarativeAdmin {
  /** The store of the configuration served now. */
  store (): MemoryStore
  /** Validates, builds, broadcasts and swaps in a new configuration; the reply to POST /config. */
  apply (input: ConfigInput): Promise<Reply>
  /** The served configuration as Kong's export (YAML). */
  exportYaml (): Promise<string>
}

export interface ConfigInput {
  text?: Uint8Array | string
  table?: Table
  /** The text is a JSON body (a syntax error is `Cannot parse JSON body`). */
  jsonBody?: boolean
  flattenErrors: boolean
  checkHash: boolean
}

const ONLY_DBLESS: Reply = { status: 400, body: { message: 'this endpoint is only available when Kong is configured to not use a database' } }
const EXPECTED: Reply = { status: 400, body: { message: 'expected a declarative configuration' } }

const RAW_TYPES = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']

/**
 * Whether a request body reaches `/config` as it is (parsed off the primary thread): JSON and
 * YAML. Forms are decoded as usual; two Content-Type headers are left to the usual 400.
 */
export function rawConfigBody (req: IncomingMessage): { json: boolean } | null {
  let ct: string | undefined
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() !== 'content-type') continue
    if (ct !== undefined) return null
    ct = req.rawHeaders[i + 1]!
  }
  if (ct === undefined) return null
  const t = ct.split(';')[0]!.trim().toLowerCase()
  return RAW_TYPES.includes(t) ? { json: t === 'application/json' } : null
}

const first = (v: unknown): unknown => Array.isArray(v) ? v[0] : v

/** kong/api/routes/config.lua truthy() */
function truthy (v: unknown): boolean {
  const x = first(v)
  if (typeof x === 'string') return ['true', '1', 'on', 'yes'].includes(x.toLowerCase())
  return x === true || x === 1
}

/**
 * `flatten_errors` / `check_hash` at the top level of a JSON body, where the query string does not
 * set them. The body is decoded here only when its text names one of them (a large config is
 * otherwise decoded once, by the declarative loader).
 */
function bodyOptions (bytes: Uint8Array, q: Record<string, unknown>, opts: { flattenErrors: boolean; checkHash: boolean }): void {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (!text.includes('flatten_errors') && !text.includes('check_hash')) return
  let body: unknown
  try { body = JSON.parse(text.toString('utf8')) } catch { return }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return
  const b = body as Record<string, unknown>
  if (q.flatten_errors === undefined && b.flatten_errors !== undefined) opts.flattenErrors = truthy(b.flatten_errors)
  if (q.check_hash === undefined && b.check_hash !== undefined) opts.checkHash = String(first(b.check_hash)) === '1'
}

export function configRoutes (d: DeclarativeAdmin | null): Route[] {
  const r = route('/config', {
    GET: async () => d === null ? ONLY_DBLESS : { status: 200, body: { config: await d.exportYaml() } },
    POST: async (call) => {
      if (d === null) return ONLY_DBLESS
      // Kong reads both options from its merged parameters: the query string, then a form or JSON body.
      const q = call.rawQuery
      const opts = { flattenErrors: truthy(q.flatten_errors), checkHash: String(first(q.check_hash)) === '1' }
      if (call.raw !== undefined) {
        if (call.raw.bytes.length === 0) return EXPECTED
        if (call.raw.json) bodyOptions(call.raw.bytes, q, opts)
        return await d.apply({ ...opts, text: call.raw.bytes, jsonBody: call.raw.json })
      }
      const b = call.body
      if (q.flatten_errors === undefined && b.flatten_errors !== undefined) opts.flattenErrors = truthy(b.flatten_errors)
      if (q.check_hash === undefined && b.check_hash !== undefined) opts.checkHash = String(first(b.check_hash)) === '1'
      if (b._format_version !== undefined) return await d.apply({ ...opts, table: b })
      if (typeof b.config === 'string' && b.config !== '') return await d.apply({ ...opts, text: b.config })
      return EXPECTED
    },
  })
  return [{ ...r, rawBody: true }]
}

// ---- DB-less entity endpoints

const apiName = (s: EntitySchema): string => s.admin_api_name ?? s.name
const nestedName = (s: EntitySchema): string => s.admin_api_nested_name ?? s.admin_api_name ?? s.name
const ok = (body: unknown): Reply => ({ status: 200, body })
const fkId = (e: StoreRow | null, field: string): string | null => {
  const v = e?.[field] as { id?: unknown } | null | undefined
  return typeof v?.id === 'string' ? v.id : null
}

type Kind =
  | { kind: 'collection'; s: EntitySchema }
  | { kind: 'entity'; s: EntitySchema }
  | { kind: 'foreign'; s: EntitySchema; fk: string; f: EntitySchema }
  | { kind: 'nested'; s: EntitySchema; fk: string; f: EntitySchema }
  | { kind: 'nestedEntity'; s: EntitySchema; fk: string; f: EntitySchema }

/** The templates endpoints.ts generates, and what each one serves. */
function generatedKinds (): Map<string, Kind> {
  const out = new Map<string, Kind>()
  for (const s of allSchemas()) {
    if (s.generate_admin_api === false) continue
    out.set(`/${apiName(s)}`, { kind: 'collection', s })
    out.set(`/${apiName(s)}/{${s.name}}`, { kind: 'entity', s })
    for (const [fk, def] of Object.entries(s.fields)) {
      if (def.type !== 'foreign' || def.reference === undefined) continue
      const f = getSchema(def.reference)
      if (f === undefined || f.generate_admin_api === false) continue
      out.set(`/${apiName(s)}/{${s.name}}/${fk}`, { kind: 'foreign', s, fk, f })
      out.set(`/${apiName(f)}/{${f.name}}/${nestedName(s)}`, { kind: 'nested', s, fk, f })
      out.set(`/${apiName(f)}/{${f.name}}/${nestedName(s)}/{${s.name}}`, { kind: 'nestedEntity', s, fk, f })
    }
  }
  return out
}

/** Reads a row by URL key (id, or endpoint key). */
function lookup (store: MemoryStore, s: EntitySchema, key: EntityKey): StoreRow | null {
  if ('id' in key) return store.selectById(s.name, key.id)
  const err = validateField(s.fields[key.field]!, key.value)
  if (err !== undefined) throw invalidUnique(key.field, typeof err === 'string' ? err : plPretty(err))
  return store.selectByField(s.name, key.field, key.value)
}

function page (store: MemoryStore, s: EntitySchema, call: Call, base: string, foreign?: { field: string; id: string }): Reply {
  const hasTags = Object.hasOwn(s.fields, 'tags')
  const { options, nextSuffix } = listArgs(call.query, hasTags)
  const p = store.page(s.name, foreign !== undefined ? { ...options, tags: undefined, foreign } : options)
  const next = p.offset === undefined ? null : `${base}?offset=${escapeUri(p.offset)}${foreign === undefined ? nextSuffix : ''}`
  return ok(p.offset === undefined ? { data: p.data, next } : { data: p.data, offset: p.offset, next })
}

/** `cannot <op> '<entities>' entities [by '<field>'] when not using a database` (405, code 12). */
function refuse (op: string, s: EntitySchema, key?: EntityKey): Reply {
  const by = key !== undefined && !('id' in key) ? ` by '${key.field}'` : ''
  return { status: 405, body: operationUnsupported(`cannot ${op} '${s.name}' entities${by} when not using a database`) }
}

function readHandler (d: DeclarativeAdmin, k: Kind): Handler {
  switch (k.kind) {
    case 'collection': return async (call) => page(d.store(), k.s, call, `/${apiName(k.s)}`)
    case 'entity': return async (call) => {
      const e = lookup(d.store(), k.s, entityKey(k.s, call.params[k.s.name]!))
      return e === null ? NOT_FOUND : ok(e)
    }
    case 'foreign': return async (call) => {
      const st = d.store()
      const id = fkId(lookup(st, k.s, entityKey(k.s, call.params[k.s.name]!)), k.fk)
      const target = id === null ? null : st.selectById(k.f.name, id)
      return target === null ? NOT_FOUND : ok(target)
    }
    case 'nested': return async (call) => {
      const st = d.store()
      const pe = lookup(st, k.f, entityKey(k.f, call.params[k.f.name]!))
      if (pe === null) return NOT_FOUND
      return page(st, k.s, call, `/${apiName(k.f)}/${call.params[k.f.name]!}/${nestedName(k.s)}`, { field: k.fk, id: pe.id })
    }
    case 'nestedEntity': return async (call) => {
      const st = d.store()
      const pe = lookup(st, k.f, entityKey(k.f, call.params[k.f.name]!))
      const ce = pe === null ? null : lookup(st, k.s, entityKey(k.s, call.params[k.s.name]!))
      return ce === null || fkId(ce, k.fk) !== pe!.id ? NOT_FOUND : ok(ce)
    }
  }
}

function writeHandler (d: DeclarativeAdmin, k: Kind, m: Method): Handler {
  return async (call) => {
    const st = d.store()
    switch (k.kind) {
      case 'collection': return refuse('create', k.s)
      case 'entity': {
        const key = entityKey(k.s, call.params[k.s.name]!)
        if (m === 'PUT') return refuse('create or update', k.s, key)
        const e = lookup(st, k.s, key)
        if (m === 'PATCH') return e === null ? NOT_FOUND : refuse('update', k.s, key)
        return e === null ? { status: 204 } : refuse('remove', k.s, key)
      }
      case 'foreign': {
        const e = lookup(st, k.s, entityKey(k.s, call.params[k.s.name]!))
        if (e === null) return NOT_FOUND
        const id = fkId(e, k.fk)
        if (m === 'PUT') return refuse('create or update', k.f)
        if (m === 'PATCH') return id === null ? NOT_FOUND : refuse('update', k.f)
        return id === null ? NOT_FOUND : METHOD_NOT_ALLOWED
      }
      case 'nested': {
        const pe = lookup(st, k.f, entityKey(k.f, call.params[k.f.name]!))
        return pe === null ? NOT_FOUND : refuse('create', k.s)
      }
      case 'nestedEntity': {
        const pe = lookup(st, k.f, entityKey(k.f, call.params[k.f.name]!))
        if (pe === null) return NOT_FOUND
        const key = entityKey(k.s, call.params[k.s.name]!)
        if (m === 'PUT') return refuse('create or update', k.s, key)
        const ce = lookup(st, k.s, key)
        const owned = ce !== null && fkId(ce, k.fk) === pe.id
        if (!owned) return NOT_FOUND
        return refuse(m === 'PATCH' ? 'update' : 'remove', k.s, key)
      }
    }
  }
}

// ---- the custom endpoints (routes/consumers.ts, certificates.ts, upstreams.ts, tags.ts), from memory

const newestFirst = (a: StoreRow, b: StoreRow): number => {
  const ca = a.created_at as number
  const cb = b.created_at as number
  if (ca !== cb) return cb - ca
  return a.id < b.id ? 1 : -1
}

/** upstreams.ts activePage: targets newest first, a numeric offset. */
function activePage (targets: StoreRow[], call: Call): { data: StoreRow[]; offset?: string } {
  const rawSize = call.rawQuery.size
  let size = PAGE_SIZE
  if (rawSize !== undefined) {
    const n = typeof rawSize === 'string' ? luaToNumber(rawSize) : null
    if (n === null) throw invalidSize('size must be a number')
    if (!Number.isInteger(n) || n < 1) throw invalidSize(`size must be an integer between 1 and ${MAX_PAGE_SIZE}`)
    size = Math.min(n, MAX_PAGE_SIZE)
  }
  let offset = 0
  const rawOffset = call.rawQuery.offset
  if (rawOffset !== undefined) {
    const n = typeof rawOffset === 'string' ? luaToNumber(rawOffset) : null
    if (n === null || !Number.isInteger(n) || n < 0) throw invalidOffset(String(rawOffset), 'bad offset')
    offset = n
  }
  const sorted = [...targets].sort(newestFirst)
  const data = sorted.slice(offset, offset + size)
  return sorted.length > offset + size ? { data, offset: String(offset + size) } : { data }
}

function tagOffset (token: string, withOrdinality: boolean): [string, number] {
  const body = token.split('=')[0]!
  if (!/^[A-Za-z0-9+/]*$/.test(body) || body.length % 4 === 1) throw invalidOffset(token, 'bad base64 encoding')
  let v: unknown
  try { v = JSON.parse(Buffer.from(body, 'base64').toString('utf8')) } catch { throw invalidOffset(token, 'bad json encoding') }
  if (!Array.isArray(v) || !isUuid(v[0])) throw invalidOffset(token, 'bad json encoding')
  const ord = v[1]
  if (withOrdinality && (typeof ord !== 'number' || !Number.isSafeInteger(ord))) throw invalidOffset(token, 'bad json encoding')
  return [v[0], withOrdinality ? ord as number : 0]
}

const encodeTagOffset = (v: unknown[]): string => Buffer.from(JSON.stringify(v)).toString('base64').replace(/=+$/, '')

/** `/tags` rows `{entity_name, entity_id, tag}` by entity id and the tag's position. */
function tagPage (store: MemoryStore, call: Call, tag: string | null, base: string): Reply {
  const { options, nextSuffix } = listArgs(call.query, false)
  const size = options.size ?? PAGE_SIZE
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw invalidSize(`size must be an integer between 1 and ${MAX_PAGE_SIZE}`)
  const rows: Array<{ entity_name: string; entity_id: string; tag: string; ord: number }> = []
  for (const s of allSchemas()) {
    if (!Object.hasOwn(s.fields, 'tags')) continue
    for (const r of store.all(s.name)) {
      const tags = Array.isArray(r.tags) ? r.tags as string[] : []
      tags.forEach((t, i) => { if (tag === null || t === tag) rows.push({ entity_name: s.name, entity_id: r.id, tag: t, ord: i + 1 }) })
    }
  }
  rows.sort((a, b) => a.entity_id < b.entity_id ? -1 : a.entity_id > b.entity_id ? 1 : a.ord - b.ord)
  let start = 0
  if (options.offset !== undefined) {
    const [id, ord] = tagOffset(options.offset, tag === null)
    start = rows.findIndex((r) => r.entity_id > id || (r.entity_id === id && tag === null && r.ord > ord))
    if (start < 0) start = rows.length
  }
  const slice = rows.slice(start, start + size)
  const data = slice.map((r) => ({ entity_name: r.entity_name, entity_id: r.entity_id, tag: r.tag }))
  if (start + size >= rows.length) return ok({ data, next: null })
  const last = slice[slice.length - 1]!
  const offset = encodeTagOffset(tag === null ? [last.entity_id, last.ord] : [last.entity_id])
  return ok({ data, offset, next: `${base}?offset=${escapeUri(offset)}${tag === null ? nextSuffix : ''}` })
}

function customReads (d: DeclarativeAdmin, nodeId: string | null = null): Record<string, Handler> {
  const consumers = getSchema('consumers')!
  const acls = getSchema('acls')!
  const certificates = getSchema('certificates')!
  const snis = getSchema('snis')!
  const upstreams = getSchema('upstreams')!
  const targets = getSchema('targets')!
  const certOf = (st: MemoryStore, raw: string): StoreRow | null | 'sni' => {
    const key = decodeUtf8(decodeSegmentBytes(raw))
    if (typeof key === 'string' && isUuid(key)) return st.selectById('certificates', key)
    const sni = st.selectByField('snis', 'name', inferValue(key, snis.fields.name!))
    if (sni === null) return 'sni'
    return st.selectById('certificates', fkId(sni, 'certificate') ?? '')
  }
  const upstreamOf = (st: MemoryStore, call: Call): StoreRow | null => lookup(st, upstreams, entityKey(upstreams, call.params.upstreams!))
  const targetOf = (st: MemoryStore, call: Call, u: StoreRow): StoreRow | null => {
    const key = decodeUtf8(decodeSegmentBytes(call.params.targets!))
    let t: StoreRow | null = null
    if (typeof key === 'string' && isUuid(key)) t = st.selectById('targets', key)
    else if (typeof key === 'string') t = st.rowsWhere('targets', 'upstream', u.id).find((x) => x.target === key) ?? null
    return t !== null && fkId(t, 'upstream') === u.id ? t : null
  }
  const SNI_NOT_FOUND: Reply = { status: 404, body: { message: 'SNI not found' } }
  return {
    '/consumers': async (call) => {
      if (!Object.hasOwn(call.rawQuery, 'custom_id')) return page(d.store(), consumers, call, '/consumers')
      const id = call.rawQuery.custom_id
      if (typeof id !== 'string' || id === '') return { status: 400, body: { message: 'custom_id must be an unempty string' } }
      const found = d.store().selectByField('consumers', 'custom_id', id)
      return ok({ data: found === null ? [] : [found], next: null })
    },
    '/consumers/{consumers}/acls/{acls}': async (call) => {
      const st = d.store()
      const c = lookup(st, consumers, entityKey(consumers, call.params.consumers!))
      if (c === null) return NOT_FOUND
      const group = decodeUtf8(decodeSegmentBytes(call.params.acls!))
      const acl = typeof group === 'string' && isUuid(group)
        ? st.selectById('acls', group)
        : st.findOne(acls.name, { consumer: { id: c.id }, group })
      return acl === null || fkId(acl, 'consumer') !== c.id ? NOT_FOUND : ok(acl)
    },
    '/certificates/{certificates}': async (call) => {
      const c = certOf(d.store(), call.params.certificates!)
      return c === 'sni' ? SNI_NOT_FOUND : c === null ? NOT_FOUND : ok(c)
    },
    '/certificates/{certificates}/snis': async (call) => {
      const st = d.store()
      const c = certOf(st, call.params.certificates!)
      if (c === 'sni') return SNI_NOT_FOUND
      if (c === null) return NOT_FOUND
      return page(st, snis, call, `/certificates/${call.params.certificates!}/snis`, { field: 'certificate', id: c.id })
    },
    '/certificates/{certificates}/snis/{snis}': async (call) => {
      const st = d.store()
      const c = certOf(st, call.params.certificates!)
      if (c === 'sni') return SNI_NOT_FOUND
      const s = c === null ? null : lookup(st, snis, entityKey(snis, call.params.snis!))
      return s === null || fkId(s, 'certificate') !== (c as StoreRow).id ? NOT_FOUND : ok(s)
    },
    '/upstreams/{upstreams}/targets': async (call) => {
      const st = d.store()
      const u = upstreamOf(st, call)
      if (u === null) return NOT_FOUND
      const p = activePage(st.rowsWhere('targets', 'upstream', u.id), call)
      if (p.offset === undefined) return ok({ data: p.data, next: null })
      return ok({ data: p.data, offset: p.offset, next: `/upstreams/${call.params.upstreams!}/targets?offset=${escapeUri(p.offset)}` })
    },
    '/upstreams/{upstreams}/targets/all': async (call) => {
      const st = d.store()
      const u = upstreamOf(st, call)
      if (u === null) return NOT_FOUND
      return page(st, targets, call, `/upstreams/${call.params.upstreams!}/targets/all`, { field: 'upstream', id: u.id })
    },
    '/upstreams/{upstreams}/targets/{targets}': async (call) => {
      const st = d.store()
      const u = upstreamOf(st, call)
      const t = u === null ? null : targetOf(st, call, u)
      return t === null ? NOT_FOUND : ok(t)
    },
    '/upstreams/{upstreams}/health': async (call) => {
      const st = d.store()
      const u = upstreamOf(st, call)
      if (u === null) return NOT_FOUND
      if (call.rawQuery.balancer_health === '1') return ok({ data: { health: 'HEALTHCHECKS_OFF', balancer_health: 'HEALTHY', id: u.id }, next: null, node_id: nodeId })
      const p = activePage(st.rowsWhere('targets', 'upstream', u.id), call)
      const data = p.data.map((t) => ({ ...t, health: 'HEALTHCHECKS_OFF' }))
      const next = p.offset === undefined ? null : `/upstreams/${call.params.upstreams!}/health?offset=${escapeUri(p.offset)}`
      return ok(p.offset === undefined ? { data, next, node_id: nodeId } : { data, offset: p.offset, next, node_id: nodeId })
    },
    '/tags': async (call) => tagPage(d.store(), call, null, '/tags'),
    '/tags/{tags}': async (call) => {
      const raw = call.params.tags!
      const tag = decodeUtf8(decodeSegmentBytes(raw))
      const err = validateField(typedefs.tag, tag)
      if (err !== undefined || typeof tag !== 'string') throw invalidUnique('tag', typeof err === 'string' ? err : plPretty(err ?? 'invalid tag'))
      return tagPage(d.store(), call, tag, `/tags/${raw}`)
    },
  }
}

/** Which entity a custom route writes, for its refusals. */
const CUSTOM_WRITES: Record<string, Kind> = {}
function customWriteKinds (): Record<string, Kind> {
  if (Object.keys(CUSTOM_WRITES).length > 0) return CUSTOM_WRITES
  const s = (n: string): EntitySchema => getSchema(n)!
  CUSTOM_WRITES['/consumers/{consumers}/acls/{acls}'] = { kind: 'nestedEntity', s: s('acls'), fk: 'consumer', f: s('consumers') }
  CUSTOM_WRITES['/certificates/{certificates}'] = { kind: 'entity', s: s('certificates') }
  CUSTOM_WRITES['/certificates/{certificates}/snis'] = { kind: 'collection', s: s('snis') }
  CUSTOM_WRITES['/certificates/{certificates}/snis/{snis}'] = { kind: 'entity', s: s('snis') }
  CUSTOM_WRITES['/upstreams/{upstreams}/targets/{targets}'] = { kind: 'collection', s: s('targets') }
  return CUSTOM_WRITES
}

/** A refusal for a custom route: its entity, looked up as far as the URL allows. */
function customWrite (d: DeclarativeAdmin, template: string, m: Method): Handler {
  const k = customWriteKinds()[template]
  if (k === undefined) return async () => METHOD_NOT_ALLOWED
  if (template === '/consumers/{consumers}/acls/{acls}' || template === '/certificates/{certificates}/snis/{snis}' ||
    template === '/upstreams/{upstreams}/targets/{targets}' || template === '/certificates/{certificates}') {
    const read = customReads(d)[template]!
    return async (call) => {
      if (m === 'PUT') return refuse('create or update', k.s)
      const found = await read({ ...call, method: 'GET' })
      if (found.status === 404) return m === 'DELETE' && found.body === NOT_FOUND.body ? { status: 204 } : found
      return refuse(m === 'PATCH' ? 'update' : 'remove', k.s)
    }
  }
  return async () => refuse('create', k.s)
}

/**
 * The Admin API's routes for DB-less mode: same paths and methods, reads from the store, writes
 * refused. Routes that touch no entity (schemas, /status, /endpoints) stay as they are; `/`
 * reports the plugins of the served configuration.
 */
export function dblessRoutes (routes: readonly Route[], d: DeclarativeAdmin, nodeId: string): Route[] {
  const kinds = generatedKinds()
  const custom = customReads(d, nodeId)
  return routes.map((r) => {
    if (r.template === '/') {
      const parent = r.handlers.GET
      if (parent === undefined) return r
      return {
        ...r,
        handlers: {
          ...r.handlers,
          GET: async (call) => {
            const reply = await parent(call)
            const body = reply.body as { plugins?: { enabled_in_cluster?: unknown } } | undefined
            if (body?.plugins !== undefined) {
              body.plugins.enabled_in_cluster = [...new Set(d.store().all('plugins').map((p) => p.name as string))].sort()
            }
            return reply
          },
        },
      }
    }
    const k = kinds.get(r.template)
    const c = custom[r.template]
    const isCustom = c !== undefined || customWriteKinds()[r.template] !== undefined
    if (k === undefined && !isCustom) return r
    const handlers: Partial<Record<Method, Handler>> = {}
    for (const m of Object.keys(r.handlers) as Method[]) {
      if (m === 'GET') handlers.GET = c ?? (k !== undefined ? readHandler(d, k) : r.handlers.GET!)
      else if (isCustom && (k === undefined || customWriteKinds()[r.template] !== undefined)) handlers[m] = customWrite(d, r.template, m)
      else if (k !== undefined) handlers[m] = writeHandler(d, k, m)
      else handlers[m] = async () => METHOD_NOT_ALLOWED
    }
    return { ...r, handlers }
  })
}
