/**
 * Where TLS material lives under the prefix: the contract between the primary, which generates
 * the default certificate before any worker starts (primary/default-cert.ts), and the workers,
 * which read it and write their own short-lived key files (worker/tls-files.ts).
 *
 *   <prefix>/ssl/                      0700
 *   <prefix>/ssl/sluice-default.crt    self-signed, CN=localhost (Kong: ssl/kong-default.crt)
 *   <prefix>/ssl/sluice-default.key    0600
 *   <prefix>/ssl/run/                  0700; a worker's key file exists here only while uWS
 *                                      reads it (one synchronous call), then it is removed
 */
import { join } from 'node:path'

export interface DefaultCertFiles {
  dir: string
  cert: string
  key: string
}

export function sslDir (prefix: string): string {
  return join(prefix, 'ssl')
}

export function defaultCertFiles (prefix: string): DefaultCertFiles {
  const dir = sslDir(prefix)
  return { dir, cert: join(dir, 'sluice-default.crt'), key: join(dir, 'sluice-default.key') }
}

/** Scratch directory for the key files a worker hands to uWS by name. */
export function tlsRunDir (prefix: string): string {
  return join(sslDir(prefix), 'run')
}
