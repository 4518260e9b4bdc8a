/**
 * A parsed declarative config -> flat entity rows, or Kong's error tree
 * (kong/db/schema/others/declarative_config.lua `flatten`), in Kong's three stages:
 *
 *   1. shape and schema: top-level keys, `_format_version`, every entity (nested ones too) through
 *      its entity schema (auto fields, defaults, shorthands, checks) with Kong's messages, each at
 *      its path (`services[1].routes[2].paths`), all of them collected;
 *   2. identity: deterministic ids (uuid.ts), duplicate primary or endpoint keys, and foreign
 *      references by name or id that point nowhere;
 *   3. unique fields declared twice (`custom_id`, credential keys).
 *
 * A stage that finds errors ends the flattening; nothing after it runs. Rows come out in the
 * shape the DAO writes (foreign keys as `{id}`, timestamps in epoch seconds), in declaration
 * order, by entity table in dependency order.
 *
 * Deviations from Kong, each deliberate: an entity whose cache key Kong cannot build (key-auth and
 * jwt credentials, whose cache key is their `auto` key) gets its id from its endpoint key when the
 * file gives it, instead of a random one, so that re-importing a file keeps those ids too; a
 * foreign key given as `{id}` enters a cache key by its id (Kong leaves it out, which makes two
 * plugins on two services collide); certificates and CA certificates get their id from their
 * (public) certificate; an `updated_at` the file gives is kept (export -> import ->
 * export is an identity); errors of deeply nested entities are reported at their full path.
 */
import { formatTarget } from '../db/dao/hooks/targets.ts'
import { hashPassword } from '../db/dao/hooks/credentials.ts'
import { hashSecret } from '../plugins/oauth2/secret.ts'
import { NOT_ENABLED } from '../db/schema/entities/plugins.ts'
import { MSG, fmtOneOf } from '../db/schema/messages.ts'
import { processAutoFields } from '../db/schema/process.ts'
import type { EntitySchema, ErrorTree } from '../db/schema/types.ts'
import { validateEntity } from '../db/schema/validate.ts'
import { asArray, isPlainObject, isSequence, isUuid } from '../db/schema/validate-field.ts'
import { certDigest } from '../db/schema/validators/pem.ts'
import { getPlugin } from '../plugins/schemas.ts'
import { entityMeta, entityOrder, type ChildLink, type EntityMeta } from './entities.ts'
import type { Table } from './parse.ts'
import { entityUuid } from './uuid.ts'
import { migrateFormat } from './migrate.ts'
import { parameters, vaultNotInstalled } from './vaults.ts'
import { randomUUID } from 'node:crypto'

export const FORMAT_VERSIONS = ['1.1', '2.1', '3.0'] as const

export type Row = Record<string, unknown> & { id: string }

export interface Meta {
  _format_version: string
  _transform: boolean
  [key: string]: unknown
}

export interface Flattened {
  /** Entity table -> rows, tables in dependency order, rows in declaration order. */
  entities: Map<string, Row[]>
  meta: Meta
  count: number
}

export type ErrorTable = Record<string, ErrorTree>

export type FlattenResult = { ok: true; value: Flattened } | { ok: false; errors: ErrorTable }

export interface FlattenOptions {
  /** Plugin names this node enables (the `plugins` setting); absent: every known plugin. */
  enabledPlugins?: ReadonlySet<string>
  /** Called every `progressEvery` entities validated (CLI progress). */
  onProgress?: (done: number) => void
  progressEvery?: number
}

type Path = ReadonlyArray<string | number>

interface Node {
  readonly meta: EntityMeta
  readonly item: Table
  readonly index: number
  readonly path: Path
  readonly parent: Node | null
  /** The foreign key of this entity to the parent it is nested under. */
  readonly link: ChildLink | null
  id: unknown
  /** The id was generated from the entity's key (not given, not random). */
  keyed: boolean
  row: Row | null
  /** Foreign keys given by name or id, resolved in stage 2. */
  refs: Array<{ field: string; reference: string; value: unknown }>
  /** A nested entity's own `{id}` for its parent's key: must exist (stage 2), the parent wins. */
  parentRef?: { field: string; reference: string; value: unknown }
}

