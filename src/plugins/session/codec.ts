/**
 * Sluice's session cookie format (not lua-resty-session's bytes; Kong's behaviour is what counts):
 *
 *   base64url( 0x01 | iv (12 bytes) | AES-256-GCM ciphertext | tag (16 bytes) )
 *
 * The key is HKDF-SHA256 of the plugin's `secret` (derived once per plugin instance and snapshot),
 * the additional data names the purpose (`cookie` or `row`) so a value sealed for one use cannot be
 * replayed as the other. The plaintext is JSON. Anything that does not decrypt and parse is not a
 * session: tampering, another secret, truncation.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

const VERSION = 1
const IV = 12
const TAG = 16
/** Longer than any cookie a browser keeps: refuse before decoding. */
const MAX_ENCODED = 16384

export type SealPurpose = 'cookie' | 'row'

export function deriveKey (secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'sluice-session', 'aes-256-gcm session key', 32))
}

export function seal (key: Buffer, purpose: SealPurpose, value: unknown): string {
  const iv = randomBytes(IV)
  const c = createCipheriv('aes-256-gcm', key, iv)
  c.setAAD(Buffer.from(purpose))
  const body = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()])
  return Buffer.concat([Buffer.of(VERSION), iv, body, c.getAuthTag()]).toString('base64url')
}

/** The value sealed with `key` for `purpose`, or undefined. */
export function unseal (key: Buffer, purpose: SealPurpose, text: string): unknown {
  if (text.length < 4 || text.length > MAX_ENCODED || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined
  const raw = Buffer.from(text, 'base64url')
  if (raw.length < 1 + IV + TAG + 2 || raw[0] !== VERSION) return undefined
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(1, 1 + IV))
    d.setAAD(Buffer.from(purpose))
    d.setAuthTag(raw.subarray(raw.length - TAG))
    const plain = Buffer.concat([d.update(raw.subarray(1 + IV, raw.length - TAG)), d.final()])
    return JSON.parse(plain.toString('utf8'))
  } catch {
    return undefined
  }
}

/** A new session id: 32 random bytes, base64url (43 characters). */
export function newSessionId (): string {
  return randomBytes(32).toString('base64url')
}
