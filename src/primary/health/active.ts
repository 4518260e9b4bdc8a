/**
 * Active health checks of one upstream, run once per node (lua-resty-healthcheck's
 * `checker_callback` / `active_check_targets`):
 *
 * - two timers: every `healthy.interval` s the addresses that serve (healthy, mostly_healthy) are
 *   probed, every `unhealthy.interval` s those that do not; an interval of 0 turns that timer off;
 *   the first round comes one interval after the start, as in Kong;
 * - a round still running when its timer fires again is not doubled (Kong's callback lock);
 * - a round probes its addresses at most `concurrency` at a time;
 * - targets of weight 0 are not probed.
 * A configuration change of the upstream's healthchecks replaces the runner (registry.ts).
 */
import { servesTraffic } from './state.ts'
import { probe } from './probe.ts'
import type { AddressState, HealthRegistry, TargetState, UpstreamState } from './registry.ts'

export class ActiveRunner {
  readonly #registry: HealthRegistry
  readonly #u: UpstreamState
  readonly #timers: NodeJS.Timeout[] = []
  readonly #running = { healthy: false, unhealthy: false }
  #stopped = false

  constructor (registry: HealthRegistry, u: UpstreamState) {
    this.#registry = registry
    this.#u = u
    const a = u.checks.active
    if (a.healthyIntervalMs > 0) this.#every(a.healthyIntervalMs, 'healthy')
    if (a.unhealthyIntervalMs > 0) this.#every(a.unhealthyIntervalMs, 'unhealthy')
  }

  #every (ms: number, mode: 'healthy' | 'unhealthy'): void {
    const t = setInterval(() => { void this.round(mode) }, ms)
    t.unref()
    this.#timers.push(t)
  }

  /** One round of probes of the addresses in `mode`; resolves when all are done. */
  async round (mode: 'healthy' | 'unhealthy'): Promise<void> {
    if (this.#stopped || this.#running[mode]) return
    this.#running[mode] = true
    try {
      const u = this.#u
      const work: Array<{ t: TargetState; a: AddressState }> = []
      for (const t of u.targets.values()) {
        if (t.weight <= 0) continue
        for (const a of t.addresses.values()) if (servesTraffic(a.c.health) === (mode === 'healthy')) work.push({ t, a })
      }
      let next = 0
      const lane = async (): Promise<void> => {
        while (next < work.length && !this.#stopped) {
          const { t, a } = work[next++]!
          const r = await probe({ ip: a.ip, port: a.port, host: u.hostHeader ?? t.host }, u.checks.active)
          if (!this.#stopped) this.#registry.onProbe(u, t, a, r)
        }
      }
      const lanes: Array<Promise<void>> = []
      for (let i = 0; i < Math.min(u.checks.active.concurrency, work.length); i++) lanes.push(lane())
      await Promise.all(lanes)
    } finally {
      this.#running[mode] = false
    }
  }

  stop (): void {
    this.#stopped = true
    for (const t of this.#timers) clearInterval(t)
    this.#timers.length = 0
  }
}
