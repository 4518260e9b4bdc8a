/**
 * Dereferencing for the configuration the proxy serves: rows of entity tables in, rows with their
 * secrets out (refs.ts), done when a snapshot is built, never per request. The `vaults` rows of
 * the same configuration configure the prefixes; when they change, every row holding a reference
 * is resolved again. Results are kept per row object, so a snapshot after a small change costs
 * only the changed rows.
 */
import { log } from '../common/log.ts'
import { getSchema } from '../db/schema/registry.ts'
import { referencesOf, resolveRow, schemaHoldsReferences } from './refs.ts'
import type { NodeVaultConfigs } from './installed.ts'
import { VaultResolver, type VaultEntity } from './resolve.ts'

type Row = Record<string, unknown> & { id: string }

const warn = (reference: string, error: string): void => { log.warn(`unable to resolve reference ${reference} (${error})`) }

export class ReferenceTables {
  readonly #base: NodeVaultConfigs | undefined
  #signature: string | null = null
  #resolver: VaultResolver
  #memo = new WeakMap<object, Row>()

  /**
   * `baseConfigs`: the node's `vault_<name>_<field>` settings (installed.ts `nodeVaultConfigs`
   * of the loaded configuration); none: those of the environment alone.
   */
  constructor (baseConfigs?: NodeVaultConfigs) {
    this.#base = baseConfigs
    this.#resolver = new VaultResolver([], baseConfigs)
  }

  /** Takes the configuration's `vaults` rows; true when they differ from the last ones given. */
  useVaults (rows: readonly Record<string, unknown>[]): boolean {
    const entities = rows
      .map((r) => ({ prefix: r.prefix, name: r.name, config: r.config ?? null }) as VaultEntity)
      .sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0))
    const signature = JSON.stringify(entities)
    if (signature === this.#signature) return false
    this.#signature = signature
    this.#resolver = new VaultResolver(entities, this.#base)
    this.#memo = new WeakMap()
    return true
  }

  /** Whether rows of `table` may hold references at all. */
  holds (table: string): boolean {
    const s = getSchema(table)
    return s !== undefined && schemaHoldsReferences(s)
  }

  row<T extends Row> (table: string, row: T): T {
    const s = getSchema(table)
    if (s === undefined || !schemaHoldsReferences(s)) return row
    let out = this.#memo.get(row)
    if (out === undefined) {
      out = resolveRow(s, row, (ref) => this.#resolver.get(ref), warn) as Row
      this.#memo.set(row, out)
    }
    return out as T
  }

  rows<T extends Row> (table: string, rows: T[]): T[] {
    return this.holds(table) ? rows.map((r) => this.row(table, r)) : rows
  }

  /** Whether the stored row holds any reference (those rows change when the vaults do). */
  hasReferences (table: string, row: Row): boolean {
    const s = getSchema(table)
    return s !== undefined && referencesOf(s, row).length > 0
  }
}

/**
 * Every table of a configuration dereferenced with its own `vaults` rows and the node's vault
 * settings (DB-less loads).
 */
export function resolveTables<T extends Row> (tables: Record<string, T[]>, baseConfigs?: NodeVaultConfigs): Record<string, T[]> {
  const r = new ReferenceTables(baseConfigs)
  r.useVaults(tables.vaults ?? [])
  const out: Record<string, T[]> = {}
  for (const [t, rows] of Object.entries(tables)) out[t] = r.rows(t, rows)
  return out
}
