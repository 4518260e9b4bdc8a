/**
 * Dereferencing (kong/pdk/vault.lua `get`): a reference names either an installed vault
 * (`{vault://env/...}`, configured from the node's settings) or the prefix of a `vaults` entity
 * (`{vault://my-env/...}`, configured by that entity). The vault's configuration is the base one
 * with the reference's query arguments over it, each kept only if valid for the vault's schema;
 * the strategy's answer is the secret, or, with a key, that key of the JSON object it holds.
 */
import { validateField } from '../db/schema/validate-field.ts'
import { nodeVaultConfigs, vaultStrategy, type NodeVaultConfigs } from './installed.ts'
import { parseReference } from './reference.ts'

/** The part of a `vaults` row dereferencing needs. */
export interface VaultEntity { readonly prefix: string; readonly name: string; readonly config?: unknown }

export type Deref = { ok: true; value: string } | { ok: false; error: string }

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

export class VaultResolver {
  readonly #byPrefix = new Map<string, VaultEntity>()
  readonly #base: NodeVaultConfigs

  /**
   * `entities`: the `vaults` rows; `baseConfigs`: per installed vault name, the configuration a
   * reference by name starts from (Kong's `vault_<name>_<field>` settings: installed.ts
   * `nodeVaultConfigs` of the node's configuration; by default of the environment alone).
   */
  constructor (entities: Iterable<VaultEntity>, baseConfigs: NodeVaultConfigs = nodeVaultConfigs()) {
    for (const v of entities) if (typeof v.prefix === 'string') this.#byPrefix.set(v.prefix, v)
    this.#base = baseConfigs
  }

  get (reference: string): Deref {
    const p = parseReference(reference)
    if (!p.ok) return p
    const ref = p.value
    let name: string
    let base: Readonly<Record<string, unknown>>
    if (vaultStrategy(ref.name) !== undefined) {
      name = ref.name
      base = this.#base[name] ?? {}
    } else {
      const entity = this.#byPrefix.get(ref.name)
      if (entity === undefined) return { ok: false, error: `could not find vault (${ref.name})` }
      name = entity.name
      base = isObject(entity.config) ? entity.config : {}
    }
    const strategy = vaultStrategy(name)
    if (strategy === undefined) return { ok: false, error: `could not find vault (${name})` }
    // get_vault_config_and_hash: the override, else the base; kept only when valid
    const config: Record<string, unknown> = {}
    const overrides = ref.config ?? {}
    for (const [k, f] of Object.entries(strategy.configFields)) {
      const o = overrides[k]
      const v = o !== undefined ? o : base[k]
      if (v !== undefined && v !== null && validateField(f, v) === undefined) config[k] = v
    }
    const value = strategy.get(config, ref.resource, ref.version)
    if (value === undefined) return { ok: false, error: 'could not get value from external vault (no value found)' }
    if (ref.key === undefined) return { ok: true, value }
    // a JSON object of secrets: the key's string value
    let json: unknown
    try { json = JSON.parse(value) } catch (err) {
      return { ok: false, error: `could not get value from external vault (could not get subfield value: unable to json decode value (nil): ${(err as Error).message})` }
    }
    if (!isObject(json)) return { ok: false, error: `could not get value from external vault (could not get subfield value: unable to json decode value (${JSON.stringify(json)}): not an object)` }
    const sub = json[ref.key]
    if (sub === undefined) return { ok: false, error: `could not get value from external vault (could not get subfield value: subfield ${ref.key} not found in JSON secret)` }
    if (typeof sub !== 'string') return { ok: false, error: `could not get value from external vault (could not get subfield value: unexpected ${luaType(sub)} value in JSON secret for subfield ${ref.key})` }
    return { ok: true, value: sub }
  }
}

function luaType (v: unknown): string {
  if (typeof v === 'number') return 'number'
  if (typeof v === 'boolean') return 'boolean'
  if (v === null) return 'userdata' // cjson.null
  return 'table'
}