/** Ids and unique endpoint key values of every entity of the input, by entity table. */
type KnownKeys = Map<string, Set<string>>

function knownKeys (nodes: readonly Node[]): KnownKeys {
  const out: KnownKeys = new Map()
  for (const n of nodes) {
    let s = out.get(n.meta.name)
    if (s === undefined) { s = new Set(); out.set(n.meta.name, s) }
    if (typeof n.id === 'string') s.add(n.id)
    const ek = n.meta.schema.endpoint_key
    if (ek !== undefined && n.meta.schema.fields[ek]?.unique === true) {
      const v = keyText(n.item[ek])
      if (v !== undefined) s.add(v)
    }
  }
  return out
}

/** A valid UUID no entity has: foreign references stand on it until stage 2 resolves them. */
const UNRESOLVED = '00000000-0000-4000-8000-000000000000'

/**
 * Creates the containers along `path` and returns the one at its end: an array where the next
 * segment is an index, an object otherwise (`leaf` says what the last one holds).
 */
function containerAt (root: ErrorTable, path: Path, leafIsIndex: boolean): ErrorTable {
  let cur: Record<string | number, unknown> = root
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!
    const nextIsIndex = i + 1 < path.length ? typeof path[i + 1] === 'number' : leafIsIndex
    let next = cur[seg]
    if (next === undefined || next === null || typeof next !== 'object') {
      next = nextIsIndex ? [] : Object.create(null)
      cur[seg] = next
    }
    cur = next as Record<string | number, unknown>
  }
  return cur as ErrorTable
}

function setAt (root: ErrorTable, path: Path, value: ErrorTree): void {
  const last = path[path.length - 1]!
  const parent = containerAt(root, path.slice(0, -1), typeof last === 'number') as Record<string | number, unknown>
  parent[last] = value
}

function mergeAt (root: ErrorTable, path: Path, errors: ErrorTable): void {
  const target = containerAt(root, path, false)
  for (const k of Object.keys(errors)) target[k] = errors[k]!
}

const hasKeys = (t: object): boolean => Object.keys(t).length > 0

/** The value of a field as Kong's Lua would concatenate it into a key. */
function keyText (v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return undefined
}

const fkId = (v: unknown): string | undefined => {
  if (!isPlainObject(v)) return undefined
  return typeof v.id === 'string' ? v.id : undefined
}

/** build_cache_key: `entity:*:v1:v2...`, or undefined when a needed value is missing. */
function buildCacheKey (node: Node, parentId: string | undefined): string | undefined {
  const schema = node.meta.schema
  const ck: string[] = [node.meta.name, '*']
  for (const k of schema.cache_key ?? []) {
    const f = schema.fields[k]!
    if (f.auto === true) return undefined
    const v = node.item[k]
    if (typeof v === 'string') ck.push(v)
    else if (v === undefined) {
      if (node.link !== null && k === node.link.field) {
        if (parentId === undefined) return undefined
        ck.push(parentId)
      } else if (f.required === true) return undefined
      else ck.push('')
    } else if (f.type === 'foreign' && fkId(v) !== undefined) ck.push(fkId(v)!)
  }
  return ck.join(':')
}

/** get_key_for_uuid_gen: the key this entity's id is generated from, if any. */
function uuidKey (node: Node, parentId: string | undefined): string | undefined {
  const schema = node.meta.schema
  if (schema.primary_key.length !== 1 || schema.primary_key[0] !== 'id') return undefined
  const ek = schema.endpoint_key
  const ekValue = ek !== undefined ? keyText(node.item[ek]) : undefined
  if (schema.cache_key !== undefined) {
    const key = buildCacheKey(node, parentId)
    if (key !== undefined) return key
    // Sluice: Kong would pick a random id here; a unique endpoint key is as stable as a cache key.
    return ek !== undefined && schema.fields[ek]?.unique === true ? ekValue : undefined
  }
  if (ek === undefined || ekValue === undefined) {
    // Sluice: certificates have neither key in Kong (random ids, so a re-import would clash on
    // `cert_digest`); their certificate, which is public, identifies them as well.
    if ((node.meta.name === 'certificates' || node.meta.name === 'ca_certificates') && typeof node.item.cert === 'string') return node.item.cert.trim()
    return undefined
  }
  let key = ekValue
  if (schema.fields[ek]?.unique !== true) {
    for (const fk of node.meta.foreign) {
      if (schema.fields[fk.field]?.on_delete !== 'cascade') continue
      const v = node.link !== null && node.link.field === fk.field ? parentId : keyText(node.item[fk.field]) ?? fkId(node.item[fk.field])
      key += `:${v ?? ''}`
    }
    key += ':*'
  }
  return key
}

