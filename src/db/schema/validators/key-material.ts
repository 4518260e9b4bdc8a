/**
 * Key material of the `keys` entity, read with node:crypto where Kong uses lua-resty-openssl
 * (kong/db/schema/typedefs.lua validate_jwk / validate_pem_keys, kong/db/dao/keys.lua):
 *
 * - a JWK loads when OpenSSL could build a key from it: `kty` RSA (n, e), EC on P-256, P-384 or
 *   P-521 (x, y) or OKP (x or d), every key member given being base64url text; a JWK with `d` is
 *   a private key. Other types (`oct`) and curves are refused, as lua-resty-openssl refuses them.
 * - a PEM public key must be a public key (a private key or a certificate there is refused, as
 *   Kong's `type = "pu"` load does), a private key a private key; when both are given, the
 *   private key's public half must be the public key.
 * - `publicKeyOf` / `privateKeyOf` are Kong's `keys:get_pubkey` / `get_privkey`: the key in its
 *   own format (JWK JSON with a fresh `kid`, or PEM), or Kong's error when there is no such key.
 *
 * Nothing here throws on bad input.
 */
import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { isReference } from '../../../vault/reference.ts'

const isString = (v: unknown): v is string => typeof v === 'string'
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** ngx.base64 decode_base64url accepts these; node's decoder skips anything else silently. */
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/

const EC_CURVES = new Set(['P-256', 'P-384', 'P-521'])
const OKP_CURVES = new Set(['Ed25519', 'Ed448', 'X25519', 'X448'])
/** The members each key type reads (lua-resty-openssl auxiliary/jwk.lua). */
const MEMBERS: Record<string, readonly string[]> = {
  RSA: ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'],
  EC: ['x', 'y', 'd'],
  OKP: ['x', 'd'],
}

/** The key a JWK object describes (private when it has `d`), or null when OpenSSL could not load it. */
export function jwkKey (jwk: Record<string, unknown>): KeyObject | null {
  const kty = jwk.kty
  if (!isString(kty) || !Object.hasOwn(MEMBERS, kty)) return null
  for (const m of MEMBERS[kty]!) {
    const v = jwk[m]
    if (v !== undefined && (!isString(v) || !BASE64URL.test(v))) return null
  }
  if (kty === 'RSA' && (!isString(jwk.n) || !isString(jwk.e))) return null
  if (kty === 'EC' && (!isString(jwk.crv) || !EC_CURVES.has(jwk.crv) || !isString(jwk.x) || !isString(jwk.y))) return null
  if (kty === 'OKP' && (!isString(jwk.crv) || !OKP_CURVES.has(jwk.crv) || (!isString(jwk.x) && !isString(jwk.d)))) return null
  try {
    const key = jwk as JsonWebKey
    return isString(jwk.d) ? createPrivateKey({ key, format: 'jwk' }) : createPublicKey({ key, format: 'jwk' })
  } catch {
    return null
  }
}

/** A JWK text parsed as JSON, or null. */
export function parseJwk (text: string): unknown {
  try { return JSON.parse(text) } catch { return null }
}

/** typedefs.jwk's custom_validator: the text is a JWK that loads (a reference is judged later). */
export function validateJwk (text: unknown): string | undefined {
  if (!isString(text) || isReference(text)) return undefined
  const j = parseJwk(text)
  return isObject(j) && jwkKey(j) !== null ? undefined : 'could not load JWK, likely not a valid key'
}

/** The PEM's first label, if any. */
function pemLabels (text: string): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]!)
}

/** A public key PEM (SPKI or PKCS#1), or the loader's error. */
export function loadPublicPem (text: string): { key: KeyObject } | { err: string } {
  if (!pemLabels(text).some((l) => l === 'PUBLIC KEY' || l === 'RSA PUBLIC KEY')) return { err: 'not a public key' }
  try { return { key: createPublicKey({ key: text, format: 'pem' }) } } catch (e) { return { err: (e as Error).message } }
}

/** A private key PEM (an encrypted one cannot load: there is no passphrase), or the loader's error. */
export function loadPrivatePem (text: string): { key: KeyObject } | { err: string } {
  try { return { key: createPrivateKey({ key: text, format: 'pem' }) } } catch (e) { return { err: (e as Error).message } }
}

