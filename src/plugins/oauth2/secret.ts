/**
 * Client secret hashing (kong/plugins/oauth2/secret.lua, PBKDF2 as Kong enables it): PHC strings
 * `$pbkdf2-sha512$i=10000,l=32$<salt>$<hash>` with unpadded standard base64, a 16-byte random salt
 * and a 32-byte key. `verify` reads the digest, iterations and length back from the string, so
 * hashes Kong wrote verify here and the other way round. Primary side only (Admin API writes and
 * the token endpoint).
 */
import { pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'

const DIGEST = 'sha512'
const ITERATIONS = 10000
const KEY_LEN = 32
const SALT_LEN = 16

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '')

function phc (digest: string, iter: number, len: number, salt: Buffer, key: Buffer): string {
  return `$pbkdf2-${digest}$i=${iter},l=${len}$${b64(salt)}$${b64(key)}`
}

export function hashSecret (secret: string): string {
  const salt = randomBytes(SALT_LEN)
  return phc(DIGEST, ITERATIONS, KEY_LEN, salt, pbkdf2Sync(secret, salt, ITERATIONS, KEY_LEN, DIGEST))
}

interface Parsed { digest: string; iter: number; len: number; salt: Buffer; key: Buffer }

function parse (hash: string): Parsed | null {
  const m = /^\$pbkdf2-([a-z0-9-]+)\$([^$]*)\$([A-Za-z0-9+/]*)\$([A-Za-z0-9+/]+)$/.exec(hash)
  if (m === null) return null
  const params = new Map<string, number>()
  for (const kv of m[2]!.split(',')) {
    const [k, v] = kv.split('=')
    if (k !== undefined && v !== undefined) params.set(k.trim(), Number(v))
  }
  const key = Buffer.from(m[4]!, 'base64')
  const iter = params.get('i') ?? NaN
  const len = params.get('l') ?? key.length
  if (!Number.isInteger(iter) || iter < 1 || iter > 10_000_000 || !Number.isInteger(len) || len < 1 || len > 1024) return null
  return { digest: m[1]!, iter, len, salt: Buffer.from(m[3]!, 'base64'), key }
}

/** True when `secret` matches the PHC `hash`; false for anything that is not one. */
export function verifySecret (secret: unknown, hash: unknown): Promise<boolean> {
  if (typeof secret !== 'string' || typeof hash !== 'string') return Promise.resolve(false)
  const p = parse(hash)
  if (p === null) return Promise.resolve(false)
  return new Promise((resolve) => {
    try {
      pbkdf2(secret, p.salt, p.iter, p.len, p.digest, (err, out) => {
        resolve(err === null && out.length === p.key.length && timingSafeEqual(out, p.key))
      })
    } catch {
      resolve(false) // an unknown digest name
    }
  })
}

/** secret.lua needs_rehash: not a hash of ours with today's parameters. */
export function needsRehash (hash: unknown): boolean {
  if (typeof hash !== 'string') return true
  const p = parse(hash)
  return p === null || p.digest !== DIGEST || p.iter !== ITERATIONS || p.len !== KEY_LEN
}