function formatVersionError (v: unknown): string | undefined {
  if (v === undefined || v === null) return MSG.REQUIRED
  if (typeof v !== 'string') return MSG.STRING
  if (!(FORMAT_VERSIONS as readonly string[]).includes(v)) return fmtOneOf(FORMAT_VERSIONS.join(', '))
  return undefined
}

export function flatten (input: Table, opts: FlattenOptions = {}): FlattenResult {
  migrateFormat(input)
  const errors: ErrorTable = Object.create(null)
  const order = entityOrder()

  // ---- top level
  for (const key of Object.keys(input)) {
    const v = input[key]
    if (key === '_format_version' || key === '_transform' || key === '_comment' || key === '_ignore') continue
    if (key === 'parameters') { checkParameters(v, errors); continue }
    if (entityMeta(key) === undefined) errors[key] = MSG.UNKNOWN
    else if (v !== null && v !== undefined && !isSequence(v)) errors[key] = MSG.ARRAY
  }
  const fv = formatVersionError(input._format_version)
  if (fv !== undefined) errors._format_version = fv
  const transform = input._transform
  if (transform !== undefined && transform !== null && typeof transform !== 'boolean') errors._transform = MSG.BOOLEAN
  if (input._comment !== undefined && input._comment !== null && typeof input._comment !== 'string') errors._comment = MSG.STRING
  if (input._ignore !== undefined && input._ignore !== null && !isSequence(input._ignore)) errors._ignore = MSG.ARRAY

  // ---- walk: ids (pre-order: a parent's id before its children's), post-order list for stage 2
  const nodes: Node[] = []
  const walk = (container: Table, parent: Node | null, basePath: Path): void => {
    for (const name of order) {
      const meta = entityMeta(name)!
      let link: ChildLink | null = null
      if (parent !== null) {
        const l = parent.meta.children.get(name)
        if (l === undefined) continue
        const own = parent.meta.schema.fields[name]
        if (own !== undefined && own.transient !== true) continue
        link = l
      }
      const list = container[name]
      if (list === undefined || list === null) continue
      if (!isSequence(list)) {
        if (parent !== null) setAt(errors, [...basePath, name], MSG.ARRAY)
        continue
      }
      const items = Array.isArray(list) ? list : []
      for (let i = 0; i < items.length; i++) {
        let item = items[i]
        const path = [...basePath, name, i]
        // Sluice: `certificates[].snis: [name, ...]` as shorthand for `[{name}, ...]`
        if (name === 'snis' && parent !== null && typeof item === 'string') item = Object.assign(Object.create(null), { name: item })
        if (!isPlainObject(item)) { setAt(errors, path, MSG.RECORD); continue }
        const node: Node = { meta, item, index: i, path, parent, link, id: item.id, keyed: false, row: null, refs: [] }
        if (node.id === undefined || node.id === null) {
          const parentId = parent !== null && typeof parent.id === 'string' ? parent.id : undefined
          const key = uuidKey(node, parentId)
          node.keyed = key !== undefined
          node.id = key !== undefined ? entityUuid(name, key) : randomUUID()
        }
        walk(item, node, path)
        nodes.push(node)
      }
    }
  }
  walk(input, null, [])

  // ---- stage 1: every entity through its schema
  const enabled = opts.enabledPlugins
  const every = opts.progressEvery ?? 10_000
  let done = 0
  let known: KnownKeys | undefined
  const knownNow = (): KnownKeys => (known ??= knownKeys(nodes))
  for (const node of nodes) {
    const fieldErrors = validateNode(node, enabled, knownNow)
    if (fieldErrors !== undefined) mergeAt(errors, node.path, fieldErrors)
    if (opts.onProgress !== undefined && ++done % every === 0) opts.onProgress(done)
  }
  if (hasKeys(errors)) return { ok: false, errors }

  const meta: Meta = { _format_version: input._format_version as string, _transform: transform !== false }
  for (const k of Object.keys(input)) if (k.startsWith('_') && k !== '_format_version' && k !== '_transform') meta[k] = input[k]

  // ---- stage 2: identity and references (populate_references + validate_references)
  const stage2 = new KeyedErrors()
  const byId = new Map<string, Map<string, Node>>()
  const byKey = new Map<string, Map<string, Node>>()
  for (const name of order) { byId.set(name, new Map()); byKey.set(name, new Map()) }
  const expected: Array<{ node: Node; at: string; field: string; reference: string; value: unknown; nested?: boolean }> = []
  for (const node of nodes) {
    const schema = node.meta.schema
    const row = node.row!
    const ek = schema.endpoint_key
    const useKey = ek !== undefined && schema.fields[ek]?.unique === true
    const key = useKey ? keyText(row[ek]) : undefined
    let failed = false
    if (key !== undefined) {
      const keys = byKey.get(node.meta.name)!
      if (keys.has(key)) {
        stage2.atPath(node.path, uniquenessMsg(node.meta.name, ek!, key))
        failed = true
      } else keys.set(key, node)
    }
    const ids = byId.get(node.meta.name)!
    if (ids.has(row.id)) {
      if (!failed) stage2.atPath(node.path, uniquenessMsg(node.meta.name, 'primary key', row.id))
    } else ids.set(row.id, node)
    for (const r of node.refs) expected.push({ node, at: key ?? row.id, ...r })
    if (node.parentRef !== undefined) expected.push({ node, at: key ?? row.id, ...node.parentRef, nested: true })
  }
  for (const e of expected) {
    const lookup = typeof e.value === 'string' ? e.value : fkId(e.value)
    const found = lookup === undefined
      ? undefined
      : (typeof e.value === 'string' ? byKey.get(e.reference)?.get(lookup) : undefined) ?? byId.get(e.reference)?.get(lookup)
    if (found === undefined) {
      const shown = typeof e.value === 'string' ? e.value : JSON.stringify(e.value)
      stage2.atKey(e.node.meta.name, e.at, `invalid reference '${e.field}: ${shown}' (no such entry in '${e.reference}')`)
    } else if (e.nested !== true) e.node.row![e.field] = { id: found.row!.id }
  }
  if (!stage2.empty()) { showKeyedIds(nodes); return { ok: false, errors: stage2.table() } }

  // ---- stage 3: unique fields declared twice
  const stage3: ErrorTable = Object.create(null)
  const entities = new Map<string, Row[]>()
  let count = 0
  for (const name of order) {
    const m = entityMeta(name)!
    const rows: Row[] = []
    const seen = new Map<string, Set<string>>()
    for (const node of byId.get(name)!.values()) {
      const row = node.row!
      for (const f of m.unique) {
        const v = row[f]
        const text = keyText(v) ?? fkId(v)
        if (text === undefined) continue
        let s = seen.get(f)
        if (s === undefined) { s = new Set(); seen.set(f, s) }
        if (s.has(text)) {
          const ek = m.schema.endpoint_key
          const at = (ek !== undefined ? keyText(row[ek]) : undefined) ?? row.id
          const t = (stage3[name] ??= Object.create(null)) as ErrorTable
          t[at] = uniquenessMsg(name, f, text)
        } else s.add(text)
      }
      rows.push(row)
    }
    if (rows.length > 0) { entities.set(name, rows); count += rows.length }
  }
  if (hasKeys(stage3)) { showKeyedIds(nodes); return { ok: false, errors: stage3 } }

  transformRows(entities, meta._transform)
  return { ok: true, value: { entities, meta, count } }
}

