/**
 * The `vaults` entity (kong/db/schema/entities/vaults.lua): a named configuration of an installed
 * vault, addressed in references by its `prefix` (`{vault://<prefix>/<resource>}`). The prefix
 * must be a host name part and may not be a vault's own name; `config` is the vault's record
 * (its subschema, picked by `name`: src/vault/installed.ts).
 */
import type { EntitySchema } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'
import { INSTALLED_VAULTS, vaultSubschemas } from '../../../vault/installed.ts'

export const VAULT_NOT_INSTALLED = "vault '%s' is not installed"

export const vaults: EntitySchema = {
  name: 'vaults',
  table: 'sm_vaults',
  primary_key: ['id'],
  cache_key: ['prefix'],
  endpoint_key: 'prefix',
  workspaceable: true,
  subschema_key: 'name',
  subschema_error: VAULT_NOT_INSTALLED,
  admin_api_name: 'vaults',
  fields: {
    id: typedefs.uuid,
    prefix: {
      type: 'string',
      required: true,
      unique: true,
      match: '^[a-z][a-z%d-]-[a-z%d]+$',
      not_one_of: INSTALLED_VAULTS,
      description: 'The unique prefix (or identifier) for this Vault configuration.',
    },
    name: { type: 'string', required: true, description: "The name of the Vault that's going to be added." },
    description: { type: 'string', description: 'The description of the Vault entity.' },
    config: {
      type: 'record',
      abstract: true,
      description: "The configuration properties for the Vault which can be found on the vaults' documentation page.",
    },
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
    tags,
  },
  subschemas: vaultSubschemas(),
}
