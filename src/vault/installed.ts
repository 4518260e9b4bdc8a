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

/** Per installed vault name, the configuration a reference by that name starts from. */
export type NodeVaultConfigs = Readonly<Record<string, Readonly<Record<string, unknown>>>>

/** A node setting of a vault (kong/pdk/vault.lua): `vault_<name>_<field>`, `-` read as `_`. */
export function vaultSettingKey (vault: string, field: string): string {
  return `vault_${vault}_${field}`.replace(/-/g, '_').toLowerCase()
}

/**
 * The configuration a reference by vault name starts from: Kong's `vault_<name>_<field>` settings
 * (`vault_env_prefix`). `settings` holds kong.conf keys as the configuration loader layers them
 * (config/load.ts `Config.raw`: kong.conf < KONG_* < SLUICE_*); an empty value is unset, as Kong's
 * NONE. Without it (code that has no loaded configuration), the environment alone is read as the
 * loader reads it. Values that do not pass the field's checks are left out when a reference is
 * resolved.
 */
export function nodeVaultConfigs (settings: Readonly<Record<string, string | undefined>> = vaultSettingsFromEnv(process.env)): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const v of VAULTS.values()) {
    const conf: Record<string, unknown> = {}
    for (const field of Object.keys(v.configFields)) {
      const value = settings[vaultSettingKey(v.name, field)]?.trim()
      if (value !== undefined && value !== '') conf[field] = value
    }
    out[v.name] = conf
  }
  return out
}

/** The `vault_<name>_<field>` settings the environment gives: `SLUICE_VAULT_ENV_PREFIX` over `KONG_VAULT_ENV_PREFIX`. */
export function vaultSettingsFromEnv (env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {}
  for (const v of VAULTS.values()) {
    for (const field of Object.keys(v.configFields)) {
      const key = vaultSettingKey(v.name, field)
      const value = env[`SLUICE_${key.toUpperCase()}`] ?? env[`KONG_${key.toUpperCase()}`]
      if (value !== undefined) out[key] = value
    }
  }
  return out
}
