/**
 * The `plugins` entity (kong/db/schema/entities/plugins.lua): one plugin instance, optionally
 * scoped to a route, a service and/or a consumer, with its `config` validated by the plugin's
 * own schema. The subschema is picked by `name` among the plugins Sluice knows
 * (src/plugins/schemas.ts); which of them are enabled is the DAO's business (dao/hooks/plugins.ts).
 */
import type { EntitySchema } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'
import { pluginSubschemas } from '../../../plugins/schemas.ts'

export const NOT_ENABLED = "plugin '%s' not enabled; add it to the 'plugins' configuration property"

export const plugins: EntitySchema = {
  name: 'plugins',
  primary_key: ['id'],
  cache_key: ['name', 'route', 'service', 'consumer'],
  workspaceable: true,
  endpoint_key: 'instance_name',
  subschema_key: 'name',
  subschema_error: NOT_ENABLED,
  fields: {
    id: typedefs.uuid,
    name: { type: 'string', required: true },
    instance_name: typedefs.utf8_name,
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
    route: { type: 'foreign', reference: 'routes', default: null, on_delete: 'cascade' },
    service: { type: 'foreign', reference: 'services', default: null, on_delete: 'cascade' },
    consumer: { type: 'foreign', reference: 'consumers', default: null, on_delete: 'cascade' },
    config: { type: 'record', abstract: true },
    protocols: typedefs.protocols,
    enabled: { type: 'boolean', required: true, default: true },
    tags,
  },
  subschemas: pluginSubschemas(),
}
