/**
 * The generic, schema-driven DAO (kong/db/dao/init.lua plus the postgres strategy): reads by
 * primary key, unique field or foreign key, keyset pages by primary key, and the four writes
 * with Kong's order of steps (options, auto fields, read-before-write and merge, foreign key
 * resolution, validation, transformations, SQL), with per-entity hooks (hooks.ts) at fixed
 * points. Deletes cascade as Kong's `on_delete = "cascade"` does, with one event per row.
 *
 * Writes take a WriteTx: the caller's transaction, so one Admin API call that touches several
 * entities commits all of them, with one cluster_events row per changed entity, or none.
 */
import {
  foreignKeyViolationInvalidReference, foreignKeysUnresolved, invalidOptions, invalidSize, invalidUnique, notFound,
  notFoundByField, schemaViolation,
} from '../schema/db-errors.ts'
import { plPretty } from '../schema/pretty.ts'
import { mergeValues, processAutoFields } from '../schema/process.ts'
import { getSchema } from '../schema/registry.ts'
import type { EntitySchema } from '../schema/types.ts'
import { validateEntity } from '../schema/validate.ts'
import { isPlainObject, validateField, validatePrimaryKey } from '../schema/validate-field.ts'
import { columnsOf, fromRow, paramExpr, tableOf, toParam, type Column } from './columns.ts'
import { collectCascade } from './cascade.ts'
import { recordEvent, type CrudOp } from './events.ts'
import { hooksFor } from './hooks/index.ts'
import type { DaoHooks, Entity, HookDao, Queryable, WriteCtx, WriteOp, WriteTx } from './hooks.ts'
import { decodeOffset, encodeOffset } from './paging.ts'
import { mapPgError } from './pg-errors.ts'
import { liveCondition, rowValues, selectSql } from './row-sql.ts'

export type { Entity, Queryable, WriteTx } from './hooks.ts'
/** The primary key, or a unique field (the endpoint key) and its value. */
export type EntityKey = { readonly id: string } | { readonly field: string; readonly value: unknown }

export const PAGE_SIZE = 100
export const MAX_PAGE_SIZE = 1000
/** kong/constants.lua DATABASE.DAO_MAX_TTL */
export const MAX_TTL = 1e8

export interface PageOptions {
  size?: number
  offset?: string
  tags?: readonly string[]
  tagsCond?: 'and' | 'or'
  /** Nested collections: rows whose foreign key `field` is `id`. */
  foreign?: { readonly field: string; readonly id: string }
}

export interface Page { data: Entity[]; offset?: string }

/** Write options (Kong's `options`): `ttl` seconds for entities whose rows expire. */
export interface WriteOptions { ttl?: unknown }

export class Dao implements HookDao {
  readonly schema: EntitySchema
  readonly #cols: readonly Column[]
  readonly #table: string
  readonly #select: string
  readonly #live: string | null
  readonly #hooks: DaoHooks

  constructor (schema: EntitySchema) {
    this.schema = schema
    this.#cols = columnsOf(schema)
    this.#table = tableOf(schema)
    this.#select = selectSql(schema, false)
    this.#live = liveCondition(schema)
    this.#hooks = hooksFor(schema.name)
  }

  /** A database row in the exact shape GET returns: every field, explicit nulls. */
  toEntity (row: Record<string, unknown>, hideShorthands = false): Entity {
    const r = processAutoFields(this.schema, fromRow(this.schema, row), 'select', hideShorthands)
    const e = 'entity' in r ? r.entity : fromRow(this.schema, row)
    if (this.schema.ttl === true) e.ttl = row.ttl ?? null
    return e
  }

