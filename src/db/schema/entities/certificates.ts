/**
 * The `certificates` entity (kong/db/schema/entities/certificates.lua): a PEM certificate and
 * its key, optionally a second pair of another key type, and the transient `snis` list the DAO
 * turns into sni rows (dao/hooks/certificates.ts).
 */
import type { EntitySchema } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'
import { certKeyType, certMatchesKey } from '../validators/pem.ts'

const str = (v: unknown): v is string => typeof v === 'string'

export const certificates: EntitySchema = {
  name: 'certificates',
  primary_key: ['id'],
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
    cert: { ...typedefs.certificate, required: true, referenceable: true },
    key: { ...typedefs.key, required: true, referenceable: true, encrypted: true },
    cert_alt: { ...typedefs.certificate, required: false, referenceable: true },
    key_alt: { ...typedefs.key, required: false, referenceable: true, encrypted: true },
    tags,
    snis: { type: 'array', elements: typedefs.wildcard_host, required: false, transient: true },
  },
  entity_checks: [
    { mutually_required: ['cert_alt', 'key_alt'] },
    {
      custom_entity_check: {
        field_sources: ['cert', 'key'],
        fn: (e) => certMatchesKey(e.cert as string, e.key as string) ? true : 'certificate does not match key',
      },
    },
    {
      custom_entity_check: {
        field_sources: ['cert_alt', 'key_alt'],
        fn: (e) => !str(e.cert_alt) || !str(e.key_alt) || certMatchesKey(e.cert_alt, e.key_alt)
          ? true
          : 'alternative certificate does not match key',
      },
    },
    {
      custom_entity_check: {
        field_sources: ['cert', 'cert_alt'],
        fn: (e) => !str(e.cert) || !str(e.cert_alt) || certKeyType(e.cert) !== certKeyType(e.cert_alt)
          ? true
          : 'certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), the provided ' +
            'certificates were both of the same type',
      },
    },
  ],
}
