/**
 * PostgreSQL errors -> Kong DAO errors (kong/db/strategies/postgres/init.lua `toerror`):
 * unique violations name the field and value, foreign keys the missing parent or the child
 * table that still references a row. Lost connections become DbUnavailable (the Admin API
 * answers 503); anything else is a database error (500, logged, never shown).
 */
import { isConnectionError } from '../pool.ts'
import {
  DbError, databaseError, foreignKeyViolationInvalidReference, foreignKeyViolationRestricted, primaryKeyViolation,
  schemaViolation, uniqueViolation,
} from '../schema/db-errors.ts'
import type { EntitySchema } from '../schema/types.ts'
import { columnsOf } from './columns.ts'
import { cacheKeyFields } from './row-sql.ts'

export class DbUnavailable extends Error {
  constructor (cause: unknown) {
    super('database unavailable', { cause })
    this.name = 'DbUnavailable'
  }
}

interface PgError { code?: string; constraint?: string; detail?: string; message?: string; table?: string }

export function mapPgError (err: unknown, schema: EntitySchema, entity: Record<string, unknown> | null, pk?: Record<string, unknown>): Error {
  if (err instanceof DbError || err instanceof DbUnavailable) return err
  if (isConnectionError(err)) return new DbUnavailable(err)
  const e = (err ?? {}) as PgError
  const table = schema.table ?? schema.name
  if (e.code === '23505') {
    // a composite cache key (plugins' name/route/service/consumer) names all its fields
    if (e.constraint === `${table}_cache_key_key`) return uniqueViolation(cacheKeyFields(schema, entity))
    for (const c of columnsOf(schema)) {
      if (c.def.unique === true && e.constraint === `${table}_${c.name}_key`) {
        return uniqueViolation({ [c.field]: entity?.[c.field] ?? null })
      }
    }
    return primaryKeyViolation(pk ?? { id: entity?.id ?? null })
  }
  // kong/db/strategies/postgres/init.lua: a NOT NULL violation can only be the primary key
  if (e.code === '23502') return primaryKeyViolation(pk ?? { id: entity?.id ?? null })
  if (e.code === '23503') {
    const detail = e.detail ?? ''
    const still = /is still referenced from table "([^"]+)"/.exec(detail)
    if (still !== null) return foreignKeyViolationRestricted(schema.name, still[1]!)
    for (const c of columnsOf(schema)) {
      if (c.kind === 'fk' && e.constraint === `${table}_${c.name}_fkey`) {
        const v = entity?.[c.field] as { id?: unknown } | null | undefined
        return foreignKeyViolationInvalidReference({ id: v?.id ?? null }, c.field, c.def.reference ?? '')
      }
    }
  }
  // Data exceptions (class 22: out of range, bad encoding) and program limits (class 54: an
  // index row too large for a huge name or tag) are still the client's input: a schema
  // violation rather than a 500.
  if (typeof e.code === 'string' && (e.code.startsWith('22') || e.code.startsWith('54'))) {
    return schemaViolation({ '@entity': [`invalid value: ${e.message ?? 'rejected by the database'}`] })
  }
  return databaseError(e.message ?? String(err))
}
