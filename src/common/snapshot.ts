/**
 * The snapshot: the whole proxy configuration as plain, Kong-shaped rows.
 *
 * The primary builds it from the config cache, encodes it once (common/codec.ts) and posts the
 * bytes to every worker. Rows keep Kong's wire names (snake_case) and the exact shape the Admin
 * API returns for them; worker/compile.ts turns them into camelCase hot-path objects.
 */

export type Uuid = string

export interface ForeignKey { id: Uuid }

export interface ServiceRow {
  id: Uuid
  name: string | null
  protocol: string
  host: string
  port: number
  path: string | null
  retries: number
  connect_timeout: number
  write_timeout: number
  read_timeout: number
  enabled: boolean
  tags: string[] | null
  client_certificate: ForeignKey | null
  tls_verify: boolean | null
  tls_verify_depth: number | null
  ca_certificates: Uuid[] | null
  created_at: number
  updated_at: number
}

export interface RouteRow {
  id: Uuid
  name: string | null
  protocols: string[]
  methods: string[] | null
  hosts: string[] | null
  paths: string[] | null
  headers: Record<string, string[]> | null
  https_redirect_status_code: number
  regex_priority: number
  strip_path: boolean
  preserve_host: boolean
  request_buffering: boolean
  response_buffering: boolean
  path_handling: 'v0' | 'v1'
  snis: string[] | null
  sources: Array<{ ip?: string; port?: number }> | null
  destinations: Array<{ ip?: string; port?: number }> | null
  service: ForeignKey | null
  tags: string[] | null
  created_at: number
  updated_at: number
}

/** Entities later issues add (plugins, consumers, upstreams, ...) travel as Kong-shaped rows too. */
export type GenericRow = { id: Uuid } & Record<string, unknown>

export interface Snapshot {
  /** Monotonic per node; a worker ignores a snapshot older than the one it serves. */
  version: number
  /** Content hash of the configuration (Kong's `configuration_hash`: 32 hex chars). */
  hash: string
  services: ServiceRow[]
  routes: RouteRow[]
  /** Every other entity, by Kong table name (`plugins`, `consumers`, `upstreams`, ...). */
  entities: Record<string, GenericRow[]>
}

/** One entity as it is now: `row` null when it is gone. */
export interface EntityChange {
  /** Kong table name (`routes`, `services`, `plugins`, ...). */
  table: string
  id: Uuid
  row: GenericRow | null
}

/**
 * A change on top of snapshot `base`: applying `changes` to it gives snapshot `version` (whose
 * content hash is `hash`), exactly as a full snapshot of `version` would. A worker that does not
 * serve `base`, or cannot apply it, asks for the full snapshot instead (protocol.ts).
 */
export interface SnapshotDelta {
  base: number
  version: number
  hash: string
  changes: EntityChange[]
}
