/**
 * The `ca_certificates` entity (kong/db/schema/entities/ca_certificates.lua): exactly one PEM CA
 * certificate, not expired; `cert_digest` (its sha256, unique) is computed on every write by
 * dao/hooks/ca-certificates.ts, Kong's `transformations.on_write`.
 */
import type { EntitySchema } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'
import { checkCaCertificate } from '../validators/pem.ts'

export const caCertificates: EntitySchema = {
  name: 'ca_certificates',
  primary_key: ['id'],
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
    cert: { ...typedefs.certificate, required: true },
    cert_digest: { type: 'string', unique: true },
    tags,
  },
  entity_checks: [{
    custom_entity_check: { field_sources: ['cert'], fn: (e) => checkCaCertificate(e.cert as string) },
  }],
}
