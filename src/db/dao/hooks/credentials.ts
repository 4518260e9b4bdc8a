/**
 * Credential transformations: basic-auth stores `sha1(password .. consumer_id)` as hex, never the
 * password (kong/plugins/basic-auth/daos.lua and crypto.lua), and ca_certificates derive
 * `cert_digest` from the certificate and refuse deletion while services use them
 * (kong/db/schema/entities/ca_certificates.lua, kong/db/dao/ca_certificates.lua).
 */
import { createHash } from 'node:crypto'
import { referencedByOthers, schemaViolation } from '../../schema/db-errors.ts'
import { certDigest } from '../../schema/validators/pem.ts'
import type { DaoHooks } from '../hooks.ts'

/** basic-auth/crypto.lua hash(consumer_id, password) */
export function hashPassword (consumerId: string, password: string | null | undefined): string {
  return createHash('sha1').update(password === null || password === undefined ? consumerId : password + consumerId).digest('hex')
}

const consumerId = (v: unknown): string | null => {
  const id = (v as { id?: unknown } | null | undefined)?.id
  return typeof id === 'string' ? id : null
}

export const basicauthHooks: DaoHooks = {
  transform (ctx, entity) {
    const given = ctx.input.password
    if (ctx.op === 'update') {
      // the hash is salted with the consumer id: moving a credential needs its password again
      const moved = ctx.input.consumer !== undefined && consumerId(ctx.input.consumer) !== consumerId(ctx.current?.consumer)
      if (moved && (given === undefined || given === null || given === '')) {
        throw schemaViolation({ '@entity': ["all or none of these fields must be set: 'password', 'consumer.id'"] })
      }
      if (given === undefined) return
    }
    const cid = consumerId(entity.consumer)
    if (cid !== null && typeof entity.password === 'string') entity.password = hashPassword(cid, entity.password)
  },
}

export const caCertificatesHooks: DaoHooks = {
  transform (_ctx, entity) {
    if (typeof entity.cert === 'string') entity.cert_digest = certDigest(entity.cert) ?? null
  },
  async beforeDelete (tx, entity) {
    const r = await tx.client.query<{ id: string }>(
      'select "id" from services where $1::uuid = any("ca_certificates") order by "id" limit 1', [entity.id])
    const svc = r.rows[0]
    if (svc !== undefined) throw referencedByOthers(`ca certificate ${entity.id as string} is still referenced by services (id = ${svc.id})`)
  },
}
