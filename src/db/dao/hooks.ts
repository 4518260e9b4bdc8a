/**
 * Per-entity DAO behaviour, Kong's custom DAO modules (`dao = "kong.db.dao.plugins"`) and schema
 * `transformations`, as hooks the generic DAO calls at fixed points of a write or read:
 *
 *   prepare (raw input) -> auto fields / merge -> check (before validation) -> validate ->
 *   transform (derived fields) -> SQL -> after (side rows, extra events)
 *
 * A hook gets the DAO of any entity through its context, so hook modules never import the DAO
 * (no import cycle).
 */
import type { Pool, PoolClient } from '../pool.ts'
import type { EntitySchema } from '../schema/types.ts'

export type Entity = Record<string, unknown>
export type Queryable = Pool | PoolClient
export type WriteOp = 'insert' | 'upsert' | 'update'

export interface WriteTx {
  readonly client: PoolClient
  readonly nodeId: string
  /** Plugin names this node has enabled (the `plugins` setting); absent: every known plugin. */
  readonly enabledPlugins?: ReadonlySet<string>
}

/** The slice of the DAO hooks may use. */
export interface HookDao {
  readonly schema: EntitySchema
  selectById (q: Queryable, id: string): Promise<Entity | null>
  selectByField (q: Queryable, field: string, value: unknown): Promise<Entity | null>
  insert (tx: WriteTx, input: Entity): Promise<Entity>
  delete (tx: WriteTx, key: { id: string }): Promise<boolean>
  rowsWhere (q: Queryable, field: string, id: string): Promise<Entity[]>
}

export interface WriteCtx {
  readonly tx: WriteTx
  readonly op: WriteOp
  /** The body as the caller sent it (before auto fields). */
  readonly input: Entity
  /** The stored row for update / upsert, when there is one. */
  readonly current: Entity | null
  readonly dao: (name: string) => HookDao
}

export interface DaoHooks {
  /** The raw input, before auto fields: normalise it (targets) or refuse it. */
  prepare?: (ctx: WriteCtx, input: Entity) => Entity
  /** After auto fields and merge, before validation (plugins: is the name enabled?). */
  check?: (ctx: WriteCtx, entity: Entity) => void
  /** After validation, before SQL: derived fields and cross-entity checks. */
  transform?: (ctx: WriteCtx, entity: Entity) => Promise<void> | void
  /** After the row is written, in the same transaction. */
  after?: (ctx: WriteCtx, written: Entity) => Promise<void>
  /** Extra fields shown on every read (certificates: `snis`). */
  expand?: (q: Queryable, rows: Entity[], dao: (name: string) => HookDao) => Promise<void>
  /** Before the row is deleted (dependent rows without a cascading constraint). */
  beforeDelete?: (tx: WriteTx, entity: Entity, dao: (name: string) => HookDao) => Promise<void>
  /** After the row is deleted (extra events). */
  afterDelete?: (tx: WriteTx, entity: Entity) => Promise<void>
}
