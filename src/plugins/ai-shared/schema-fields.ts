/** Config fields the AI prompt plugins' schemas share (same names, defaults and checks in each Kong schema). */
import type { FieldDef } from '../../db/schema/types.ts'

/** `llm_format`: the shape of the request body (bedrock and gemini are read through adapters.ts). */
export const llmFormat: FieldDef = { type: 'string', default: 'openai', required: false, one_of: ['openai', 'bedrock', 'gemini'] }

/** `max_request_body_size`: the largest body read past nginx's 8 KiB client body buffer. */
export const maxRequestBodySize: FieldDef = { type: 'integer', default: 8 * 1024, gt: 0 }
