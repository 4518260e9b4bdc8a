/**
 * Parses Kong's listen directives (kong/conf_loader/listeners.lua), e.g.
 * `0.0.0.0:8000 reuseport backlog=16384, [::1]:8443 http2 ssl`:
 *
 * - entries are comma-separated (the list split happens in load.ts); `off` as the first entry
 *   turns the listener off whatever follows, as in Kong;
 * - an entry is one address `ip:port`, `[ipv6]:port`, `name:port` or `*:port` and any of the flags
 *   `ssl http2 proxy_protocol deferred bind reuseport backlog=N ipv6only=on|off
 *   so_keepalive=on|off|idle:intvl:cnt`, in any order (Kong strips the flags wherever they are);
 * - an IPv6 address needs brackets (`[::]:8000`): `:::8000` is refused as Kong refuses it.
 *
 * Sluice acts on ssl, http2, reuseport and backlog; the other flags are accepted for kong.conf
 * compatibility.
 */

export interface Listener {
  host: string
  port: number
  ssl: boolean
  http2: boolean
  reuseport: boolean
  backlog: number | null
}

const FLAG = /^(ssl|http2|proxy_protocol|deferred|bind|reuseport|backlog=\d+|ipv6only=(on|off)|so_keepalive=(on|off|\w*:\w*:\d*))$/

const FORM = '[off] | <ip>:<port> [ssl] [http2] [proxy_protocol] [deferred] [bind] [reuseport] [backlog=N] [ipv6only=on|off] [so_keepalive=on|off|idle:intvl:cnt], [... next entry ...]'

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const NAME = /^(\*|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?)$/

function bad (key: string, entry: string, why: string): Error {
  return new Error(`${key}: ${why} in '${entry.trim()}'; ${key} must be of form: ${FORM}`)
}

export function parseListen (key: string, value: string[]): Listener[] {
  if (value.length === 0) throw new Error(`${key}: empty; ${key} must be of form: ${FORM}`)
  if (value[0]!.trim() === 'off') return []
  const out: Listener[] = []
  for (const entry of value) {
    const l: Listener = { host: '', port: 0, ssl: false, http2: false, reuseport: false, backlog: null }
    const addrs: string[] = []
    for (const part of entry.trim().split(/\s+/)) {
      if (FLAG.test(part)) {
        if (part === 'ssl') l.ssl = true
        else if (part === 'http2') l.http2 = true
        else if (part === 'reuseport') l.reuseport = true
        else if (part.startsWith('backlog=')) l.backlog = Number(part.slice(8))
      } else addrs.push(part)
    }
    if (addrs.length === 0) throw bad(key, entry, 'no address')
    if (addrs.length > 1) {
      const unknown = addrs.find((a) => !/:\d+$/.test(a)) ?? addrs[1]!
      throw bad(key, entry, `unknown flag '${unknown}'`)
    }
    const addr = addrs[0]!
    let host: string
    let portText: string
    const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(addr)
    if (v6 !== null) {
      host = v6[1]!
      portText = v6[2]!
    } else {
      const idx = addr.lastIndexOf(':')
      if (idx <= 0) throw bad(key, entry, `'${addr}' is not of the form address:port`)
      host = addr.slice(0, idx)
      portText = addr.slice(idx + 1)
      if (host.includes(':')) throw bad(key, entry, `IPv6 address '${host}' needs brackets ([${host}]:${portText})`)
      const v4 = V4.exec(host)
      if (v4 !== null ? v4.slice(1).some((o) => Number(o) > 255) : !NAME.test(host)) throw bad(key, entry, `'${host}' is not an IP address or host name`)
    }
    const port = Number(portText)
    if (!/^\d+$/.test(portText) || port > 65535) throw bad(key, entry, `invalid port '${portText}'`)
    l.host = host === '*' ? '0.0.0.0' : host
    l.port = port
    out.push(l)
  }
  return out
}
