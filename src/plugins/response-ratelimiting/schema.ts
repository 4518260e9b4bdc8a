/**
 * response-ratelimiting config (kong/plugins/response-ratelimiting/schema.lua): named limits,
 * each a record of periods, counted from the upstream's `X-Kong-Limit` header.
 */
import type { PluginSchema } from '../schemas.ts'
import { redis, typedefs } from '../../db/schema/typedefs.ts'
import { ORDERED_PERIODS, periodsOrder, redisShorthands } from '../rate-limiting/schema.ts'

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
        header_name: { type: 'string', default: 'x-kong-limit' },
        limit_by: { type: 'string', default: 'consumer', one_of: ['consumer', 'credential', 'ip'] },
        policy: { type: 'string', default: 'local', one_of: ['local', 'cluster', 'redis'] },
        fault_tolerant: { type: 'boolean', required: true, default: true },
        redis,
        block_on_first_violation: { type: 'boolean', required: true, default: false },
        hide_client_headers: { type: 'boolean', required: true, default: false },
        limits: {
          type: 'map',
          required: true,
          len_min: 1,
          keys: { type: 'string' },
          values: {
            type: 'record',
            required: true,
            fields: { second: period, minute: period, hour: period, day: period, month: period, year: period },
            custom_validator: (v) => periodsOrder(v as Record<string, unknown>, 'the'),
            entity_checks: [{ at_least_one_of: [...ORDERED_PERIODS] }],
          },
        },
      },
      shorthand_fields: redisShorthands(),
    },
  },
  entity_checks: [redisRequired('host'), redisRequired('port'), redisRequired('timeout')],
}
