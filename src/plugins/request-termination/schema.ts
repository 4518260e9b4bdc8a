/** request-termination config (kong/plugins/request-termination/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

const present = (v: unknown): boolean => typeof v === 'string' && v.length > 0

function check (config: unknown): string | undefined {
  const c = config as Record<string, unknown>
  if (present(c.message) && (present(c.content_type) || present(c.body))) return 'message cannot be used with content_type or body'
  if (present(c.content_type) && !present(c.body)) return 'content_type requires a body'
  if (c.echo === true && (present(c.content_type) || present(c.body))) return 'echo cannot be used with content_type and body'
  return undefined
}

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        status_code: { type: 'integer', required: true, default: 503, between: [100, 599] },
        message: { type: 'string' },
        content_type: { type: 'string' },
        body: { type: 'string' },
        echo: { type: 'boolean', required: true, default: false },
        trigger: typedefs.header_name,
      },
      custom_validator: check,
    },
  },
}
