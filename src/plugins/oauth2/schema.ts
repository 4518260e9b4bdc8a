/** oauth2 config (kong/plugins/oauth2/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

const FLOWS = ['enable_authorization_code', 'enable_implicit_grant', 'enable_client_credentials', 'enable_password_grant'] as const

/** validate_flows: at least one grant must be enabled. */
function validateFlows (v: unknown): string | undefined {
  const c = v as Record<string, unknown>
  if (FLOWS.some((f) => c[f] === true)) return undefined
  return `at least one of these fields must be true: ${FLOWS.join(', ')}`
}

export const schema: PluginSchema = {
  fields: {
    consumer: typedefs.no_consumer,
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        scopes: { type: 'array', elements: { type: 'string' } },
        mandatory_scope: { type: 'boolean', default: false, required: true },
        provision_key: { type: 'string', unique: true, auto: true, required: true, encrypted: true },
        token_expiration: { type: 'number', default: 7200, required: true },
        enable_authorization_code: { type: 'boolean', default: false, required: true },
        enable_implicit_grant: { type: 'boolean', default: false, required: true },
        enable_client_credentials: { type: 'boolean', default: false, required: true },
        enable_password_grant: { type: 'boolean', default: false, required: true },
        hide_credentials: { type: 'boolean', default: false, required: true },
        accept_http_if_already_terminated: { type: 'boolean', default: false, required: true },
        anonymous: { type: 'string' },
        global_credentials: { type: 'boolean', default: false, required: true },
        auth_header_name: { type: 'string', default: 'authorization' },
        refresh_token_ttl: { type: 'number', between: [0, 1e8], default: 1209600, required: true },
        reuse_refresh_token: { type: 'boolean', default: false, required: true },
        pkce: { type: 'string', default: 'lax', required: false, one_of: ['none', 'lax', 'strict'] },
        realm: { type: 'string', required: false },
      },
      custom_validator: validateFlows,
      entity_checks: [{
        conditional: { if_field: 'mandatory_scope', if_match: { eq: true }, then_field: 'scopes', then_match: { required: true } },
      }],
    },
  },
}