/** `parameters`: a list of `{key, value}` records, keys unique; validated, then left out. */
function checkParameters (v: unknown, errors: ErrorTable): void {
  if (v === null || v === undefined) return
  if (!isSequence(v)) { errors.parameters = MSG.ARRAY; return }
  const seen = new Set<string>()
  asArray(v).forEach((item, i) => {
    let err: ErrorTree | undefined
    if (!isPlainObject(item)) err = MSG.RECORD
    else {
      const rec: Table = Object.create(null)
      for (const k of Object.keys(item)) if (k !== '_comment' && k !== '_ignore') rec[k] = item[k]
      const p = processAutoFields(parameters, rec, 'insert')
      err = 'errors' in p ? p.errors : validateEntity(parameters, p.entity, true)
      if (err === undefined && typeof item.key === 'string') {
        if (seen.has(item.key)) err = uniquenessMsg('parameters', 'key', item.key)
        seen.add(item.key)
      }
    }
    if (err !== undefined) setAt(errors, ['parameters', i], err)
  })
}

/**
 * Errors found once ids exist (stages 2 and 3) come with the input as Kong leaves it by then:
 * every entity whose id was generated from its key carries that id, so a flattened error names
 * the id its message speaks of (`primary key set to '<id>'`).
 */
function showKeyedIds (nodes: readonly Node[]): void {
  for (const n of nodes) if (n.keyed && (n.item.id === undefined || n.item.id === null)) n.item.id = n.id
}

