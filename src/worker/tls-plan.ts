/**
 * Snapshot -> which server names the TLS listener registers, and which certificate each serves.
 * Pure (node:crypto only, no uWS): tls.ts applies the plan to uWS.
 *
 * Kong's choice for a client's SNI (kong/runloop/certificate.lua find_certificate): no SNI -> the
 * default certificate; otherwise the first SNI entity among the exact name, the prefix wildcard
 * (`*.` + the name without its first label, names of 3+ labels), the suffix wildcard (the name
 * without its last label + `.*`), and `*`; else the default certificate.
 *
 * uWS resolves a client's SNI in its own tree (uSockets sni_tree.cpp): labels left to right, an
 * exact label before `*`, and `*` stands for exactly one label, as in Kong's wildcards. The plan
 * registers what makes that tree give Kong's answer:
 * - every SNI entity, exact or wildcard (`*.tld` alone is left out: Kong never matches it);
 * - the one name where a prefix and a suffix wildcard overlap (`*.b.c` and `a.b.*` both match
 *   `a.b.c`), as an exact name with the prefix wildcard's certificate: the tree would pick the
 *   suffix wildcard (it tries the exact first label first), Kong picks the prefix one;
 * - every name and pattern in routes' `snis`, with the certificate Kong would serve for it, so
 *   that the request handler of that registration knows the client's SNI for routing (uWS 20.30
 *   does not expose a connection's SNI; a connection that matched no registration had no SNI, or
 *   one no route and no certificate names).
 * The `*` SNI's certificate becomes the App's own (fallback) certificate, so it is also served to
 * clients that send no SNI (Kong gives those its default certificate); without one, the
 * generated default certificate is the fallback.
 *
 * Certificates are checked here, not by uWS: uSockets dereferences the SSL context it failed to
 * build when a server name's key or certificate does not load, which crashes the process. Each
 * one is parsed, its key must be RSA, EC P-256/P-384/P-521 or Ed25519 (what the BoringSSL in uWS
 * serves) and match the certificate; the PEM uWS reads is re-exported (PKCS#8 key, then the chain
 * as parsed). A certificate that fails is left out, with an error, and its names get the fallback.
 * `cert_alt`/`key_alt` are not served: one SSL context of uWS holds one certificate.
 */
import { X509Certificate, createHash, createPrivateKey, type KeyObject } from 'node:crypto'
import type { GenericRow, Snapshot } from '../common/snapshot.ts'

/** A certificate ready for uWS. */
export interface CertMaterial {
  /** Certificate entity id. */
  id: string
  /** sha256 of `pem`: registrations serving the same material are interchangeable. */
  key: string
  /** PKCS#8 private key followed by the certificate chain, as uWS reads it. */
  pem: string
  /** Leaf subject, for logs. */
  subject: string
}

/** Label count uSockets resolves at most (sni_tree.cpp MAX_LABELS). */
const MAX_LABELS = 10

export const KIND_EXACT = 0
/** `*.example.com`: one label, then the rest. */
export const KIND_SUFFIX = 1
/** `example.*`: the rest, then one label. */
export const KIND_PREFIX = 2

export interface Registration {
  /** The name or pattern registered (`a.example.com`, `*.example.com`, `example.*`). */
  name: string
  kind: number
  /** The certificate served; null: the fallback (the `*` SNI's certificate or the default one). */
  cert: CertMaterial | null
}

