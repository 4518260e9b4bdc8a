/**
 * Entity schemas by name: the lookup foreign keys, the DAO and the Admin API share.
 */
import { ENTITIES } from './entities/index.ts'
import type { EntitySchema } from './types.ts'

const byName = new Map<string, EntitySchema>(ENTITIES.map((s) => [s.name, s]))

export function getSchema (name: string): EntitySchema | undefined {
  return byName.get(name)
}

export function allSchemas (): readonly EntitySchema[] {
  return ENTITIES
}

/** Schemas with a foreign field referencing `name`, with that field's name. */
export function referrers (name: string): Array<{ schema: EntitySchema; field: string }> {
  const out: Array<{ schema: EntitySchema; field: string }> = []
  for (const s of ENTITIES) {
    for (const [f, def] of Object.entries(s.fields)) if (def.type === 'foreign' && def.reference === name) out.push({ schema: s, field: f })
  }
  return out
}
