/**
 * The `targets` entity (kong/db/schema/entities/targets.lua): `host[:port]` of one upstream,
 * with a weight; millisecond timestamps. The DAO normalises the target to `host:port` (default
 * port 8000) and keeps it unique per upstream (dao/hooks/targets.ts, kong/db/dao/targets.lua).
 */
import type { EntitySchema } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'
import { normalizeIp } from '../validators/host.ts'
import { invalidUtf8At } from '../utf8.ts'

function validateTarget (target: string): string | undefined {
  if (!('err' in normalizeIp(target))) return undefined
  return invalidUtf8At(Buffer.from(target, 'utf8')) !== 0
    ? 'Invalid target; not a valid hostname or ip address'
    : `Invalid target ('${target}'); not a valid hostname or ip address`
}

export const targets: EntitySchema = {
  name: 'targets',
  primary_key: ['id'],
  cache_key: ['upstream', 'target'],
  endpoint_key: 'target',
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_ms,
    updated_at: typedefs.auto_timestamp_ms,
    upstream: { type: 'foreign', reference: 'upstreams', required: true, on_delete: 'cascade' },
    target: { type: 'string', required: true, custom_validator: (v) => validateTarget(v as string) },
    weight: { type: 'integer', default: 100, between: [0, 65535] },
    tags,
  },
}