function uniquenessMsg (entity: string, key: string, value: string): string {
  return `uniqueness violation: '${entity}' entity with ${key} set to '${value}' already declared`
}

/** One entity: its own record (children and extras taken out) through the schema. */
function validateNode (node: Node, enabled: ReadonlySet<string> | undefined, known: () => KnownKeys): ErrorTable | undefined {
  const { meta, item } = node
  const schema: EntitySchema = meta.schema
  const errs: ErrorTable = Object.create(null)
  const rec: Table = Object.create(null)
  let ttl: unknown
  for (const k of Object.keys(item)) {
    const v = item[k]
    if (k === '_comment') { if (v !== null && typeof v !== 'string') errs[k] = MSG.STRING; continue }
    if (k === '_ignore') { if (v !== null && !isSequence(v)) errs[k] = MSG.ARRAY; continue }
    const own = schema.fields[k]
    if (meta.children.has(k) && (own === undefined || own.transient === true)) continue
    if (schema.ttl === true && k === 'ttl') {
      if (v !== null && typeof v !== 'number') errs.ttl = MSG.NUMBER
      ttl = v
      continue
    }
    rec[k] = v
  }
  rec.id = node.id
  // foreign keys: the parent's when nested; a name or id reference otherwise
  for (const fk of meta.foreign) {
    const v = rec[fk.field]
    if (node.link !== null && fk.field === node.link.field) {
      // Kong's second validation pass resolves a nested entity's own key for its parent: an `{id}`
      // is checked as a reference (#7696), a name or id that exists is replaced by the parent's;
      // anything else stays the first pass's "value must be null"
      if (v !== undefined && v !== null && !namesParent(node, v)) {
        if (isPlainObject(v) && isUuid(v.id) && Object.keys(v).length === 1) node.parentRef = { field: fk.field, reference: fk.reference, value: v }
        else if (typeof v !== 'string' || known().get(fk.reference)?.has(v) !== true) errs[fk.field] = 'value must be null'
      }
      rec[fk.field] = typeof node.parent?.id === 'string' ? { id: node.parent.id } : { id: UNRESOLVED }
      continue
    }
    // a nested entity's other foreign keys: a name or id must exist (Kong's first pass refuses
    // any, its second resolves those that exist), an `{id}` is checked in stage 2
    if (node.link !== null && typeof v === 'string' && known().get(fk.reference)?.has(v) !== true) {
      errs[fk.field] = 'value must be null'
      rec[fk.field] = null
      continue
    }
    if (typeof v === 'string' || (isPlainObject(v) && isUuid(v.id))) {
      node.refs.push({ field: fk.field, reference: fk.reference, value: v })
      rec[fk.field] = { id: UNRESOLVED }
    }
  }
  if (meta.name === 'targets' && typeof rec.target === 'string') {
    const t = formatTarget(rec.target)
    if (t !== null) rec.target = t
  }
  if (meta.name === 'plugins' && enabled !== undefined && typeof rec.name === 'string' && getPlugin(rec.name) !== undefined && !enabled.has(rec.name)) {
    errs.name = NOT_ENABLED.replace('%s', rec.name)
    return errs
  }
  const noVault = meta.name === 'vaults' ? vaultNotInstalled(rec.name) : undefined
  if (noVault !== undefined) {
    errs.name = noVault
    return errs
  }
  const processed = processAutoFields(schema, rec, 'insert')
  if ('errors' in processed) {
    Object.assign(errs, processed.errors)
    return errs
  }
  const entity = processed.entity
  const invalid = validateEntity(schema, entity, true)
  if (invalid !== undefined) Object.assign(errs, invalid)
  if (hasKeys(errs)) return errs
  if (typeof item.updated_at === 'number' && Object.hasOwn(schema.fields, 'updated_at')) entity.updated_at = item.updated_at
  for (const [k, f] of Object.entries(schema.fields)) if (f.transient === true) delete entity[k]
  for (const r of node.refs) entity[r.field] = null
  if (schema.ttl === true) entity.ttl = typeof ttl === 'number' ? ttl : null
  node.row = entity as Row
  return undefined
}

