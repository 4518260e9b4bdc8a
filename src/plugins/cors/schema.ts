/** cors config (kong/plugins/cors/schema.lua): origins are `*` or PCRE regexes. */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'
import { translatePcre } from '../../db/schema/pcre.ts'

const METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']

export const schema: PluginSchema = {
  fields: {
    consumer: typedefs.no_consumer,
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        origins: {
          type: 'array',
          elements: {
            type: 'string',
            custom_validator: (v) => v === '*' || translatePcre(v as string).ok ? undefined : `'${v as string}' is not a valid regex`,
          },
        },
        headers: { type: 'array', elements: { type: 'string' } },
        exposed_headers: { type: 'array', elements: { type: 'string' } },
        methods: { type: 'array', default: METHODS, elements: { type: 'string', one_of: METHODS } },
        max_age: { type: 'number' },
        credentials: { type: 'boolean', required: true, default: false },
        private_network: { type: 'boolean', required: true, default: false },
        preflight_continue: { type: 'boolean', required: true, default: false },
        allow_origin_absent: { type: 'boolean', required: true, default: true },
      },
    },
  },
}
