/**
 * The `key_sets` entity (kong/db/schema/entities/key_sets.lua): a named group of keys, served at
 * `/key-sets`. Deleting a set deletes its keys (keys.set is `on_delete = "cascade"`).
 */
import type { EntitySchema } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'

export const keySets: EntitySchema = {
  name: 'key_sets',
  primary_key: ['id'],
  endpoint_key: 'name',
  admin_api_name: 'key-sets',
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    name: { type: 'string', description: 'The name to associate with the given Key Set.', required: false, unique: true },
    tags,
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
  },
}
