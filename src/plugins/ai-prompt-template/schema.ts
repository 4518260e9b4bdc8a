/** ai-prompt-template config (kong/plugins/ai-prompt-template/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'
import { maxRequestBodySize } from '../ai-shared/schema-fields.ts'

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        templates: {
          type: 'array',
          required: true,
          elements: {
            type: 'record',
            required: true,
            fields: {
              name: { type: 'string', required: true },
              template: { type: 'string', required: true },
            },
          },
        },
        allow_untemplated_requests: { type: 'boolean', required: true, default: true },
        log_original_request: { type: 'boolean', required: true, default: false },
        max_request_body_size: maxRequestBodySize,
      },
    },
  },
}
