/**
 * Kong's rate-limiting periods, in Kong's order (kong/tools/timestamp.lua `timestamp_table_fields`),
 * with their counter lifetimes (kong/plugins/rate-limiting/expiration.lua) and the response header
 * names built once (kong/plugins/rate-limiting/handler.lua X_RATELIMIT_LIMIT / _REMAINING).
 */

export const PERIODS = ['second', 'minute', 'hour', 'day', 'month', 'year'] as const
export type Period = typeof PERIODS[number]

export const P_SECOND = 0
export const P_MINUTE = 1
export const P_HOUR = 2
export const P_DAY = 3
export const P_MONTH = 4
export const P_YEAR = 5

/** Seconds a counter lives (Kong's EXPIRATION); also the `window` of RateLimit-Reset, month = 30 days. */
export const EXPIRATION: readonly number[] = [1, 60, 3600, 86400, 2592000, 31536000]

const CAP = ['Second', 'Minute', 'Hour', 'Day', 'Month', 'Year'] as const

export const X_RATELIMIT_LIMIT: readonly string[] = CAP.map((p) => `X-RateLimit-Limit-${p}`)
export const X_RATELIMIT_REMAINING: readonly string[] = CAP.map((p) => `X-RateLimit-Remaining-${p}`)
export const RATELIMIT_LIMIT = 'RateLimit-Limit'
export const RATELIMIT_REMAINING = 'RateLimit-Remaining'
export const RATELIMIT_RESET = 'RateLimit-Reset'
export const RETRY_AFTER = 'Retry-After'

export function periodIndex (name: string): number {
  return (PERIODS as readonly string[]).indexOf(name)
}

/** The configured periods of a Kong-shaped limits record (`{ minute: 6, hour: 100 }`), in Kong's order. */
export function configuredPeriods (conf: Readonly<Record<string, unknown>>): Array<{ period: number; limit: number }> {
  const out: Array<{ period: number; limit: number }> = []
  for (let i = 0; i < PERIODS.length; i++) {
    const v = conf[PERIODS[i]!]
    if (typeof v === 'number' && v > 0) out.push({ period: i, limit: v })
  }
  return out
}
