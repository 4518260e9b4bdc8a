/**
 * Node settings of the rate-limit writer. Until kong.conf-style keys exist for them
 * (`ratelimit_sync_interval`, `ratelimit_counter_slots`: proposed to config/defaults.ts), they are
 * read from the raw config when present, else from SLUICE_RATELIMIT_SYNC_INTERVAL (seconds, like
 * Kong's sync_rate) and SLUICE_RATELIMIT_COUNTER_SLOTS.
 */
import type { Config } from '../../config/load.ts'
import { DEFAULT_SLOTS } from '../../common/ratelimit/counter-table.ts'

export const DEFAULT_SYNC_INTERVAL_MS = 100

function raw (config: Config, key: string, env: string): string | undefined {
  const v = (config.raw as unknown as Record<string, string | undefined>)[key]
  return v !== undefined && v !== '' ? v : process.env[env]
}

export function rateLimitSettings (config: Config): { tickMs: number; slots: number } {
  const s = Number(raw(config, 'ratelimit_sync_interval', 'SLUICE_RATELIMIT_SYNC_INTERVAL'))
  const n = Number(raw(config, 'ratelimit_counter_slots', 'SLUICE_RATELIMIT_COUNTER_SLOTS'))
  return {
    tickMs: Number.isFinite(s) && s >= 0.005 ? Math.round(s * 1000) : DEFAULT_SYNC_INTERVAL_MS,
    slots: Number.isInteger(n) && n >= 1024 ? n : DEFAULT_SLOTS,
  }
}
