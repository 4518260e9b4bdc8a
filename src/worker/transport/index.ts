/**
 * The upstream transport seam's entry point: `createTransport(kind, target, options)` picks the
 * implementation for one target from the `upstream_transport` setting. `net` serves plain `http`
 * targets; `https` targets always get undici (the net transport has no TLS).
 */
import { NetTransport } from './net.ts'
import { UndiciTransport } from './undici.ts'
import type { Transport, TransportKind, TransportPoolOptions, TransportTarget } from './types.ts'

export type { Transport, TransportController, TransportHandler, TransportKind, TransportPoolOptions, TransportRequest, TransportTarget } from './types.ts'
export { classifyTransportError, errorCode } from './errors.ts'

export function createTransport (kind: TransportKind, target: TransportTarget, options: TransportPoolOptions): Transport {
  if (kind === 'net' && target.protocol === 'http') return new NetTransport(target, options)
  return new UndiciTransport(target, options)
}

/** `upstream_transport` as configured: anything but `undici` means net (the default). */
export function parseTransportKind (v: unknown): TransportKind {
  return typeof v === 'string' && v.trim().toLowerCase() === 'undici' ? 'undici' : 'net'
}
