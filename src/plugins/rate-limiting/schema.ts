/**
 * rate-limiting config (kong/plugins/rate-limiting/schema.lua), as on a node with a database
 * (policy `cluster` offered). The flat `redis_*` fields are Kong's deprecated shorthands for
 * `redis.*`.
 */
import type { ShorthandDef } from '../../db/schema/types.ts'
import type { PluginSchema } from '../schemas.ts'
import { redis, typedefs } from '../../db/schema/typedefs.ts'

export const ORDERED_PERIODS = ['second', 'minute', 'hour', 'day', 'month', 'year'] as const

/** Lua's `%.1f` */
const f1 = (n: number): string => n.toFixed(1)

/** validate_periods_order: a longer period may not allow fewer requests (`The`/`the` per plugin). */
export function periodsOrder (limits: Record<string, unknown>, the: 'The' | 'the'): string | undefined {
  for (let i = 0; i < ORDERED_PERIODS.length; i++) {
    const lower = ORDERED_PERIODS[i]!
    const v1 = limits[lower]
    if (typeof v1 !== 'number') continue
    for (let j = i + 1; j < ORDERED_PERIODS.length; j++) {
      const upper = ORDERED_PERIODS[j]!
      const v2 = limits[upper]
      if (typeof v2 === 'number' && v2 < v1) return `${the} limit for ${upper}(${f1(v2)}) cannot be lower than the limit for ${lower}(${f1(v1)})`
    }
  }
  return undefined
}

function check (config: unknown): string | undefined {
  const c = config as Record<string, unknown>
  const err = periodsOrder(c, 'The')
  if (err !== undefined) return err
  if (c.policy !== 'redis' && c.sync_rate !== -1) return 'sync_rate can only be used with the redis policy'
  if (c.policy === 'redis' && c.sync_rate !== -1 && typeof c.sync_rate === 'number' && c.sync_rate < 0.02) {
    return 'sync_rate must be greater than 0.02, or -1 to disable'
  }
  return undefined
}

/** The deprecated `redis_<x>` shorthands for `redis.<x>`. */
export function redisShorthands (): Record<string, ShorthandDef> {
  const out: Record<string, ShorthandDef> = {}
  const fields: Array<[string, ShorthandDef['type'], number?]> = [
    ['host', 'string'], ['port', 'integer'], ['password', 'string', 0], ['username', 'string'], ['ssl', 'boolean'],
    ['ssl_verify', 'boolean'], ['server_name', 'string'], ['timeout', 'integer'], ['database', 'integer'],
  ]
  for (const [f, type, lenMin] of fields) {
    out[`redis_${f}`] = {
      type,
      ...(lenMin !== undefined ? { len_min: lenMin } : {}),
      deprecation: { replaced_with: ['redis', f] },
      func: (v) => ({ redis: { [f]: v } }),
    }
  }
  return out
}

const period = { type: 'number', gt: 0 } as const
const redisRequired = (f: string) => ({
  conditional: { if_field: 'config.policy', if_match: { eq: 'redis' }, then_field: `config.redis.${f}`, then_match: { required: true } },
})

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        second: period,
        minute: period,
        hour: period,
        day: period,
        month: period,
        year: period,
        limit_by: { type: 'string', default: 'consumer', one_of: ['consumer', 'credential', 'ip', 'service', 'header', 'path'] },
        header_name: typedefs.header_name,
        path: typedefs.path,
        policy: { type: 'string', default: 'local', len_min: 0, one_of: ['local', 'cluster', 'redis'] },
        fault_tolerant: { type: 'boolean', required: true, default: true },
        redis,
        hide_client_headers: { type: 'boolean', required: true, default: false },
        error_code: { type: 'number', default: 429, gt: 0 },
        error_message: { type: 'string', default: 'API rate limit exceeded' },
        sync_rate: { type: 'number', required: true, default: -1 },
        // Sluice addition (Kong Enterprise's name): `sliding` weighs the previous window's count.
        window_type: { type: 'string', default: 'fixed', one_of: ['fixed', 'sliding'] },
      },
      custom_validator: check,
      shorthand_fields: redisShorthands(),
    },
  },
  entity_checks: [
    { at_least_one_of: ORDERED_PERIODS.map((p) => `config.${p}`) },
    redisRequired('host'),
    redisRequired('port'),
    redisRequired('timeout'),
    {
      conditional: { if_field: 'config.limit_by', if_match: { eq: 'header' }, then_field: 'config.header_name', then_match: { required: true } },
    },
    { conditional: { if_field: 'config.limit_by', if_match: { eq: 'path' }, then_field: 'config.path', then_match: { required: true } } },
  ],
}
