/** Parses Kong's listen directives: `0.0.0.0:8000 reuseport backlog=16384, [::1]:8443 http2 ssl`. */

export interface Listener {
  host: string
  port: number
  ssl: boolean
  http2: boolean
  reuseport: boolean
  backlog: number | null
}

const FLAG = /^(ssl|http2|reuseport|deferred|bind|proxy_protocol|backlog=\d+|ipv6only=(on|off)|so_keepalive=\S+)$/

export function parseListen (key: string, value: string[]): Listener[] {
  if (value.length === 1 && value[0] === 'off') return []
  const out: Listener[] = []
  for (const entry of value) {
    const parts = entry.trim().split(/\s+/)
    const addr = parts.shift() ?? ''
    let host: string
    let portText: string
    const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(addr)
    if (v6 !== null) {
      host = v6[1]!
      portText = v6[2]!
    } else {
      const idx = addr.lastIndexOf(':')
      if (idx <= 0) throw new Error(`${key}: '${entry}' is not of the form address:port`)
      host = addr.slice(0, idx)
      portText = addr.slice(idx + 1)
    }
    const port = Number(portText)
    if (!/^\d+$/.test(portText) || port > 65535) throw new Error(`${key}: invalid port in '${entry}'`)
    const l: Listener = { host: host === '*' ? '0.0.0.0' : host, port, ssl: false, http2: false, reuseport: false, backlog: null }
    for (const flag of parts) {
      if (!FLAG.test(flag)) throw new Error(`${key}: unknown flag '${flag}' in '${entry}'`)
      if (flag === 'ssl') l.ssl = true
      else if (flag === 'http2') l.http2 = true
      else if (flag === 'reuseport') l.reuseport = true
      else if (flag.startsWith('backlog=')) l.backlog = Number(flag.slice(8))
    }
    out.push(l)
  }
  return out
}
