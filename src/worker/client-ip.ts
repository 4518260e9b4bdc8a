/**
 * nginx realip for one request: the client address Kong sees as `$remote_addr` (and
 * `kong.client.get_forwarded_ip()`, ip-restriction's `binary_remote_addr`). Only a peer in
 * `trusted_ips` may substitute it, through `real_ip_header`; the header is read as a list from
 * the right (ngx_http_get_forwarded_addr): the last address, or with `real_ip_recursive` the
 * last one that is not itself trusted. A value that is not an address leaves the peer address.
 */
import type { RequestContext } from './context.ts'
import { settings } from './settings.ts'
import { addressBytes, isTrusted } from './trusted-ips.ts'

function valid (text: string): boolean {
  return addressBytes(text) !== null
}

export function realRemoteAddr (ctx: RequestContext): string {
  if (!ctx.trusted) return ctx.remoteAddr
  const h = settings.realIpHeader
  if (h === '') return ctx.remoteAddr
  const value = h === 'x-forwarded-for' ? ctx.xForwardedFor : ctx.realIp
  if (value === null || value === '') return ctx.remoteAddr
  if (value.indexOf(',') < 0) {
    const v = value.trim()
    return valid(v) ? v : ctx.remoteAddr
  }
  const parts = value.split(',')
  if (!settings.realIpRecursive) {
    const v = parts[parts.length - 1]!.trim()
    return valid(v) ? v : ctx.remoteAddr
  }
  for (let i = parts.length - 1; i >= 0; i--) {
    const v = parts[i]!.trim()
    const b = addressBytes(v)
    if (b === null) return ctx.remoteAddr
    if (i === 0 || !isTrusted(settings.trusted, b)) return v
  }
  return ctx.remoteAddr
}
