/**
 * Upstream TLS profiles: what a connection to an `https` service presents and checks, decided
 * when a snapshot compiles, never per request (kong/runloop/upstream_ssl.lua set_service_ssl and
 * fallback_upstream_client_cert, applied by Kong in its balancer phase):
 *
 * - client certificate: the service's `client_certificate`, else, for a service whose host names
 *   an upstream, the upstream's `client_certificate`;
 * - verification: the service's `tls_verify`, or `proxy_ssl_verify` when it is null (nginx's
 *   proxy_ssl_verify, off by default);
 * - trust store: the service's `ca_certificates`, or `proxy_ssl_trusted_certificate` when null.
 *   With neither, nothing is trusted and verification always fails, as in Kong (nginx without
 *   proxy_ssl_trusted_certificate);
 * - depth: `tls_verify_depth`, or `proxy_ssl_verify_depth` (nginx's default 1): at most that many
 *   intermediate certificates between the upstream's certificate and a trusted one (OpenSSL's
 *   verify depth: a chain of depth + 2 certificates, anchor included). Node has no such option; the
 *   check runs in `checkServerIdentity` on the verified chain, once per new connection.
 * - the certificate's name is checked against the SNI (proxy.ts: the upstream Host's name, nginx
 *   proxy_ssl_name $upstream_host), or the address when there is none.
 *
 * A profile's `key` names its contents (hashes of the PEMs, not entity ids), so a certificate or
 * CA certificate PATCHed in place gives new pools and so new connections with the new material.
 * Its `options` are handed to tls.connect (through undici's connector) for every new connection:
 * one SecureContext per profile, made here, so a connection parses no PEM.
 *
 * A certificate that cannot be used (bad PEM, a key that does not match) is left out with an
 * error in the log, as Kong logs `unable to apply upstream client TLS certificate` and goes on.
 */
import { createHash } from 'node:crypto'
import { checkServerIdentity, createSecureContext, rootCertificates, type ConnectionOptions, type DetailedPeerCertificate, type PeerCertificate, type SecureContext } from 'node:tls'
import { log } from '../common/log.ts'
import type { GenericRow, ServiceRow, Snapshot } from '../common/snapshot.ts'
import { settings } from './settings.ts'

export interface UpstreamTls {
  /** Pool identity part: verification, depth, trust store and client certificate, by content. */
  readonly key: string
  readonly verify: boolean
  readonly depth: number
  /** tls.connect options (no host, port or servername: the pool adds those). */
  readonly options: ConnectionOptions
}

/** Node's own CA bundle: `proxy_ssl_trusted_certificate = system`. */
export const SYSTEM_CAS = 'system'

const PLAIN: UpstreamTls = Object.freeze({ key: 'v0', verify: false, depth: 1, options: Object.freeze({ rejectUnauthorized: false }) })

/** Contents seen before, by entity id: the PEM text and its short hash. */
const pemHashes = new Map<string, { text: string; hash: string }>()
/** Profiles by key, reused across compiles (their SecureContext is the costly part). */
const profiles = new Map<string, UpstreamTls>()
const PROFILES_MAX = 1024

let indexed: Snapshot | null = null
let certsById = new Map<string, GenericRow>()
let casById = new Map<string, GenericRow>()
/** upstream name (lowercase) -> its client_certificate id */
let upstreamCerts = new Map<string, string>()

function index (snap: Snapshot): void {
  if (indexed === snap) return
  indexed = snap
  certsById = new Map()
  casById = new Map()
  upstreamCerts = new Map()
  for (const c of snap.entities.certificates ?? []) certsById.set(c.id, c)
  for (const c of snap.entities.ca_certificates ?? []) casById.set(c.id, c)
  for (const u of snap.entities.upstreams ?? []) {
    const id = (u.client_certificate as { id?: unknown } | null | undefined)?.id
    if (typeof u.name === 'string' && typeof id === 'string') upstreamCerts.set(u.name.toLowerCase(), id)
  }
  for (const id of pemHashes.keys()) if (!certsById.has(id) && !casById.has(id)) pemHashes.delete(id)
}

function shortHash (id: string, text: string): string {
  const known = pemHashes.get(id)
  if (known !== undefined && known.text === text) return known.hash
  const hash = createHash('sha256').update(text).digest('base64url').slice(0, 22)
  pemHashes.set(id, { text, hash })
  return hash
}

