/**
 * Key material for the keys tests, as Kong's spec helper `generate_keys` makes it: a fresh RSA
 * pair as PEM (SPKI public, PKCS#8 private) or as a private JWK carrying a `kid`.
 */
import { generateKeyPairSync } from 'node:crypto'

export interface PemPair { pub: string; priv: string }

export function pemPair (): PemPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    pub: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    priv: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  }
}

/** A private RSA JWK (n, e, d and the CRT members) named `kid`. */
export function rsaJwk (kid: string): Record<string, string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { ...(privateKey.export({ format: 'jwk' }) as Record<string, string>), kid }
}

/** A public EC JWK on `curve` named `kid`. */
export function ecJwk (kid: string, curve: 'P-256' | 'P-384' | 'P-521' | 'secp256k1' = 'P-256'): Record<string, string> {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: curve })
  return { ...(publicKey.export({ format: 'jwk' }) as Record<string, string>), kid }
}

/** A private Ed25519 JWK named `kid`. */
export function okpJwk (kid: string): Record<string, string> {
  const { privateKey } = generateKeyPairSync('ed25519')
  return { ...(privateKey.export({ format: 'jwk' }) as Record<string, string>), kid }
}
