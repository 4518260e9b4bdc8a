/**
 * Declarative-only pieces around vaults. The `vaults` entity itself is an ordinary stored entity
 * (db/schema/entities/vaults.ts): imported, exported and served like the others.
 */
import type { EntitySchema } from '../db/schema/types.ts'
import { typedefs } from '../db/schema/typedefs.ts'
import { VAULT_NOT_INSTALLED } from '../db/schema/entities/vaults.ts'
import { INSTALLED_VAULTS } from '../vault/installed.ts'

/** Kong's subschema_error: an unknown vault name is the only error of its entity. */
export function vaultNotInstalled (name: unknown): string | undefined {
  if (typeof name !== 'string' || INSTALLED_VAULTS.includes(name)) return undefined
  return VAULT_NOT_INSTALLED.replace('%s', name)
}

/**
 * `parameters` (kong/db/schema/entities/parameters.lua): Kong's node-wide key/value rows, in
 * every `kong config db_export` file (the cluster id). Sluice has no use for them: they are
 * validated as Kong's schema says and otherwise left out, so that Kong's exports load.
 */
export const parameters: EntitySchema = {
  name: 'parameters',
  primary_key: ['key'],
  fields: {
    created_at: typedefs.auto_timestamp_s,
    key: { type: 'string', required: true, unique: true },
    value: { type: 'string', required: true },
  },
}