/** A nested entity may still name the parent it is nested under (by id or endpoint key). */
function namesParent (node: Node, v: unknown): boolean {
  const p = node.parent
  if (p === null) return false
  if (isPlainObject(v)) return v.id === p.id && Object.keys(v).length === 1
  if (typeof v !== 'string') return false
  const ek = p.meta.schema.endpoint_key
  return v === p.id || (ek !== undefined && p.item[ek] === v)
}

/** Kong's schema transformations on write (`_transform`) and derived fields. */
function transformRows (entities: Map<string, Row[]>, transform: boolean): void {
  if (transform) {
    for (const r of entities.get('basicauth_credentials') ?? []) {
      const cid = fkId(r.consumer)
      if (cid !== undefined && typeof r.password === 'string') r.password = hashPassword(cid, r.password)
    }
    // oauth2 daos.lua transformation: the client secret is stored hashed when hash_secret is true
    for (const r of entities.get('oauth2_credentials') ?? []) {
      if (r.hash_secret === true && typeof r.client_secret === 'string') r.client_secret = hashSecret(r.client_secret)
    }
  }
  for (const r of entities.get('ca_certificates') ?? []) {
    if (typeof r.cert === 'string') r.cert_digest = certDigest(r.cert) ?? null
  }
}

/**
 * Stage 2 errors: by index at an entity's path (duplicates), or by name/id under the entity
 * table (references). A table with both becomes an object with 1-based index keys, as cjson
 * encodes a Lua table with both kinds of keys.
 */
class KeyedErrors {
  readonly #byPath: Array<{ path: Path; msg: string }> = []
  readonly #byKey = new Map<string, Map<string, string[]>>()

  atPath (path: Path, msg: string): void { this.#byPath.push({ path, msg }) }

  atKey (entity: string, key: string, msg: string): void {
    let m = this.#byKey.get(entity)
    if (m === undefined) { m = new Map(); this.#byKey.set(entity, m) }
    const list = m.get(key)
    if (list === undefined) m.set(key, [msg])
    else list.push(msg)
  }

  empty (): boolean { return this.#byPath.length === 0 && this.#byKey.size === 0 }

  table (): ErrorTable {
    const out: ErrorTable = Object.create(null)
    for (const { path, msg } of this.#byPath) setAt(out, path, msg)
    for (const [entity, keys] of this.#byKey) {
      let t = out[entity]
      if (Array.isArray(t)) {
        const obj: Record<string, ErrorTree> = Object.create(null)
        t.forEach((v, i) => { if (v !== undefined) obj[String(i + 1)] = v })
        t = obj
      } else if (t === undefined || typeof t !== 'object') t = Object.create(null)
      const obj = t as Record<string, ErrorTree>
      for (const [k, msgs] of keys) obj[k] = msgs
      out[entity] = obj
    }
    return out
  }
}
