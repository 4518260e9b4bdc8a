/** ai-prompt-guard config (kong/plugins/ai-prompt-guard/schema.lua). */
import type { FieldDef } from '../../db/schema/types.ts'
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'
import { llmFormat, maxRequestBodySize } from '../ai-shared/schema-fields.ts'

/** Patterns are not checked here: Kong compiles them per request and answers 500 for a bad one. */
const patterns: FieldDef = { type: 'array', required: false, len_max: 10, elements: { type: 'string', len_min: 1, len_max: 500 } }

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        allow_patterns: patterns,
        deny_patterns: patterns,
        allow_all_conversation_history: { type: 'boolean', required: true, default: false },
        max_request_body_size: maxRequestBodySize,
        match_all_roles: { type: 'boolean', required: true, default: false },
        llm_format: llmFormat,
      },
    },
  },
  entity_checks: [
    { at_least_one_of: ['config.allow_patterns', 'config.deny_patterns'] },
    {
      conditional: {
        if_field: 'config.match_all_roles', if_match: { eq: true },
        then_field: 'config.allow_all_conversation_history', then_match: { eq: false },
      },
    },
  ],
}
