/**
 * Kong's cascading deletes (kong/db/dao/init.lua find_cascade_delete_entities): the rows that
 * go with a parent through `on_delete = "cascade"` foreign keys, found before the parent is
 * deleted so that each one gets its own cluster_events row. The rows themselves are removed by
 * the tables' ON DELETE CASCADE constraints, in the same statement as the parent.
 */
import { referrers } from '../schema/registry.ts'
import { quoteIdent } from './columns.ts'
import type { Queryable } from './hooks.ts'

export interface CascadedRow { entity: string; id: string }

/** Every row that cascades from `entity`/`id`, depth first (children before grandchildren). */
export async function collectCascade (q: Queryable, entity: string, id: string, depth = 0): Promise<CascadedRow[]> {
  if (depth > 8) return [] // schemas are acyclic; this only guards against a definition mistake
  const out: CascadedRow[] = []
  for (const { schema, field } of referrers(entity)) {
    if (schema.fields[field]?.on_delete !== 'cascade') continue
    const table = quoteIdent(schema.table ?? schema.name)
    const r = await q.query<{ id: string }>(`select "id" from ${table} where ${quoteIdent(`${field}_id`)} = $1::uuid order by "id"`, [id])
    for (const row of r.rows) {
      out.push({ entity: schema.name, id: row.id })
      out.push(...await collectCascade(q, schema.name, row.id, depth + 1))
    }
  }
  return out
}
