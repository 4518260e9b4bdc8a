/**
 * Vaults in kong.yml (kong/db/schema/entities/vaults.lua with the bundled `env` vault's
 * subschema). Sluice resolves no `{vault://...}` references, but a file that declares vaults is
 * validated and accepted as Kong's is, instead of failing on an unknown top-level key. Vaults
 * exist only in the declarative format: they are neither served nor stored nor exported.
 */
import type { EntitySchema } from '../db/schema/types.ts'
import { tags, typedefs } from '../db/schema/typedefs.ts'

/** The vaults Kong bundles and Sluice knows the configuration of. */
export const INSTALLED_VAULTS: readonly string[] = ['env']

export const vaults: EntitySchema = {
  name: 'vaults',
  primary_key: ['id'],
  cache_key: ['prefix'],
  endpoint_key: 'prefix',
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    prefix: { type: 'string', required: true, unique: true, match: '^[a-z][a-z%d-]-[a-z%d]+$', not_one_of: INSTALLED_VAULTS },
    name: { type: 'string', required: true },
    description: { type: 'string' },
    config: {
      type: 'record',
      fields: {
        prefix: { type: 'string', match: '^[%a_-][%a%d_-]*$' },
      },
    },
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
    tags,
  },
}

/** Kong's subschema_error: an unknown vault name is the only error of its entity. */
export function vaultNotInstalled (name: unknown): string | undefined {
  if (typeof name !== 'string' || INSTALLED_VAULTS.includes(name)) return undefined
  return `vault '${name}' is not installed`
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
