/**
 * ip-restriction config (kong/plugins/ip-restriction/schema.lua). `status` and `message` have
 * no schema default; the handler falls back to 403 and its own message.
 */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    protocols: { ...typedefs.protocols, default: ['http', 'https', 'tcp', 'tls', 'grpc', 'grpcs'] },
    config: {
      type: 'record',
      fields: {
        allow: { type: 'array', elements: typedefs.ip_or_cidr },
        deny: { type: 'array', elements: typedefs.ip_or_cidr },
        status: { type: 'number', required: false },
        message: { type: 'string', required: false },
      },
    },
  },
  entity_checks: [{ at_least_one_of: ['config.allow', 'config.deny'] }],
}
