/** ai-prompt-decorator config (kong/plugins/ai-prompt-decorator/schema.lua). */
import type { FieldDef } from '../../db/schema/types.ts'
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'
import { llmFormat, maxRequestBodySize } from '../ai-shared/schema-fields.ts'

const message: FieldDef = {
  type: 'record',
  required: false,
  fields: {
    role: { type: 'string', required: true, one_of: ['system', 'assistant', 'user'], default: 'system' },
    content: { type: 'string', required: true, len_min: 1, len_max: 500 },
  },
}

const messages: FieldDef = { type: 'array', required: false, len_max: 15, elements: message }

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        prompts: { type: 'record', required: false, fields: { prepend: messages, append: messages } },
        max_request_body_size: maxRequestBodySize,
        llm_format: llmFormat,
      },
    },
  },
  entity_checks: [{ at_least_one_of: ['config.prompts.prepend', 'config.prompts.append'] }],
}
