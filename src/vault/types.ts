/** What a vault implementation provides (kong/vaults/<name>/init.lua + schema.lua). */
import type { Fields } from '../db/schema/types.ts'

export interface VaultStrategy {
  readonly name: string
  /** The fields of the vault's `config` record (its subschema of the `vaults` entity). */
  readonly configFields: Fields
  /** The secret stored under `resource`, or undefined when there is none. */
  get (config: Readonly<Record<string, unknown>>, resource: string, version: number | undefined): string | undefined
}
