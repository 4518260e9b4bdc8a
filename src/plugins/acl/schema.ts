/** acl config (kong/plugins/acl/schema.lua): exactly one of allow / deny. */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    consumer: typedefs.no_consumer,
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        allow: { type: 'array', elements: { type: 'string' } },
        deny: { type: 'array', elements: { type: 'string' } },
        hide_groups_header: { type: 'boolean', required: true, default: false },
        always_use_authenticated_groups: { type: 'boolean', required: true, default: false },
      },
    },
  },
  entity_checks: [
    { only_one_of: ['config.allow', 'config.deny'] },
    { at_least_one_of: ['config.allow', 'config.deny'] },
  ],
}
