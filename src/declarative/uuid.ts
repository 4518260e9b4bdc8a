/**
 * Deterministic ids for declarative entities (kong/db/schema/others/declarative_config.lua
 * `generate_uuid`): a UUIDv5 (RFC 4122, SHA-1) of the key in a per-entity namespace, itself the
 * UUIDv5 of the entity name in Kong's namespace. Same file, same ids, on every node and every load.
 */
import { createHash } from 'node:crypto'

export const KONG_NAMESPACE = 'fd02801f-0957-4a15-a55a-c8d9606f30b5'

function bytesOf (uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex')
}

function format (b: Buffer): string {
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/** RFC 4122 version 5: sha1(namespace bytes + name), version and variant bits set. */
export function uuidV5 (namespace: string, name: string): string {
  const d = createHash('sha1').update(bytesOf(namespace)).update(name, 'utf8').digest()
  const b = d.subarray(0, 16)
  b[6] = (b[6]! & 0x0f) | 0x50
  b[8] = (b[8]! & 0x3f) | 0x80
  return format(b)
}

const namespaces = new Map<string, string>()

/** generate_uuid(entity, key) */
export function entityUuid (entity: string, key: string): string {
  let ns = namespaces.get(entity)
  if (ns === undefined) { ns = uuidV5(KONG_NAMESPACE, entity); namespaces.set(entity, ns) }
  return uuidV5(ns, key)
}
