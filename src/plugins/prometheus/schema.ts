/** prometheus config (kong/plugins/prometheus/schema.lua): which metric families to collect. */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

const flag = { type: 'boolean', default: false } as const

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        per_consumer: flag,
        status_code_metrics: flag,
        ai_metrics: flag,
        latency_metrics: flag,
        bandwidth_metrics: flag,
        upstream_health_metrics: flag,
        wasm_metrics: flag,
      },
    },
  },
}
