/**
 * The `consumers` entity (kong/db/schema/entities/consumers.lua): a username and/or a
 * custom_id, both unique; the endpoint key is the username.
 */
import type { EntitySchema } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'

export const consumers: EntitySchema = {
  name: 'consumers',
  primary_key: ['id'],
  endpoint_key: 'username',
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
    username: { type: 'string', unique: true },
    custom_id: { type: 'string', unique: true },
    tags,
  },
  entity_checks: [{ at_least_one_of: ['custom_id', 'username'] }],
}
