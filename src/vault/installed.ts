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
