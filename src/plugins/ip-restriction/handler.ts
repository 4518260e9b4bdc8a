/**
 * ip-restriction (kong/plugins/ip-restriction/handler.lua, PRIORITY 990).
 *
 * The address checked is nginx's `$remote_addr` after realip (kong.client.get_forwarded_ip:
 * trusted_ips + real_ip_header). `deny` is checked first, then `allow`. Blocked: 
 * kong.response.error(status or 403, message or `IP address not allowed: <addr>`).
 * IPv4 and IPv6 addresses and CIDRs are compiled once into numeric (network, mask) words; a
 * request costs one address parse and a few integer compares per entry.
 */
import { addressBytes, compileTrustedIps, isTrusted, type TrustedIps } from '../../worker/trusted-ips.ts'
import type { PluginHandler } from '../types.ts'

export interface IpRestrictionConfig {
  allow?: string[] | null
  deny?: string[] | null
  status?: number | null
  message?: string | null
}

interface Prepared {
  readonly allow: TrustedIps | null
  readonly deny: TrustedIps | null
  readonly status: number
  readonly message: string | null
}

const UNIX = 'Cannot identify the client IP address, unix domain sockets are not supported.'

function list (l: string[] | null | undefined): TrustedIps | null {
  return l != null && l.length > 0 ? compileTrustedIps(l) : null
}

export const handler: PluginHandler<IpRestrictionConfig, Prepared> = {
  name: 'ip-restriction',
  priority: 990,
  prepare (c) {
    return {
      allow: list(c.allow),
      deny: list(c.deny),
      status: typeof c.status === 'number' ? c.status : 403,
      message: typeof c.message === 'string' ? c.message : null,
    }
  },
  access (ctx, c) {
    const addr = ctx.forwardedIp()
    const bytes = addressBytes(addr)
    if (bytes === null) {
      ctx.error(403, UNIX)
      return
    }
    let blocked = c.deny !== null && isTrusted(c.deny, bytes)
    if (!blocked && c.allow !== null) blocked = !isTrusted(c.allow, bytes)
    if (blocked) ctx.error(c.status, c.message ?? `IP address not allowed: ${addr}`)
  },
}
