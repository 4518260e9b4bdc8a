/**
 * What the declarative format knows about the entity schemas: the entity tables in dependency
 * order (a referenced entity before its referrers, Kong's topological sort), the foreign keys of
 * each, and which children may be nested under which parent (`services[].routes[]`: any entity
 * with a foreign key to the parent, kong's nest_foreign_relationships).
 */
import { allSchemas, getSchema } from '../db/schema/registry.ts'
import type { EntitySchema } from '../db/schema/types.ts'

export interface ForeignField { readonly field: string; readonly reference: string }
export interface ChildLink { readonly entity: string; readonly field: string }

export interface EntityMeta {
  readonly name: string
  readonly schema: EntitySchema
  readonly foreign: readonly ForeignField[]
  /** Entities that may be nested under this one, with their foreign key to it. */
  readonly children: ReadonlyMap<string, ChildLink>
  /** Fields with `unique`, in schema order. */
  readonly unique: readonly string[]
}

let cache: { order: readonly string[]; meta: ReadonlyMap<string, EntityMeta> } | null = null

function build (): { order: readonly string[]; meta: ReadonlyMap<string, EntityMeta> } {
  const schemas = allSchemas()
  const order = topological(schemas)
  const children = new Map<string, Map<string, ChildLink>>()
  for (const s of schemas) children.set(s.name, new Map())
  const meta = new Map<string, EntityMeta>()
  for (const s of schemas) {
    const foreign: ForeignField[] = []
    for (const [field, def] of Object.entries(s.fields)) {
      if (def.type !== 'foreign' || def.reference === undefined || !children.has(def.reference)) continue
      foreign.push({ field, reference: def.reference })
      // one nesting per parent: the first foreign key to it (Kong's foreign_children holds one)
      const c = children.get(def.reference)!
      if (!c.has(s.name)) c.set(s.name, { entity: s.name, field })
    }
    const unique = Object.entries(s.fields).filter(([, d]) => d.unique === true).map(([k]) => k)
    meta.set(s.name, { name: s.name, schema: s, foreign, children: children.get(s.name)!, unique })
  }
  return { order, meta }
}

/** Dependency order; ties keep the registry's order. */
function topological (schemas: readonly EntitySchema[]): string[] {
  const out: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const byName = new Map(schemas.map((s) => [s.name, s]))
  const visit = (s: EntitySchema): void => {
    if (state.get(s.name) !== undefined) return
    state.set(s.name, 'visiting')
    for (const def of Object.values(s.fields)) {
      if (def.type !== 'foreign' || def.reference === undefined || def.reference === s.name) continue
      const ref = byName.get(def.reference)
      if (ref !== undefined) visit(ref)
    }
    state.set(s.name, 'done')
    out.push(s.name)
  }
  for (const s of schemas) visit(s)
  return out
}

/** Entity table names in dependency order (referenced first): the declarative format's order. */
export function entityOrder (): readonly string[] {
  cache ??= build()
  return cache.order
}

/** The entity tables Sluice stores and serves (those with a registered schema), in that order. */
export function storedOrder (): readonly string[] {
  return entityOrder().filter((t) => getSchema(t) !== undefined)
}

export function entityMeta (name: string): EntityMeta | undefined {
  cache ??= build()
  return cache.meta.get(name)
}

export function isEntity (name: string): boolean {
  return entityMeta(name) !== undefined
}
