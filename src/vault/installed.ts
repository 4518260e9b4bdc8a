/**
 * The vaults this build has (Kong's `vaults = bundled`: `env`), and the `vaults` entity's
 * subschema of each: its `config` record.
 */
import type { Subschema } from '../db/schema/types.ts'
import { envVault } from './env.ts'
import type { VaultStrategy } from './types.ts'

const VAULTS: ReadonlyMap<string, VaultStrategy> = new Map([[envVault.name, envVault]])

/** Names of the installed vaults; an entity's prefix may not be one of them. */
export const INSTALLED_VAULTS: readonly string[] = [...VAULTS.keys()]

export function vaultStrategy (name: string): VaultStrategy | undefined {
  return VAULTS.get(name)
}

export function vaultSubschemas (): Record<string, Subschema> {
  const out: Record<string, Subschema> = {}
  for (const v of VAULTS.values()) {
    out[v.name] = { name: v.name, fields: { config: { type: 'record', fields: v.configFields } } }
  }
  return out
}

/**
 * The configuration a reference by vault name starts from: Kong's `vault_<name>_<field>`
 * settings, read here from the environment (`KONG_VAULT_ENV_PREFIX`, or `SLUICE_VAULT_ENV_PREFIX`,
 * which wins), `-` in names read as `_`. Values that do not pass the field's checks are left out
 * when a reference is resolved.
 */
export function nodeVaultConfigs (env: NodeJS.ProcessEnv = process.env): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const v of VAULTS.values()) {
    const conf: Record<string, unknown> = {}
    for (const field of Object.keys(v.configFields)) {
      const key = `VAULT_${v.name}_${field}`.replace(/-/g, '_').toUpperCase()
      const value = env[`SLUICE_${key}`] ?? env[`KONG_${key}`]
      if (value !== undefined) conf[field] = value
    }
    out[v.name] = conf
  }
  return out
}