/**
 * OpenSSL's verify depth on the chain Node verified: `cert` with its issuers as getPeerCertificate(true)
 * links them (the trust anchor is its own issuer). `depth` intermediates at most.
 */
function depthCheck (depth: number): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const err = checkServerIdentity(host, cert)
    if (err !== undefined) return err
    let n = 1
    let c = cert as DetailedPeerCertificate
    while (n <= depth + 2 && c.issuerCertificate !== undefined && c.issuerCertificate !== c) {
      c = c.issuerCertificate
      n++
    }
    if (n <= depth + 2) return undefined
    return Object.assign(new Error(`upstream certificate chain too long: more than ${depth} intermediate certificate(s) (tls_verify_depth)`), { code: 'CERT_CHAIN_TOO_LONG' })
  }
}

/** The trust store of a verifying profile: PEMs and the key part naming them. */
function trustStore (s: ServiceRow): { pems: string[]; key: string } {
  if (Array.isArray(s.ca_certificates)) {
    const pems: string[] = []
    const hashes: string[] = []
    for (const id of s.ca_certificates) {
      const row = casById.get(id)
      if (row === undefined || typeof row.cert !== 'string') {
        log.error(`service ${s.id}: ca_certificate ${id} not found; left out of its trust store`)
        continue
      }
      pems.push(row.cert)
      hashes.push(shortHash(id, row.cert))
    }
    return { pems, key: `ca:${hashes.join(',')}` }
  }
  const t = settings.proxySslTrusted
  if (t === null) return { pems: [], key: 'ca:' }
  if (t === SYSTEM_CAS) return { pems: rootCertificates as string[], key: 'ca:system' }
  return { pems: [t], key: 'ca:conf' }
}

/** The client certificate row a service presents (its own, else its upstream's), or null. */
function clientCertificate (s: ServiceRow): GenericRow | null {
  const id = s.client_certificate?.id ?? upstreamCerts.get(s.host.toLowerCase())
  if (id === undefined) return null
  const row = certsById.get(id)
  if (row === undefined || typeof row.cert !== 'string' || typeof row.key !== 'string') {
    log.error(`service ${s.id}: client certificate ${id} not found; connections go without one`)
    return null
  }
  return row
}

/** The TLS profile of an `https` service of `snap` (compile.ts). */
export function upstreamTls (s: ServiceRow, snap: Snapshot): UpstreamTls {
  index(snap)
  const verify = s.tls_verify ?? settings.proxySslVerify
  const depth = s.tls_verify_depth ?? settings.proxySslVerifyDepth
  const client = clientCertificate(s)
  if (!verify && client === null) return PLAIN
  const store = verify ? trustStore(s) : null
  const certKey = client === null ? '' : shortHash(client.id, `${client.cert as string}\n${client.key as string}`)
  const key = `v${verify ? 1 : 0}|${verify ? depth : ''}|${store?.key ?? ''}|cc:${certKey}`
  const known = profiles.get(key)
  if (known !== undefined) return known
  let context: SecureContext | undefined
  let usedClient = client
  try {
    context = createSecureContext({
      ...(store !== null ? { ca: store.pems } : {}),
      ...(client !== null ? { cert: client.cert as string, key: client.key as string } : {}),
    })
  } catch (err) {
    log.error(`service ${s.id}: unable to apply upstream client TLS certificate ${client?.id ?? ''} or its CA certificates: ${(err as Error).message}`)
    usedClient = null
    try {
      context = store !== null ? createSecureContext({ ca: store.pems }) : undefined
    } catch {
      context = createSecureContext({ ca: [] }) // an unusable trust store trusts nothing
    }
  }
  const options: ConnectionOptions = verify
    ? { rejectUnauthorized: true, secureContext: context, checkServerIdentity: depthCheck(depth) }
    : { rejectUnauthorized: false, ...(context !== undefined ? { secureContext: context } : {}) }
  const p: UpstreamTls = { key: usedClient === client ? key : `${key}|bad`, verify, depth, options }
  if (profiles.size >= PROFILES_MAX) profiles.delete(profiles.keys().next().value!)
  profiles.set(key, p)
  return p
}
