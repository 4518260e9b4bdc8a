/**
 * JWT decoding and verification as kong/plugins/jwt/jwt_parser.lua does it, on node:crypto:
 * the token splits into at most three parts; header and claims are base64url JSON, the signature
 * base64url bytes ("Bad token; invalid JSON" / "invalid alg" / "invalid signature"). HS* are
 * HMACs compared in constant time; RS*, PS* (PKCS#1 v1.5 / PSS), ES* (raw r||s signatures) and
 * EdDSA verify against a public KeyObject imported once per snapshot. Kong's size assertions on
 * ES and PS signatures are kept: they are runtime errors there (500), and are here.
 */
import { constants, createHmac, timingSafeEqual, verify, type KeyObject } from 'node:crypto'

export interface DecodedJwt {
  readonly header: Record<string, unknown>
  readonly claims: Record<string, unknown>
  readonly signature: Buffer
  /** `header_64.claims_64`: the signed bytes. */
  readonly signingInput: string
}

const HASH: Record<string, string> = {
  HS256: 'sha256', HS384: 'sha384', HS512: 'sha512',
  RS256: 'sha256', RS384: 'sha384', RS512: 'sha512',
  ES256: 'sha256', ES384: 'sha384', ES512: 'sha512',
  PS256: 'sha256', PS384: 'sha384', PS512: 'sha512',
  EdDSA: '',
}

const ES_SIZE: Record<string, number> = { ES256: 64, ES384: 96, ES512: 132 }

export function isSupportedAlg (alg: unknown): alg is string {
  return typeof alg === 'string' && Object.prototype.hasOwnProperty.call(HASH, alg)
}

const B64 = /^[A-Za-z0-9+/_-]*$/

/**
 * jwt_parser's base64_decode: `-` and `_` become `+` and `/`, then ngx.decode_base64, which reads
 * up to the first `=` (what follows is ignored) and refuses other characters or a length of
 * 4n+1. So both alphabets are taken. null when nginx would refuse it.
 */
export function decodeBase64Url (s: string): Buffer | null {
  const eq = s.indexOf('=')
  const data = eq < 0 ? s : s.slice(0, eq)
  if (!B64.test(data) || data.length % 4 === 1) return null
  return Buffer.from(data, 'base64')
}

function json (part: string | undefined): unknown {
  if (part === undefined) throw new Error('missing part')
  const bytes = decodeBase64Url(part)
  if (bytes === null) throw new Error('bad base64')
  return JSON.parse(bytes.toString('utf8'))
}

function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Decoded token, or the error text after "Bad token; ". */
export function decodeJwt (token: string): DecodedJwt | string {
  const first = token.indexOf('.')
  const second = first < 0 ? -1 : token.indexOf('.', first + 1)
  const h64 = first < 0 ? token : token.slice(0, first)
  const c64 = first < 0 ? undefined : second < 0 ? token.slice(first + 1) : token.slice(first + 1, second)
  const s64 = second < 0 ? undefined : token.slice(second + 1)
  let header: unknown
  let claims: unknown
  let signature: Buffer | null = null
  try {
    header = json(h64)
    claims = json(c64)
    if (s64 === undefined) throw new Error('missing part')
    signature = decodeBase64Url(s64)
  } catch {
    return 'invalid JSON'
  }
  if (!isObject(header) || !isSupportedAlg(header.alg)) return 'invalid alg'
  if (!isObject(claims)) return 'invalid claims'
  if (signature === null) return 'invalid signature'
  return { header, claims, signature, signingInput: `${h64}.${c64!}` }
}

/** HS*: `key` is the secret; others: the public key. Throws where Kong's parser asserts. */
export function verifySignature (jwt: DecodedJwt, alg: string, key: Buffer | KeyObject): boolean {
  const sig = jwt.signature
  const hash = HASH[alg]!
  if (alg.charCodeAt(0) === 72 /* H */) {
    const mac = createHmac(hash, key as Buffer).update(jwt.signingInput).digest()
    return mac.length === sig.length && timingSafeEqual(mac, sig)
  }
  const data = Buffer.from(jwt.signingInput)
  const pub = key as KeyObject
  switch (alg.charCodeAt(0)) {
    case 69: { // E: ES* or EdDSA
      if (alg === 'EdDSA') return verify(null, data, pub, sig)
      if (sig.length !== ES_SIZE[alg]) throw new Error(`Signature must be ${ES_SIZE[alg]} bytes.`)
      return verify(hash, data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)
    }
    case 80: // P: PS*
      if (sig.length !== 256) throw new Error('Signature must be 256 bytes')
      return verify(hash, data, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig)
    default: // R: RS*
      return verify(hash, data, pub, sig)
  }
}

/** verify_registered_claims: the error map, or null. `now` in seconds. */
export function verifyClaims (claims: Record<string, unknown>, toVerify: readonly string[], now: number): Record<string, string> | null {
  let errors: Record<string, string> | null = null
  for (const name of toVerify) {
    const v = claims[name]
    let err: string | null = null
    if (typeof v !== 'number') err = 'must be a number'
    else if (name === 'nbf' && v > now) err = 'token not valid yet'
    else if (name === 'exp' && v <= now) err = 'token expired'
    if (err !== null) (errors ??= {})[name] = err
  }
  return errors
}
