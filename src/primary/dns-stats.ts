/**
 * The node's DNS statistics for GET /status/dns (admin/routes/dns.ts answers it on the Status API
 * and the Admin API). Names are resolved in two places, each with its own DnsCache: the workers
 * (balancers, plain service hosts, log plugins' sockets) and the primary (the health registry
 * resolves every upstream's targets). The answer is their sum (common/dns.ts mergeDnsStats).
 *
 *   primary --DnsStatsRequest{seq}--> each serving worker --DnsStatsResult{seq, workerId, report}--> primary
 *
 * `DnsStatsRelay` pairs the answers with the request (common/fan-out.ts).
 */
import { mergeDnsStats, type DnsCache, type DnsStatsEntry, type DnsStatsReport } from '../common/dns.ts'
import type { DnsStatsRequest, DnsStatsResult } from '../common/protocol.ts'
import { FanOut } from '../common/fan-out.ts'

export interface NodeDnsStats {
  /** Worker threads of the generation serving now. */
  workers: number
  stats: Record<string, DnsStatsEntry>
}

export class DnsStatsRelay {
  readonly #fan: FanOut<DnsStatsRequest, DnsStatsResult>

  /**
   * @param post sends a message to one worker
   * @param serving ids of the workers serving now
   */
  constructor (post: (workerId: number, msg: DnsStatsRequest) => void, serving: () => readonly number[], timeoutMs = 2000) {
    this.#fan = new FanOut(post, serving, timeoutMs)
  }

  /** Every serving worker's report (those that answered in time). */
  async ask (): Promise<DnsStatsReport[]> {
    const answers = await this.#fan.ask((seq) => ({ type: 'dns-stats', seq }))
    return answers.map((a) => a.report)
  }

  onResult (msg: DnsStatsResult): void {
    this.#fan.onResult(msg)
  }
}

/** The primary's own statistics (null: it resolves nothing) plus every serving worker's, summed. */
export async function collectDnsStats (own: DnsCache | null, workers: { readonly dnsStats: DnsStatsRelay; readonly workers: ReadonlyMap<number, unknown> }): Promise<NodeDnsStats> {
  const reports = await workers.dnsStats.ask()
  if (own !== null) reports.push(own.stats())
  return { workers: workers.workers.size, stats: mergeDnsStats(reports) }
}
