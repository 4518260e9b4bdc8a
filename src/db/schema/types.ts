/**
 * The shape of a declarative entity schema: the single description of an entity that the Admin
 * API, the DAO and declarative config all read. Field attributes keep Kong's names
 * (kong/db/schema/init.lua, metaschema.lua) so a Kong schema translates line by line.
 *
 * Values follow Kong's two kinds of "nothing": `undefined` is Lua's nil (absent), `null` is
 * ngx.null (explicitly null).
 */

/** Lua-pattern match rule (`match_all`, `match_none` entries). */
export interface MatchRule { readonly pattern: string; readonly err: string }

export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'set' | 'map' | 'record' | 'foreign'

/** A custom validator returns an error message, or undefined when the value is fine. */
export type CustomValidator = (value: unknown) => string | undefined

export interface FieldDef {
  readonly type: FieldType
  readonly description?: string
  readonly required?: boolean
  /** A JSON value; `null` is an explicit null default. */
  readonly default?: unknown
  readonly auto?: boolean
  readonly uuid?: boolean
  readonly timestamp?: boolean
  readonly unique?: boolean
  readonly immutable?: boolean
  /** Replaces the message of any validator failure of this field. */
  readonly err?: string
  readonly eq?: unknown
  readonly ne?: unknown
  readonly one_of?: readonly unknown[]
  readonly not_one_of?: readonly unknown[]
  readonly gt?: number
  readonly between?: readonly [number, number]
  readonly len_eq?: number
  readonly len_min?: number
  readonly len_max?: number
  readonly starts_with?: string
  /** Lua patterns (kong uses string.match); compiled by lua-pattern.ts. */
  readonly match?: string
  readonly not_match?: string
  readonly match_all?: readonly MatchRule[]
  readonly match_none?: readonly MatchRule[]
  readonly match_any?: { readonly patterns: readonly string[]; readonly err: string }
  readonly contains?: unknown
  readonly custom_validator?: CustomValidator
  readonly mutually_exclusive_subsets?: readonly (readonly string[])[]
  /** array / set */
  readonly elements?: FieldDef
  /** map */
  readonly keys?: FieldDef
  readonly values?: FieldDef
  /** record */
  readonly fields?: Fields
  readonly entity_checks?: readonly EntityCheck[]
  /** foreign: the referenced entity name */
  readonly reference?: string
  readonly on_delete?: 'cascade' | 'null' | 'restrict'
  /** Sluice: the integer is stored in a bigint column (no Kong `between`), see validate-field.ts. */
  readonly int64?: boolean
  /** A parent field each subschema must specialise (plugins.config). */
  readonly abstract?: boolean
  /** Accepted on input, never stored as a column (certificates.snis). */
  readonly transient?: boolean
  /** The string must compile as a PCRE regex (`not a valid regex: %s`). */
  readonly is_regex?: boolean
  /** record: shorthands expanded before the record's own fields (rate-limiting `redis_host`). */
  readonly shorthand_fields?: Readonly<Record<string, ShorthandDef>>
  /** Shown by /schemas only (Kong Enterprise features that do nothing in Kong CE). */
  readonly encrypted?: boolean
  readonly referenceable?: boolean
}

/** Ordered field map; JS keeps insertion order for non-numeric keys, which is schema order. */
export type Fields = Readonly<Record<string, FieldDef>>

export interface ShorthandDef {
  readonly type: FieldType
  readonly description?: string
  /** `len_min = 0` lets an empty string through (rate-limiting `redis_password`). */
  readonly len_min?: number
  /**
   * A deprecated shorthand: the real field wins when both are set, and a select shows the
   * value found at `replaced_with` under the shorthand's name.
   */
  readonly deprecation?: { readonly replaced_with: readonly string[] }
  /** Returns the real fields to set, or undefined to set nothing. */
  readonly func: (value: unknown) => Record<string, unknown> | undefined
}

export interface ConditionalArg {
  readonly if_field: string
  readonly if_match: Partial<FieldDef>
  readonly then_field: string
  readonly then_match: Partial<FieldDef>
  readonly then_err?: string
}

export interface ConditionalAtLeastOneOfArg {
  readonly if_field: string
  readonly if_match: Partial<FieldDef>
  readonly then_at_least_one_of: readonly string[]
  readonly then_err?: string
  readonly else_match?: Partial<FieldDef>
  readonly else_then_at_least_one_of?: readonly string[]
  readonly else_then_err?: string
}

export interface CustomEntityCheckArg {
  readonly field_sources: readonly string[]
  /** true when fine, or an error message. */
  readonly fn: (entity: Record<string, unknown>) => true | string
  readonly run_with_missing_fields?: boolean
  readonly run_with_invalid_fields?: boolean
}

export type EntityCheck =
  | { readonly at_least_one_of: readonly string[] }
  | { readonly only_one_of: readonly string[] }
  | { readonly distinct: readonly string[] }
  | { readonly mutually_required: readonly string[] }
  | { readonly mutually_exclusive: readonly string[] }
  | { readonly mutually_exclusive_sets: { readonly set1: readonly string[]; readonly set2: readonly string[] } }
  | { readonly conditional: ConditionalArg }
  | { readonly conditional_at_least_one_of: ConditionalAtLeastOneOfArg }
  | { readonly custom_entity_check: CustomEntityCheckArg }

export interface Subschema {
  readonly name: string
  /** Field definitions that replace the parent's for entities of this subtype. */
  readonly fields: Fields
  readonly entity_checks?: readonly EntityCheck[]
}

/** What validation and auto-field processing need: an entity schema, or a record field. */
export interface SchemaLike {
  readonly name: string
  readonly fields: Fields
  readonly entity_checks?: readonly EntityCheck[]
  readonly shorthand_fields?: Readonly<Record<string, ShorthandDef>>
  readonly subschema_key?: string
  readonly subschemas?: Readonly<Record<string, Subschema>>
  readonly subschema_error?: string
  readonly primary_key?: readonly string[]
}

export interface EntitySchema extends SchemaLike {
  readonly primary_key: readonly string[]
  /** The unique field `/{entities}/{key}` also accepts (Kong's endpoint_key). */
  readonly endpoint_key?: string
  readonly cache_key?: readonly string[]
  readonly workspaceable?: boolean
  /** Admin API path name when it differs from the table name (`/key-auths`). */
  readonly admin_api_name?: string
  /** Nested path name (`/consumers/{c}/key-auth`). */
  readonly admin_api_nested_name?: string
  readonly generate_admin_api?: boolean
  /** The SQL table; defaults to `name`. */
  readonly table?: string
  /** Rows may expire: `ttl` on writes, a `ttl` column, expired rows invisible (key-auth). */
  readonly ttl?: boolean
}

/**
 * A form value whose bytes are not valid UTF-8. It never validates as a string, so it can
 * never reach PostgreSQL; the error names the byte position as kong/tools/string.lua does.
 */
export class InvalidUtf8 {
  readonly position: number
  readonly lossy: string
  constructor (position: number, lossy: string) {
    this.position = position
    this.lossy = lossy
  }

  toString (): string { return this.lossy }
  toJSON (): string { return this.lossy }
}

/** Kong's nested error table: a message, element errors (sparse, 0-based), or field errors. */
export type ErrorTree = string | ErrorTree[] | { [key: string]: ErrorTree }
export type FieldErrors = Record<string, ErrorTree>
