/**
 * Kong's opaque page offsets (kong/db/strategies/postgres/init.lua `page`): standard base64,
 * without padding, of the JSON array of the last row's primary key. Decoding follows nginx's
 * ngx_decode_base64: it stops at the first '=', and refuses other characters or a length of
 * 4n+1.
 */
import { invalidOffset } from '../schema/db-errors.ts'
import { isUuid } from '../schema/validate-field.ts'

export function encodeOffset (pk: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(pk)).toString('base64').replace(/=+$/, '')
}

/** The primary key values an offset stands for; throws Kong's invalid offset error. */
export function decodeOffset (token: string): unknown[] {
  const eq = token.indexOf('=')
  const body = eq >= 0 ? token.slice(0, eq) : token
  if (!/^[A-Za-z0-9+/]*$/.test(body) || body.length % 4 === 1) throw invalidOffset(token, 'bad base64 encoding')
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(body, 'base64').toString('utf8'))
  } catch {
    throw invalidOffset(token, 'bad json encoding')
  }
  // Kong would hand anything else to PostgreSQL and fail there; say so up front instead.
  if (!Array.isArray(decoded) || !isUuid(decoded[0])) throw invalidOffset(token, 'bad json encoding')
  return decoded
}
