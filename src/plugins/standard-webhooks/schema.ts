/** standard-webhooks config (kong/plugins/standard-webhooks/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    consumer: typedefs.no_consumer,
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        secret_v1: { type: 'string', required: true, encrypted: true, referenceable: true, description: 'Webhook secret' },
        tolerance_second: {
          type: 'integer',
          required: true,
          gt: -1,
          default: 5 * 60,
          description: "Tolerance of the webhook timestamp in seconds. If the webhook timestamp is older than this number of seconds, it will be rejected with a '400' response.",
        },
      },
    },
  },
}
