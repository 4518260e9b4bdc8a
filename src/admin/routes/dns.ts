/**
 * `GET /status/dns` (kong/api/routes/dns.lua): the DNS statistics of the node when the setting
 * `new_dns_client` is on, `501 {"message":"not implemented with the legacy DNS client"}` when it
 * is off (Kong's default). Kong attaches every module of kong/api/routes to the Admin API, and
 * kong/status/init.lua this one to the Status API too: the Admin API registers dnsRoutes(), the
 * Status API (primary/status-server.ts) answers with dnsStatusReply().
 *
 * Body: `{"worker": {"id", "count"}, "stats": {"<name>|<type>": {counters}}}`. Kong answers for
 * the nginx worker that took the request; Sluice's answer is the node's (the primary's resolver
 * plus every worker's, primary/dns-stats.ts), so `id` is -1, Kong's id outside a worker, and
 * `count` the number of worker threads.
 */
import type { Config } from '../../config/load.ts'
import type { NodeDnsStats } from '../../primary/dns-stats.ts'
import type { Reply } from '../respond.ts'
import { route, type Route } from '../router.ts'

/** The node's statistics (primary/dns-stats.ts collectDnsStats for the generation serving now). */
export type DnsStatsSource = () => Promise<NodeDnsStats>

const LEGACY: Reply = { status: 501, body: { message: 'not implemented with the legacy DNS client' } }

/** Whether `new_dns_client` is on (a boolean key: on/off/true/false, checked when loaded). */
export function newDnsClientOn (config: Config): boolean {
  const v = (config.raw.new_dns_client ?? 'off').trim().toLowerCase()
  return v === 'on' || v === 'true'
}

export async function dnsStatusReply (config: Config, source: DnsStatsSource | null): Promise<Reply> {
  if (!newDnsClientOn(config)) return LEGACY
  const s: NodeDnsStats = source === null ? { workers: 0, stats: {} } : await source()
  return { status: 200, body: { worker: { id: -1, count: s.workers }, stats: s.stats } }
}

export function dnsRoutes (config: Config, source: DnsStatsSource | null): Route[] {
  return [route('/status/dns', { GET: () => dnsStatusReply(config, source) })]
}
