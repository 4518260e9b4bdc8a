/**
 * session config (kong/plugins/session/schema.lua, Kong 3.x on lua-resty-session 4).
 *
 * `secret` defaults to a random 44-character string drawn once when this module loads, as Kong
 * draws it once per process: every instance created without a secret by this node gets the same
 * one, and it is stored with the plugin row. The deprecated 2.x names (`cookie_lifetime`,
 * `cookie_idletime`, `cookie_renew`, `cookie_discard`, `cookie_samesite`, `cookie_httponly`,
 * `cookie_persistent`) are accepted as shorthands and mapped to their 3.x fields.
 */
import { randomBytes, randomInt } from 'node:crypto'
import type { PluginSchema } from '../schemas.ts'
import type { FieldDef } from '../../db/schema/types.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

/** 32 random bytes in base64 with `/`, `+` and `=` swapped for a digit, an upper and a lower letter. */
export function randomSecret (): string {
  const digit = String.fromCharCode(randomInt(48, 58))
  const upper = String.fromCharCode(randomInt(65, 91))
  const lower = String.fromCharCode(randomInt(97, 123))
  return randomBytes(32).toString('base64').replace(/\//g, digit).replace(/\+/g, upper).replace(/=/g, lower)
}

export const HEADER_NAMES = ['id', 'audience', 'subject', 'timeout', 'idling-timeout', 'rolling-timeout', 'absolute-timeout'] as const

const headers: FieldDef = {
  type: 'set',
  description: 'List of information to include, as headers, in the response to the downstream.',
  elements: { type: 'string', one_of: HEADER_NAMES },
}

const num = (def: number, description: string): FieldDef => ({ type: 'number', default: def, description })

export const schema: PluginSchema = {
  fields: {
    consumer: typedefs.no_consumer,
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        secret: { type: 'string', required: false, default: randomSecret(), encrypted: true, referenceable: true, description: 'The secret that is used in keyed HMAC generation.' },
        storage: { type: 'string', one_of: ['cookie', 'kong'], default: 'cookie', description: 'Determines where the session data is stored.' },
        audience: { type: 'string', default: 'default', description: 'The session audience, which is the intended target application.' },
        idling_timeout: num(900, 'The session cookie idle time, in seconds.'),
        rolling_timeout: num(3600, 'The session cookie rolling timeout, in seconds.'),
        absolute_timeout: num(86400, 'The session cookie absolute timeout, in seconds.'),
        stale_ttl: num(10, 'The duration, in seconds, after which an old cookie is discarded once the session is renewed.'),
        cookie_name: { type: 'string', default: 'session', description: 'The name of the cookie.' },
        cookie_path: { type: 'string', default: '/', description: 'The resource in the host where the cookie is available.' },
        cookie_domain: { type: 'string', description: 'The domain with which the cookie is intended to be exchanged.' },
        cookie_same_site: { type: 'string', default: 'Strict', one_of: ['Strict', 'Lax', 'None', 'Default'], description: 'Determines whether and how a cookie may be sent with cross-site requests.' },
        cookie_http_only: { type: 'boolean', default: true, description: 'Applies the `HttpOnly` tag so that the cookie is sent only to a server.' },
        cookie_secure: { type: 'boolean', default: true, description: 'Applies the Secure directive.' },
        remember: { type: 'boolean', default: false, description: 'Enables or disables persistent sessions.' },
        remember_cookie_name: { type: 'string', default: 'remember', description: 'Persistent session cookie name.' },
        remember_rolling_timeout: num(604800, 'The persistent session rolling timeout window, in seconds.'),
        remember_absolute_timeout: num(2592000, 'The persistent session absolute timeout limit, in seconds.'),
        response_headers: headers,
        request_headers: headers,
        read_body_for_logout: { type: 'boolean', default: false },
        logout_methods: {
          type: 'set',
          description: 'A set of HTTP methods that the plugin will respond to.',
          elements: { type: 'string', one_of: ['GET', 'POST', 'DELETE'] },
          default: ['POST', 'DELETE'],
        },
        logout_query_arg: { type: 'string', default: 'session_logout', description: 'The query argument passed to logout requests.' },
        logout_post_arg: { type: 'string', default: 'session_logout', description: 'The POST argument passed to logout requests.' },
        hash_subject: { type: 'boolean', default: false, description: 'Whether to hash or not the subject when store_metadata is enabled.' },
        store_metadata: { type: 'boolean', default: false, description: 'Whether to also store metadata of sessions.' },
      },
      shorthand_fields: {
        cookie_lifetime: { type: 'number', func: (v) => ({ rolling_timeout: v }) },
        cookie_idletime: { type: 'number', func: (v) => ({ idling_timeout: v ?? 0 }) },
        cookie_renew: { type: 'number', func: () => undefined },
        cookie_discard: { type: 'number', func: (v) => ({ stale_ttl: v }) },
        cookie_samesite: { type: 'string', func: (v) => ({ cookie_same_site: v === 'off' ? 'Lax' : v }) },
        cookie_httponly: { type: 'boolean', func: (v) => ({ cookie_http_only: v }) },
        cookie_persistent: { type: 'boolean', func: (v) => ({ remember: v }) },
      },
    },
  },
}
