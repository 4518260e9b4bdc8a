/**
 * Where token-cache invalidations go on the primary. The DAO hooks (dao-hooks.ts) report what a
 * write changed; primary.ts registers the sink that tells the workers once the transaction is
 * over. Kept free of imports so the DAO can load it without a cycle.
 */

export interface Invalidation {
  /** Access tokens whose cached lookups (found or not found) are stale. */
  tokens: string[]
  /** Credential ids: every cached token of these credentials is stale. */
  credentials: string[]
}

/** `client` is the transaction's connection: the sink waits for its release (after COMMIT). */
type Sink = (client: object, inv: Invalidation) => void

let sink: Sink | null = null

export function setInvalidationSink (s: Sink | null): void {
  sink = s
}

export function invalidate (client: object, inv: Invalidation): void {
  sink?.(client, inv)
}
