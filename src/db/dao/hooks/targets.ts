/**
 * The targets DAO (kong/db/dao/targets.lua): a target is stored as `host:port`, the port
 * defaulting to 8000 and IPv6 addresses bracketed and expanded (tools/ip.lua format_host).
 */
import { schemaViolation } from '../../schema/db-errors.ts'
import { normalizeIp } from '../../schema/validators/host.ts'
import type { DaoHooks } from '../hooks.ts'

export const DEFAULT_TARGET_PORT = 8000

/** format_target: the normalised `host:port`, or null when the value is no host at all. */
export function formatTarget (target: string): string | null {
  const r = normalizeIp(target)
  if ('err' in r) return null
  const host = r.ok.type === 'ipv6' ? `[${r.ok.host}]` : r.ok.host
  return `${host}:${r.ok.port ?? DEFAULT_TARGET_PORT}`
}

export const targetsHooks: DaoHooks = {
  prepare (_ctx, input) {
    if (typeof input.target !== 'string') return input
    const formatted = formatTarget(input.target)
    if (formatted === null) throw schemaViolation({ target: 'Invalid target; not a valid hostname or ip address' })
    return { ...input, target: formatted }
  },
}
