/**
 * undici pools for the HTTP calls plugins make themselves (http-log's collector, azure-functions'
 * function): one per origin and connection settings, shared by plugin instances and snapshots.
 * Names resolve through Kong's DNS settings (dns-lookup.ts); Kong's `timeout` covers connect,
 * headers and body; `keepalive` is how long an idle connection lives.
 */
import { Pool } from 'undici'
import { kongLookup } from './dns-lookup.ts'

export interface PluginPoolOptions {
  /** Verify the server's certificate (Node's CA store). */
  verify: boolean
  /** ms for connect, headers and body. */
  timeout: number
  /** ms an idle connection is kept. */
  keepalive: number
  /** Connections per origin; null: no limit. */
  connections: number | null
}

const pools = new Map<string, Pool>()

export function pluginPool (origin: string, o: PluginPoolOptions): Pool {
  const key = `${origin}|${o.verify ? 1 : 0}|${o.timeout}|${o.keepalive}|${o.connections ?? ''}`
  let p = pools.get(key)
  if (p === undefined) {
    p = new Pool(origin, {
      connections: o.connections,
      connect: { timeout: o.timeout, rejectUnauthorized: o.verify, lookup: kongLookup },
      headersTimeout: o.timeout,
      bodyTimeout: o.timeout,
      keepAliveTimeout: Math.max(1, o.keepalive),
      keepAliveMaxTimeout: Math.max(1, o.keepalive),
    })
    pools.set(key, p)
  }
  return p
}

/** Drops every plugin connection (worker shutdown, once the log queues were flushed or gave up). */
export async function closePluginPools (): Promise<void> {
  const all = [...pools.values()]
  pools.clear()
  await Promise.all(all.map((p) => p.destroy().catch(() => {})))
}
