/**
 * Certificates and keys parsed with node:crypto, for the checks Kong makes with
 * lua-resty-openssl (kong/db/schema/typedefs.lua validate_certificate / validate_key,
 * entities/certificates.lua and ca_certificates.lua): parseable PEM, a certificate matching its
 * key, key types, CA basic constraint, expiry, sha256 digest. Parsing never throws.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'

/** The first certificate of a PEM (or DER bytes given as a string), or the parser's error. */
export function parseCertificate (pem: string): { cert: X509Certificate } | { err: string } {
  try {
    return { cert: new X509Certificate(pem) }
  } catch (err) {
    return { err: (err as Error).message }
  }
}

export function parsePrivateKey (pem: string): { key: KeyObject } | { err: string } {
  try {
    return { key: createPrivateKey(pem) }
  } catch (err) {
    return { err: (err as Error).message }
  }
}

/** A public key, or the public half of a private one (openssl_pkey.new accepts both). */
export function parseAnyKey (pem: string): { key: KeyObject } | { err: string } {
  try {
    return { key: createPublicKey(pem) }
  } catch (err) {
    return { err: (err as Error).message }
  }
}

/** typedefs.certificate */
export function validateCertificate (v: string): string | undefined {
  const r = parseCertificate(v)
  return 'err' in r ? `invalid certificate: x509.new: ${r.err}` : undefined
}

/** typedefs.key (a private key: a certificate's key has to sign) */
export function validateKey (v: string): string | undefined {
  const r = parsePrivateKey(v)
  return 'err' in r ? `invalid key: pkey.new:load_key: ${r.err}` : undefined
}

function spki (k: KeyObject): Buffer {
  return k.export({ type: 'spki', format: 'der' })
}

/** `cert:get_pubkey():to_PEM() == key:to_PEM("public")`; unparseable input does not match. */
export function certMatchesKey (certPem: string, keyPem: string): boolean {
  const c = parseCertificate(certPem)
  const k = parsePrivateKey(keyPem)
  if ('err' in c || 'err' in k) return false
  return spki(c.cert.publicKey).equals(spki(createPublicKey(k.key)))
}

/** The public key algorithm of a certificate (`rsa`, `ec`, `ed25519`, ...). */
export function certKeyType (certPem: string): string | undefined {
  const c = parseCertificate(certPem)
  return 'err' in c ? undefined : c.cert.publicKey.asymmetricKeyType
}

/** Lower-case hex sha256 of the DER certificate (resty.openssl `x509:digest("sha256")`). */
export function certDigest (certPem: string): string | undefined {
  const c = parseCertificate(certPem)
  return 'err' in c ? undefined : c.cert.fingerprint256.replace(/:/g, '').toLowerCase()
}

const CERT_TAG = '-----BEGIN CERTIFICATE-----'

/** ca_certificates' entity check, with Kong's messages. */
export function checkCaCertificate (pem: string, nowMs = Date.now()): true | string {
  const first = pem.indexOf(CERT_TAG)
  if (first >= 0 && pem.indexOf(CERT_TAG, first + CERT_TAG.length) >= 0) return 'please submit only one certificate at a time'
  const c = parseCertificate(pem)
  if ('err' in c) return `invalid certificate: x509.new: ${c.err}`
  if (Date.parse(c.cert.validTo) < nowMs) return 'certificate expired, "Not After" time is in the past'
  if (!c.cert.ca) return 'certificate does not appear to be a CA because it is missing the "CA" basic constraint'
  return true
}
