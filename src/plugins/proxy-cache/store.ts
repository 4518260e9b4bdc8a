/**
 * proxy-cache's memory strategy (kong/plugins/proxy-cache/strategies/memory.lua over an nginx
 * shared dict), one store per worker: cached responses by (dictionary_name, cache key), each with
 * its storage TTL, in least-recently-used order under a byte bound.
 *
 * - `get` returns a live entry and makes it the most recently used; an expired one is removed.
 * - `set` replaces an entry of the same key; if the bound is exceeded, the least recently used
 *   entries are evicted (the shared dict's LRU behaviour when it is full). An
 *   entry larger than `maxEntryBytes` is not stored.
 * - A TTL of 0 or less keeps the entry until it is evicted or purged (a shared dict's ttl 0).
 * - A sweep every SWEEP_MS removes expired entries nobody asked for again.
 *
 * Sizes are estimates of what an entry holds (body, header strings, key), not V8's exact heap use.
 * The bound is per worker; `configureProxyCacheStore` sets it (default DEFAULT_MAX_BYTES).
 */

export interface CachedResponse {
  readonly status: number
  /** Flat `[name, value, ...]` as the response had them when it was stored. */
  readonly headers: readonly string[]
  readonly body: Buffer
  /** Seconds since the epoch (Kong's ngx.time()). */
  readonly timestamp: number
  /** The resource TTL (Cache-Control / cache_ttl) in seconds, used for freshness. */
  readonly ttl: number
  readonly version: number
  readonly reqBody: string | null
}

interface Slot {
  readonly dict: string
  readonly key: string
  readonly res: CachedResponse
  /** ms since the epoch; Infinity: no expiry. */
  readonly expiresAt: number
  readonly size: number
}

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024
const SLOT_OVERHEAD = 256
const SWEEP_MS = 30_000

function sizeOf (dict: string, key: string, res: CachedResponse): number {
  let n = SLOT_OVERHEAD + res.body.length + key.length + dict.length + (res.reqBody?.length ?? 0)
  for (const h of res.headers) n += h.length
  return n
}

export class CacheStore {
  readonly maxBytes: number
  readonly maxEntryBytes: number
  #slots = new Map<string, Slot>()
  #bytes = 0
  #sweeper: NodeJS.Timeout | null = null

  constructor (maxBytes = DEFAULT_MAX_BYTES, maxEntryBytes = Math.max(1, Math.floor(maxBytes / 8))) {
    this.maxBytes = maxBytes
    this.maxEntryBytes = maxEntryBytes
  }

  get bytes (): number { return this.#bytes }
  get size (): number { return this.#slots.size }

  get (dict: string, key: string, nowMs: number): CachedResponse | undefined {
    const id = `${dict}\n${key}`
    const s = this.#slots.get(id)
    if (s === undefined) return undefined
    if (s.expiresAt <= nowMs) {
      this.#remove(id, s)
      return undefined
    }
    // Most recently used goes last.
    this.#slots.delete(id)
    this.#slots.set(id, s)
    return s.res
  }

  /** Like get, without changing the LRU order (Admin API reads). */
  peek (dict: string, key: string, nowMs: number): CachedResponse | undefined {
    const s = this.#slots.get(`${dict}\n${key}`)
    return s !== undefined && s.expiresAt > nowMs ? s.res : undefined
  }

  set (dict: string, key: string, res: CachedResponse, ttlSec: number, nowMs: number): boolean {
    const size = sizeOf(dict, key, res)
    if (size > this.maxEntryBytes || size > this.maxBytes) return false
    const id = `${dict}\n${key}`
    const old = this.#slots.get(id)
    if (old !== undefined) this.#remove(id, old)
    if (this.#bytes + size > this.maxBytes) this.#evict(this.#bytes + size - this.maxBytes)
    this.#slots.set(id, { dict, key, res, expiresAt: ttlSec > 0 ? nowMs + ttlSec * 1000 : Infinity, size })
    this.#bytes += size
    this.#armSweeper()
    return true
  }

  delete (dict: string, key: string): boolean {
    const id = `${dict}\n${key}`
    const s = this.#slots.get(id)
    if (s === undefined) return false
    this.#remove(id, s)
    return true
  }

  /** The dictionary names that hold entries. */
  dictionaries (): string[] {
    const out = new Set<string>()
    for (const s of this.#slots.values()) out.add(s.dict)
    return [...out]
  }

  /** Removes every entry of `dict` (null: of every dictionary). */
  flush (dict: string | null): void {
    if (dict === null) {
      this.#slots.clear()
      this.#bytes = 0
      return
    }
    for (const [id, s] of this.#slots) if (s.dict === dict) this.#remove(id, s)
  }

  /** Removes expired entries. */
  sweep (nowMs: number): void {
    for (const [id, s] of this.#slots) if (s.expiresAt <= nowMs) this.#remove(id, s)
  }

  #remove (id: string, s: Slot): void {
    this.#slots.delete(id)
    this.#bytes -= s.size
  }

  /** Least recently used first (expired entries are the sweeper's). */
  #evict (need: number): void {
    let freed = 0
    for (const [id, s] of this.#slots) {
      this.#remove(id, s)
      freed += s.size
      if (freed >= need) return
    }
  }

  #armSweeper (): void {
    if (this.#sweeper !== null) return
    this.#sweeper = setInterval(() => {
      this.sweep(Date.now())
      if (this.#slots.size === 0 && this.#sweeper !== null) {
        clearInterval(this.#sweeper)
        this.#sweeper = null
      }
    }, SWEEP_MS)
    this.#sweeper.unref()
  }
}

let store = new CacheStore()

/** The worker's store. */
export function cacheStore (): CacheStore {
  return store
}

/**
 * Sets the worker's byte bound (Kong sizes its cache dict in the nginx template; here:
 * worker/main.ts at start, from configuration). Entries cached so far are dropped.
 */
export function configureProxyCacheStore (opts: { maxBytes: number; maxEntryBytes?: number }): void {
  store = new CacheStore(opts.maxBytes, opts.maxEntryBytes)
}