/** The public half of a key object (createPublicKey refuses a public KeyObject). */
const publicHalf = (k: KeyObject): KeyObject => k.type === 'public' ? k : createPublicKey(k)
const spkiPem = (k: KeyObject): string => publicHalf(k).export({ type: 'spki', format: 'pem' }) as string

/** typedefs.pem's custom_validator (validate_pem_keys), with Kong's messages. */
export function validatePemKeys (value: unknown): string | undefined {
  if (!isObject(value)) return undefined
  const priv = value.private_key
  const pub = value.public_key
  // a reference in either field: nothing to compare until it is dereferenced
  if (isReference(priv) || isReference(pub)) return undefined
  let pubKey: KeyObject | undefined
  let privKey: KeyObject | undefined
  if (isString(pub)) {
    const r = loadPublicPem(pub)
    if ('err' in r) return 'could not load public key'
    pubKey = r.key
  }
  if (isString(priv)) {
    const r = loadPrivatePem(priv)
    // Kong appends lua-resty-openssl's error, whose OpenSSL part node gives too
    if ('err' in r) return `could not load private keypkey.new:load_key: ${r.err}`
    privKey = r.key
  }
  if (pubKey !== undefined && privKey !== undefined && spkiPem(privKey) !== spkiPem(pubKey)) return 'public key does not match private key'
  return undefined
}

export type KeyPart = 'public' | 'private'

/** What `publicKeyOf` / `privateKeyOf` read: a `keys` row. */
export interface KeyRow { readonly jwk?: unknown; readonly pem?: unknown }

const NO_PRIVATE = 'could not load a private key from public key material'

function load (row: KeyRow, part: KeyPart): { key: KeyObject; format: 'JWK' | 'PEM' } | { err: string } {
  if (isString(row.jwk)) {
    const j = parseJwk(row.jwk)
    const key = isObject(j) ? jwkKey(j) : null
    if (key === null) return { err: 'could not load pkey. could not load JWK, likely not a valid key' }
    if (part === 'private' && key.type !== 'private') return { err: NO_PRIVATE }
    return { key, format: 'JWK' }
  }
  if (isObject(row.pem)) {
    const priv = row.pem.private_key
    const pub = row.pem.public_key
    if (part === 'private') {
      if (!isString(priv)) return { err: NO_PRIVATE }
      const r = loadPrivatePem(priv)
      return 'err' in r ? { err: `could not load pkey. ${r.err}` } : { key: r.key, format: 'PEM' }
    }
    // the public half of the private key when no public key is stored
    const r = isString(pub) ? loadPublicPem(pub) : isString(priv) ? loadPrivatePem(priv) : { err: 'no key material' }
    return 'err' in r ? { err: `could not load pkey. ${r.err}` } : { key: publicHalf(r.key), format: 'PEM' }
  }
  return { err: 'could not load pkey. no key material' }
}

/** `pkey:tostring(part, "JWK")`: the key's members and a kid from the sha256 of its DER form. */
function toJwk (key: KeyObject, part: KeyPart): string {
  const k = part === 'public' ? publicHalf(key) : key
  const der = part === 'public' ? k.export({ type: 'spki', format: 'der' }) : k.export({ type: 'pkcs8', format: 'der' })
  const jwk = k.export({ format: 'jwk' }) as Record<string, unknown>
  jwk.kid = createHash('sha256').update(der).digest('base64url')
  return JSON.stringify(jwk)
}

function keyText (row: KeyRow, part: KeyPart): { key: string } | { err: string } {
  const r = load(row, part)
  if ('err' in r) return r
  if (r.format === 'JWK') return { key: toJwk(r.key, part) }
  const k = part === 'public' ? publicHalf(r.key) : r.key
  return { key: part === 'public' ? k.export({ type: 'spki', format: 'pem' }) as string : k.export({ type: 'pkcs8', format: 'pem' }) as string }
}

/** keys:get_pubkey: the public key as a JWK text or an SPKI PEM. */
export function publicKeyOf (row: KeyRow): { key: string } | { err: string } {
  return keyText(row, 'public')
}

/** keys:get_privkey: the private key as a JWK text or a PKCS#8 PEM; an error for public key material. */
export function privateKeyOf (row: KeyRow): { key: string } | { err: string } {
  return keyText(row, 'private')
}