  async #query (q: Queryable, sql: string, params: unknown[], entity: Entity | null = null): Promise<Record<string, unknown>[]> {
    try {
      return (await q.query(sql, params)).rows as Record<string, unknown>[]
    } catch (err) {
      throw mapPgError(err, this.schema, entity)
    }
  }

  #where (conds: string[]): string {
    const all = this.#live !== null ? [...conds, this.#live] : conds
    return all.length > 0 ? ` where ${all.join(' and ')}` : ''
  }

  async #rows (q: Queryable, conds: string[], params: unknown[], tail = '', hide = false): Promise<Entity[]> {
    const rows = await this.#query(q, `select ${this.#select} from ${this.#table}${this.#where(conds)}${tail}`, params)
    const out = rows.map((r) => this.toEntity(r, hide))
    await this.#hooks.expand?.(q, out, daoByName)
    return out
  }

  async selectById (q: Queryable, id: string, forUpdate = false, hide = false): Promise<Entity | null> {
    return (await this.#rows(q, ['"id" = $1::uuid'], [id], forUpdate ? ' for update' : '', hide))[0] ?? null
  }

  /** select_by_<field>: the value is validated first (Kong's "invalid unique" 400). */
  async selectByField (q: Queryable, field: string, value: unknown, forUpdate = false, hide = false): Promise<Entity | null> {
    const c = this.#column(field)
    const err = validateField(c.def, value)
    if (err !== undefined) throw invalidUnique(field, typeof err === 'string' ? err : plPretty(err))
    return (await this.#rows(q, [`${c.sql} = ${paramExpr(c, 1)}`], [toParam(c, value)], forUpdate ? ' for update' : '', hide))[0] ?? null
  }

  select (q: Queryable, key: EntityKey, forUpdate = false, hide = false): Promise<Entity | null> {
    return 'id' in key ? this.selectById(q, key.id, forUpdate, hide) : this.selectByField(q, key.field, key.value, forUpdate, hide)
  }

  /** The row matching every `field = value` of the filter (foreign keys by `{id}`), if any. */
  async findOne (q: Queryable, filter: Record<string, unknown>): Promise<Entity | null> {
    const conds: string[] = []
    const params: unknown[] = []
    for (const [f, v] of Object.entries(filter)) {
      const c = this.#column(f)
      params.push(toParam(c, v))
      conds.push(`${c.sql} = ${paramExpr(c, params.length)}`)
    }
    return (await this.#rows(q, conds, params, ' limit 1'))[0] ?? null
  }

  /** Every row whose foreign key `field` is `id`, ordered by id. */
  rowsWhere (q: Queryable, field: string, id: string): Promise<Entity[]> {
    return this.#rows(q, [`${this.#column(field).sql} = $1::uuid`], [id], ' order by "id"')
  }

  /** One page, ordered by primary key, fetching size+1 rows to know whether more follow. */
  async page (q: Queryable, opts: PageOptions = {}): Promise<Page> {
    const size = opts.size ?? PAGE_SIZE
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw invalidSize(`size must be an integer between 1 and ${MAX_PAGE_SIZE}`)
    const conds: string[] = []
    const params: unknown[] = []
    if (opts.foreign !== undefined) {
      params.push(opts.foreign.id)
      conds.push(`${this.#column(opts.foreign.field).sql} = $${params.length}::uuid`)
    } else if (opts.tags !== undefined && opts.tags.length > 0) {
      params.push(opts.tags)
      conds.push(`"tags" ${opts.tagsCond === 'or' ? '&&' : '@>'} $${params.length}::text[]`)
    }
    if (opts.offset !== undefined) {
      const [id] = decodeOffset(opts.offset)
      params.push(id)
      conds.push(`"id" > $${params.length}::uuid`)
    }
    params.push(size + 1)
    const rows = await this.#rows(q, conds, params, ` order by "id" limit $${params.length}`)
    const data = rows.slice(0, size)
    if (rows.length <= size) return { data }
    return { data, offset: encodeOffset([data[size - 1]!.id]) }
  }

  /**
   * Every row, ordered by id (or the one row `id`). `forSnapshot` adds what the proxy needs
   * beyond the Admin API's shape: `expires_at` (epoch seconds or null) for rows with a ttl.
   */
  async all (q: Queryable, forSnapshot = false, id?: string): Promise<Entity[]> {
    const conds = id !== undefined ? ['"id" = $1::uuid'] : []
    const sql = `select ${selectSql(this.schema, forSnapshot)} from ${this.#table}${this.#where(conds)} order by "id"`
    const rows = await this.#query(q, sql, id !== undefined ? [id] : [])
    const out = rows.map((r) => {
      const e = this.toEntity(r)
      if (forSnapshot && this.schema.ttl === true) e.expires_at = r.__expires_at ?? null
      return e
    })
    await this.#hooks.expand?.(q, out, daoByName)
    return out
  }

  /** POST: check_insert, then INSERT. */
  async insert (tx: WriteTx, input: Entity, opts: WriteOptions = {}): Promise<Entity> {
    const ttl = this.#ttl(opts)
    const ctx = this.#ctx(tx, 'insert', input, null)
    const entity = this.#auto(this.#hooks.prepare?.(ctx, input) ?? input, 'insert')
    await this.#checked(ctx, entity, true)
    const v = rowValues(this.schema, entity, this.#expiresAt(entity, ttl, 'created_at'), true)
    const sql = `insert into ${this.#table} (${v.names.join(', ')}) values (${v.exprs.join(', ')}) returning "id"`
    const rows = await this.#query(tx.client, sql, v.params, entity)
    return await this.#written(ctx, rows[0]!.id as string, 'create')
  }

  /** PUT: check_upsert, then INSERT .. ON CONFLICT (key) DO UPDATE: full replacement. */
  async upsert (tx: WriteTx, key: EntityKey, input: Entity, opts: WriteOptions = {}): Promise<Entity> {
    const ttl = this.#ttl(opts)
    this.#checkKey(key)
    const current = await this.select(tx.client, key, true, true)
    const ctx = this.#ctx(tx, 'upsert', input, current)
    const entity = this.#auto(this.#hooks.prepare?.(ctx, input) ?? input, 'upsert')
    const conflict = 'id' in key ? this.#column('id') : this.#column(key.field)
    // The URL key wins over the body (kong/db/dao/init.lua check_upsert, strategy collapse).
    entity[conflict.field] = 'id' in key ? key.id : key.value
    await this.#checked(ctx, entity, true)
    const v = rowValues(this.schema, entity, this.#expiresAt(entity, ttl, 'created_at'), true)
    const pk = this.schema.primary_key
    const updates = v.names.filter((n) => !pk.some((k) => n === `"${k}"`)).map((n) => `${n} = excluded.${n}`)
    const sql = `insert into ${this.#table} (${v.names.join(', ')}) values (${v.exprs.join(', ')})` +
      ` on conflict (${conflict.sql}) do update set ${updates.join(', ')} returning "id", (xmax = 0) as "__inserted"`
    const row = (await this.#query(tx.client, sql, v.params, entity))[0]!
    return await this.#written(ctx, row.id as string, row.__inserted === true ? 'create' : 'update')
  }

  /** PATCH: check_update (read, merge, validate), then UPDATE. 404 error when absent. */
  async update (tx: WriteTx, key: EntityKey, input: Entity, opts: WriteOptions = {}): Promise<Entity> {
    const ttl = this.#ttl(opts)
    this.#checkKey(key)
    const current = await this.select(tx.client, key, true, true)
    const ctx = this.#ctx(tx, 'update', input, current)
    const changes = this.#auto(this.#hooks.prepare?.(ctx, input) ?? input, 'update')
    if (current === null) throw 'id' in key ? notFound({ id: key.id }) : notFoundByField({ [key.field]: key.value })
    // `ttl` (seconds left) is shown on reads of expiring rows but is not a field to write back
    if (this.schema.ttl === true) delete current.ttl
    const entity = mergeValues(this.schema, changes, current)
    await this.#checked(ctx, entity, false)
    const v = rowValues(this.schema, entity, this.#expiresAt(entity, ttl, 'updated_at'), false, 2)
    const sets = v.names.map((n, i) => `${n} = ${v.exprs[i]!}`)
    const sql = `update ${this.#table} set ${sets.join(', ')} where "id" = $1::uuid returning "id"`
    const rows = await this.#query(tx.client, sql, [current.id, ...v.params], entity)
    if (rows[0] === undefined) throw notFound({ id: current.id })
    return await this.#written(ctx, rows[0].id as string, 'update')
  }

  /** DELETE: true when a row went away. Cascades; a still referenced row is Kong's foreign key error. */
  async delete (tx: WriteTx, key: EntityKey): Promise<boolean> {
    const current = await this.select(tx.client, key)
    if (current === null) return false
    const id = current.id as string
    await this.#hooks.beforeDelete?.(tx, current, daoByName)
    const cascaded = await collectCascade(tx.client, this.schema.name, id)
    const rows = await this.#query(tx.client, `delete from ${this.#table} where "id" = $1::uuid returning "id"`, [id])
    if (rows[0] === undefined) return false
    await recordEvent(tx.client, tx.nodeId, this.schema.name, 'delete', id)
    for (const c of cascaded) await recordEvent(tx.client, tx.nodeId, c.entity, 'delete', c.id)
    await this.#hooks.afterDelete?.(tx, current)
    return true
  }

  #ctx (tx: WriteTx, op: WriteOp, input: Entity, current: Entity | null): WriteCtx {
    return { tx, op, input: isPlainObject(input) ? input : {}, current, dao: daoByName }
  }

  /** Foreign keys, hooks and validation, in Kong's order; throws the first failing step's error. */
  async #checked (ctx: WriteCtx, entity: Entity, full: boolean): Promise<void> {
    await this.#resolveForeign(ctx.tx.client, entity)
    this.#hooks.check?.(ctx, entity)
    const errors = validateEntity(this.schema, entity, full, !full)
    if (errors !== undefined) throw schemaViolation(errors)
    this.#checkUnknownReferences(entity)
    await this.#hooks.transform?.(ctx, entity)
  }

  async #written (ctx: WriteCtx, id: string, op: CrudOp): Promise<Entity> {
    await recordEvent(ctx.tx.client, ctx.tx.nodeId, this.schema.name, op, id)
    const first = await this.selectById(ctx.tx.client, id)
    if (first === null) throw notFound({ id })
    if (this.#hooks.after === undefined) return first
    await this.#hooks.after(ctx, first)
    return (await this.selectById(ctx.tx.client, id)) ?? first
  }

  /** validate_options_value: `ttl` only where rows expire, an integer in 0..1e8. */
  #ttl (opts: WriteOptions): number | null {
    if (opts.ttl === undefined) return null
    if (this.schema.ttl !== true) throw invalidOptions({ ttl: `cannot be used with '${this.schema.name}'` })
    const t = opts.ttl
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > MAX_TTL) throw invalidOptions({ ttl: `must be an integer between 0 and ${MAX_TTL}` })
    return t === 0 ? null : t
  }

  /** get_ttl_value: the entity's own timestamp plus the ttl, else now plus the ttl. */
  #expiresAt (entity: Entity, ttl: number | null, stamp: string): number | null {
    if (ttl === null) return null
    const base = typeof entity[stamp] === 'number' ? entity[stamp] : Date.now() / 1000
    return base + ttl
  }

  /** validate_unique_row_method: a malformed key is Kong's "invalid unique <field>" (400). */
  #checkKey (key: EntityKey): void {
    if ('id' in key) return
    const err = validateField(this.#column(key.field).def, key.value)
    if (err !== undefined) throw invalidUnique(key.field, typeof err === 'string' ? err : plPretty(err))
  }

  #column (field: string): Column {
    const c = this.#cols.find((x) => x.field === field)
    if (c === undefined) throw new Error(`${this.schema.name} has no field '${field}'`)
    return c
  }

  #auto (input: Entity, ctx: 'insert' | 'upsert' | 'update'): Entity {
    const r = processAutoFields(this.schema, isPlainObject(input) ? input : {}, ctx)
    if ('errors' in r) throw schemaViolation(r.errors)
    return r.entity
  }

  /** A reference to an entity this build has no table for cannot exist. */
  #checkUnknownReferences (entity: Entity): void {
    for (const c of this.#cols) {
      if (c.kind !== 'fk' || getSchema(c.def.reference ?? '') !== undefined) continue
      const v = entity[c.field]
      if (isPlainObject(v)) throw foreignKeyViolationInvalidReference({ id: v.id ?? null }, c.field, c.def.reference ?? '')
    }
  }

  /** resolve_foreign: `{"service":{"name":"x"}}` becomes `{"service":{"id":...}}`. */
  async #resolveForeign (q: Queryable, entity: Entity): Promise<void> {
    const errors: Record<string, Record<string, { name: string; value: unknown; parent: string }>> = {}
    for (const c of this.#cols) {
      if (c.kind !== 'fk') continue
      const ref = getSchema(c.def.reference ?? '')
      const value = entity[c.field]
      if (ref === undefined || !isPlainObject(value) || validatePrimaryKey(ref, value, true) === undefined) continue
      const resolveErrors: Record<string, { name: string; value: unknown; parent: string }> = {}
      let failed = false
      for (const [uname, udef] of Object.entries(ref.fields)) {
        if (udef.unique !== true && ref.endpoint_key !== uname) continue
        const uval = Object.hasOwn(value, uname) ? value[uname] : undefined
        if (uval === undefined || uval === null || uval === false || validateField(udef, uval) !== undefined) continue
        const found = await daoFor(ref).selectByField(q, uname, uval)
        if (found !== null) { entity[c.field] = { id: found.id }; break }
        resolveErrors[uname] = { name: uname, value: uval, parent: ref.name }
        failed = true
      }
      if (failed) errors[c.field] = resolveErrors
    }
    if (Object.keys(errors).length > 0) throw foreignKeysUnresolved(errors)
  }
}

const daos = new Map<string, Dao>()

export function daoFor (schema: EntitySchema): Dao {
  let d = daos.get(schema.name)
  if (d === undefined) { d = new Dao(schema); daos.set(schema.name, d) }
  return d
}

function daoByName (name: string): Dao {
  const s = getSchema(name)
  if (s === undefined) throw new Error(`unknown entity '${name}'`)
  return daoFor(s)
}
