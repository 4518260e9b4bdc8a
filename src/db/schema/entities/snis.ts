/**
 * The `snis` entity (kong/db/schema/entities/snis.lua): a server name (wildcards allowed) bound
 * to one certificate. `/snis/{s}/certificate` is disabled; certificates manage their names.
 */
import type { EntitySchema } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'

export const snis: EntitySchema = {
  name: 'snis',
  primary_key: ['id'],
  endpoint_key: 'name',
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    name: { ...typedefs.wildcard_host, required: true, unique: true },
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
    tags,
    certificate: { type: 'foreign', reference: 'certificates', required: true },
  },
}
