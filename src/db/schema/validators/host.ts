/**
 * Host, IP and CIDR checks with the results and messages of kong/tools/ip.lua and the host
 * validators of kong/db/schema/typedefs.lua. The type of a name is decided by exclusion
 * (two or more colons: ipv6; digits and dots only: ipv4; else a name), as Kong does.
 */
import { isIPv4, isIPv6 } from 'node:net'

export type HostType = 'ipv4' | 'ipv6' | 'name'
export interface NormalizedHost { type: HostType; host: string; port: number | null }
type Result = { ok: NormalizedHost } | { err: string }

export function hostnameType (name: string): HostType {
  let colons = 0
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) === 58) colons++
  if (colons > 1) return 'ipv6'
  return /^[0-9.]+$/.test(name.replace(/:/g, '')) ? 'ipv4' : 'name'
}

function normalizeIpv4 (address: string): Result {
  const m = address.includes(':')
    ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d+)$/.exec(address)
    : /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address)
  if (m === null) return { err: `invalid ipv4 address: ${address}` }
  const parts = [m[1], m[2], m[3], m[4]].map(Number)
  if (parts.some((p) => p > 255)) return { err: `invalid ipv4 address: ${address}` }
  let port: number | null = null
  if (m[5] !== undefined) {
    port = Number(m[5])
    if (port > 65535) return { err: 'invalid port number' }
  }
  return { ok: { type: 'ipv4', host: parts.join('.'), port } }
}

function normalizeIpv6 (address: string): Result {
  let check = address
  let port: number | null = null
  if (address.startsWith('[')) {
    const close = address.indexOf(']')
    if (close < 0) return { err: `invalid ipv6 address: ${address}` }
    check = address.slice(1, close)
    const rest = address.slice(close + 1)
    if (rest !== '') {
      const pm = /^:(\d*)$/.exec(rest)
      if (pm === null) return { err: 'invalid ipv6 address' }
      port = Number(pm[1])
      if (port > 65535) return { err: 'invalid port number' }
    }
  }
  if (check.startsWith(':')) check = '0' + check
  if (check.endsWith(':')) check = check + '0'
  if (check.includes('::')) {
    const count = (check.match(/:/g) ?? []).length
    check = check.replace('::', ':' + '0:'.repeat(Math.max(0, 8 - count)))
  }
  const groups = check.split(':')
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
    return { err: `invalid ipv6 address: ${address}` }
  }
  return { ok: { type: 'ipv6', host: groups.map((g) => g.padStart(4, '0').toLowerCase()).join(':'), port } }
}

function checkHostname (address: string): Result {
  let name = address
  let port: number | null = null
  const pm = /:(\d+)$/.exec(address)
  if (pm !== null) {
    name = name.slice(0, -(pm[1]!.length + 1))
    port = Number(pm[1])
    if (port > 65535) return { err: 'invalid port number' }
  }
  if (!/^[0-9A-Za-z\-._]+$/.test(name)) return { err: `invalid hostname: ${address}` }
  // Reject trailing dashes and empty labels, except one trailing dot (an FQDN).
  const labels = name.split('.')
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!
    if (l.endsWith('-') || (l === '' && i !== labels.length - 1)) return { err: `invalid hostname: ${address}` }
  }
  return { ok: { type: 'name', host: name, port } }
}

/** kong/tools/ip.lua normalize_ip */
export function normalizeIp (address: string): Result {
  const t = hostnameType(address)
  return t === 'ipv4' ? normalizeIpv4(address) : t === 'ipv6' ? normalizeIpv6(address) : checkHostname(address)
}

/** typedefs.host: a name or IP, without a port. */
export function validateHost (host: string): string | undefined {
  const r = normalizeIp(host)
  if ('err' in r) return r.err === 'invalid port number' ? 'must not have a port' : `invalid value: ${host}`
  if (r.ok.port !== null) return 'must not have a port'
  return undefined
}

/** typedefs.host_with_optional_port */
export function validateHostWithOptionalPort (host: string): string | undefined {
  const r = normalizeIp(host)
  return 'err' in r ? r.err : undefined
}

/** typedefs.wildcard_host: one `*`, as the first or last character; a name, no port. */
export function validateWildcardHost (host: string): string | undefined {
  const idx = host.indexOf('*')
  let h = host
  if (idx >= 0) {
    if (idx !== 0 && idx !== host.length - 1) return 'wildcard must be leftmost or rightmost character'
    if (host.indexOf('*', idx + 1) >= 0) return 'only one wildcard must be specified'
    h = host.replace('*', 'wildcard')
  }
  const r = normalizeIp(h)
  if ('err' in r) return r.err === 'invalid port number' ? 'must not have a port' : `invalid value: ${h}`
  if (r.ok.type !== 'name') return 'must not be an IP'
  if (r.ok.port !== null) return 'must not have a port'
  return undefined
}

/** typedefs.sni */
export function validateSni (host: string): string | undefined {
  const r = normalizeIp(host)
  if ('err' in r) return r.err === 'invalid port number' ? 'must not have a port' : `invalid value: ${host}`
  if (r.ok.type !== 'name') return 'must not be an IP'
  if (r.ok.port !== null) return 'must not have a port'
  return undefined
}

/** inet_pton semantics: dotted quad without leading zeros; IPv6 without a zone index. */
export function isValidIp (ip: string): boolean {
  return isIPv4(ip) || (isIPv6(ip) && !ip.includes('%'))
}

function isValidCidr (cidr: string): boolean {
  const slash = cidr.indexOf('/')
  if (slash < 0) return false
  const ip = cidr.slice(0, slash)
  const prefix = cidr.slice(slash + 1)
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefix)) return false
  const p = Number(prefix)
  if (isIPv4(ip)) return p <= 32
  if (isIPv6(ip) && !ip.includes('%')) return p <= 128
  return false
}

export function validateIp (ip: string): string | undefined {
  return isValidIp(ip) ? undefined : `not an ip address: ${ip}`
}

export function validateIpOrCidr (v: string): string | undefined {
  return isValidIp(v) || isValidCidr(v) ? undefined : `invalid ip or cidr range: '${v}'`
}
