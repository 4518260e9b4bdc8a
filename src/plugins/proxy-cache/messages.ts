/**
 * The primary <-> worker messages of proxy-cache's Admin API (kong/plugins/proxy-cache/api.lua).
 * The cache lives in each worker (store.ts), so the primary asks every serving worker and
 * combines the answers (api.ts). To join the PrimaryToWorker / WorkerToPrimary unions of
 * common/protocol.ts. Plain data only: these cross postMessage.
 *
 *   primary --ProxyCacheRequest{seq}--> each worker --ProxyCacheResult{seq, workerId}--> primary
 */

/** A cached response in Kong's stored shape (what `GET /proxy-cache/{key}` answers). */
export interface KongCachedObject {
  status: number
  headers: Record<string, string | string[]>
  body: string
  body_len: number
  timestamp: number
  ttl: number
  version: number
  req_body: string | null
}

export interface ProxyCacheRequest {
  type: 'proxy-cache'
  /** Chosen by the primary; echoed in every answer. */
  seq: number
  /** get: read one key; purge: delete one key; flush: delete everything. */
  op: 'get' | 'purge' | 'flush'
  /** The `config.memory.dictionary_name` values to look in; null: every dictionary. */
  dictionaries: string[] | null
  /** The cache key (get, purge); null for flush. */
  key: string | null
}

export interface ProxyCacheResult {
  type: 'proxy-cache-result'
  workerId: number
  seq: number
  /** get / purge: this worker held the key (purge: and removed it). */
  found: boolean
  /** get: the entry this worker holds. */
  entry: KongCachedObject | null
}
