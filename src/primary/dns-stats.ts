/**
 * The node's DNS statistics for GET /status/dns (admin/routes/dns.ts answers it on the Status API
 * and the Admin API). Names are resolved in two places, each with its own DnsCache: the workers
 * (balancers, plain service hosts, log plugins' sockets) and the primary (the health registry
 * resolves every upstream's targets). The answer is their sum (common/dns.ts mergeDnsStats).
 *
 *   primary --DnsStatsRequest{seq}--> each serving worker --DnsStatsResult{seq, workerId, report}--> primary
 *
 * `DnsStatsRelay` pairs the answers with the request: ask() resolves with the answers of every
 * worker asked, or with those that came within the time limit (a worker being replaced does not
 * hold the answer up).
 */
import { mergeDnsStats, type DnsCache, type DnsStatsEntry, type DnsStatsReport } from '../common/dns.ts'
import type { DnsStatsRequest, DnsStatsResult } from '../common/protocol.ts'

export interface NodeDnsStats {
  /** Worker threads of the generation serving now. */
  workers: number
  stats: Record<string, DnsStatsEntry>
}

export class DnsStatsRelay {
  readonly #post: (workerId: number, msg: DnsStatsRequest) => void
  readonly #serving: () => readonly number[]
  readonly #timeoutMs: number
  #seq = 0
  readonly #waiting = new Map<number, { want: Set<number>; got: DnsStatsReport[]; done: () => void }>()

  /**
   * @param post sends a message to one worker
   * @param serving ids of the workers serving now
   */
  constructor (post: (workerId: number, msg: DnsStatsRequest) => void, serving: () => readonly number[], timeoutMs = 2000) {
    this.#post = post
    this.#serving = serving
    this.#timeoutMs = timeoutMs
  }

  /** Every serving worker's report (those that answered in time). */
  ask (): Promise<DnsStatsReport[]> {
    const ids = this.#serving()
    if (ids.length === 0) return Promise.resolve([])
    const seq = ++this.#seq
    return new Promise((resolve) => {
      const w = { want: new Set(ids), got: [] as DnsStatsReport[], done: () => {} }
      const timer = setTimeout(() => { w.done() }, this.#timeoutMs)
      timer.unref()
      w.done = () => {
        clearTimeout(timer)
        this.#waiting.delete(seq)
        resolve(w.got)
      }
      this.#waiting.set(seq, w)
      const msg: DnsStatsRequest = { type: 'dns-stats', seq }
      for (const id of ids) {
        try { this.#post(id, msg) } catch { w.want.delete(id) }
      }
      if (w.want.size === 0) w.done()
    })
  }

  onResult (msg: DnsStatsResult): void {
    const w = this.#waiting.get(msg.seq)
    if (w === undefined || !w.want.delete(msg.workerId)) return
    w.got.push(msg.report)
    if (w.want.size === 0) w.done()
  }
}

/** The primary's own statistics (null: it resolves nothing) plus every serving worker's, summed. */
export async function collectDnsStats (own: DnsCache | null, workers: { readonly dnsStats: DnsStatsRelay; readonly workers: ReadonlyMap<number, unknown> }): Promise<NodeDnsStats> {
  const reports = await workers.dnsStats.ask()
  if (own !== null) reports.push(own.stats())
  return { workers: workers.workers.size, stats: mergeDnsStats(reports) }
}