export interface TlsPlan {
  /** The `*` SNI's certificate; null: the generated default certificate. */
  fallback: CertMaterial | null
  /** name -> registration */
  names: Map<string, Registration>
  /** Kong's certificate for a name or pattern that is not (or no longer) in `names`. */
  choose (name: string): CertMaterial | null
  /** One line per certificate left out. */
  errors: string[]
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g
const CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1'])

function keyProblem (k: KeyObject): string | null {
  const t = k.asymmetricKeyType
  if (t === 'rsa') return (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 1024 ? null : 'RSA keys shorter than 1024 bits are not served'
  if (t === 'ec') return CURVES.has(k.asymmetricKeyDetails?.namedCurve ?? '') ? null : `EC curve ${k.asymmetricKeyDetails?.namedCurve ?? '?'} is not served (P-256, P-384 and P-521 are)`
  if (t === 'ed25519') return null
  return `${t ?? 'unknown'} keys are not served (RSA, EC and Ed25519 are)`
}

/** Parses and checks one certificate row; a string is the reason it cannot be served. */
export function buildMaterial (id: string, cert: unknown, key: unknown): CertMaterial | string {
  if (typeof cert !== 'string' || typeof key !== 'string') return 'no cert or key'
  const blocks = cert.match(PEM_CERT)
  if (blocks === null) return 'no PEM certificate'
  let chain: X509Certificate[]
  let k: KeyObject
  try {
    chain = blocks.map((b) => new X509Certificate(b))
  } catch (err) {
    return `could not parse the certificate: ${(err as Error).message}`
  }
  try {
    k = createPrivateKey(key)
  } catch (err) {
    return `could not parse the private key: ${(err as Error).message}`
  }
  const bad = keyProblem(k)
  if (bad !== null) return bad
  const leaf = chain[0]!
  if (!leaf.checkPrivateKey(k)) return 'certificate does not match key'
  const pem = (k.export({ type: 'pkcs8', format: 'pem' }) as string) + chain.map((c) => c.toString()).join('')
  return { id, key: createHash('sha256').update(pem).digest('hex'), pem, subject: leaf.subject.replace(/\n/g, ', ') }
}

/** Materials by certificate id, rebuilt only when a row's cert or key text changes. */
export class MaterialCache {
  #byId = new Map<string, { cert: unknown; key: unknown; m: CertMaterial | string }>()

  get (row: GenericRow): CertMaterial | string {
    const known = this.#byId.get(row.id)
    if (known !== undefined && known.cert === row.cert && known.key === row.key) return known.m
    const m = buildMaterial(row.id, row.cert, row.key)
    this.#byId.set(row.id, { cert: row.cert, key: row.key, m })
    return m
  }

  /** Forgets certificates that are not in `ids`. */
  retain (ids: Set<string>): void {
    for (const id of this.#byId.keys()) if (!ids.has(id)) this.#byId.delete(id)
  }
}

function kindOf (name: string): number {
  if (name.startsWith('*.')) return KIND_SUFFIX
  if (name.endsWith('.*')) return KIND_PREFIX
  return KIND_EXACT
}

/** Whether uSockets can register and find `name` as written (labels, no empty one, at most 10). */
function registrable (name: string): boolean {
  if (name.length === 0 || name.length > 253) return false
  const labels = name.split('.')
  if (labels.length > MAX_LABELS) return false
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!
    if (l.length === 0) return false
    if (l.includes('*') && (l !== '*' || (i !== 0 && i !== labels.length - 1))) return false
  }
  return true
}

/** Kong's wildcards for a client SNI (certificate.lua produce_wild_snis). */
function wildcardsOf (sni: string): [string | null, string | null] {
  const first = sni.indexOf('.')
  // `([^.]+)(\.[^.]+\.\S+)`: a first label, then at least two more.
  const second = first > 0 ? sni.indexOf('.', first + 1) : -1
  const prefix = second > first + 1 && second < sni.length - 1 ? `*${sni.slice(first)}` : null
  const last = sni.lastIndexOf('.')
  // `([^.]+\.)([^.]+)$`
  const suffix = last > 0 && last < sni.length - 1 && sni[last - 1] !== '.' ? `${sni.slice(0, last + 1)}*` : null
  return [prefix, suffix]
}

export function buildTlsPlan (snap: Snapshot, cache: MaterialCache = new MaterialCache()): TlsPlan {
  const errors: string[] = []
  const certs = new Map<string, CertMaterial>()
  const ids = new Set<string>()
  const certRows = snap.entities.certificates ?? []
  for (const row of certRows) {
    ids.add(row.id)
    const m = cache.get(row)
    if (typeof m === 'string') errors.push(`certificate ${row.id} is not served: ${m}`)
    else certs.set(row.id, m)
  }
  cache.retain(ids)

  // SNI name -> certificate (the snis table; names a certificate row lists but the table lacks too).
  const bySni = new Map<string, CertMaterial | null>()
  for (const s of snap.entities.snis ?? []) {
    const name = s.name
    const ref = s.certificate as { id?: string } | null | undefined
    if (typeof name !== 'string' || typeof ref?.id !== 'string') continue
    bySni.set(name, certs.get(ref.id) ?? null)
  }
  for (const row of certRows) {
    const listed = row.snis
    if (!Array.isArray(listed)) continue
    for (const name of listed) if (typeof name === 'string' && !bySni.has(name)) bySni.set(name, certs.get(row.id) ?? null)
  }
  const fallback = bySni.get('*') ?? null

  const choose = (name: string): CertMaterial | null => {
    const own = bySni.get(name)
    if (own !== undefined && own !== null) return own
    if (!name.includes('*')) {
      const [p, s] = wildcardsOf(name)
      if (p !== null) { const c = bySni.get(p); if (c !== undefined && c !== null) return c }
      if (s !== null) { const c = bySni.get(s); if (c !== undefined && c !== null) return c }
    }
    return fallback
  }

  const names = new Map<string, Registration>()
  const add = (name: string, cert: CertMaterial | null): void => {
    if (names.has(name) || !registrable(name)) return
    names.set(name, { name, kind: kindOf(name), cert })
  }

  const prefixes: string[] = []
  const suffixes = new Map<string, string[]>()
  for (const [name, cert] of bySni) {
    if (name === '*' || cert === null) continue
    const kind = kindOf(name)
    if (kind === KIND_SUFFIX) {
      if (!name.slice(2).includes('.')) continue // `*.com`: Kong's prefix wildcard needs 3+ labels
      prefixes.push(name)
    } else if (kind === KIND_PREFIX) {
      const t = name.slice(0, -2).split('.')
      const key = `${t.length}|${t.slice(1).join('.')}`
      const list = suffixes.get(key)
      if (list === undefined) suffixes.set(key, [name]); else list.push(name)
    }
    add(name, cert)
  }
  // `*.R` and `T.*` of the same length overlap in one name, T[0].R, when T[1:] == R[:-1].
  if (suffixes.size > 0) {
    for (const p of prefixes) {
      const r = p.slice(2).split('.')
      const list = suffixes.get(`${r.length}|${r.slice(0, -1).join('.')}`)
      if (list === undefined) continue
      for (const s of list) {
        const n = `${s.slice(0, s.indexOf('.'))}.${r.join('.')}`
        if (!bySni.has(n)) add(n, bySni.get(p)!)
      }
    }
  }
  for (const r of snap.routes) {
    if (!Array.isArray(r.snis)) continue
    for (const raw of r.snis) {
      if (typeof raw !== 'string' || raw === '*') continue
      // The router ignores a trailing dot (router/compile.ts compileSni).
      const name = raw.length > 1 && raw.endsWith('.') && !raw.endsWith('*.') ? raw.slice(0, -1) : raw
      add(name, choose(name))
    }
  }
  return { fallback, names, choose, errors }
}
