/**
 * Client addresses: formatting uWS's binary peer address as text (nginx `$remote_addr` style) and
 * matching it against `trusted_ips` (Kong's `kong.ip.is_trusted`). The CIDR list is compiled once
 * per worker into numeric (network, mask) pairs; a lookup is a few integer compares, no parsing.
 */

export interface TrustedIps {
  /** No entries: nobody is trusted (Kong's default). */
  readonly none: boolean
  /** `0.0.0.0/0` and `::/0` both listed: everyone is trusted. */
  readonly all: boolean
  /** IPv4 networks as [net0, mask0, net1, mask1, ...] (uint32). */
  readonly v4: Uint32Array
  /** IPv6 networks as 8 uint32 per entry: 4 words of network, then 4 of mask. */
  readonly v6: Uint32Array
}

function parseV4 (text: string): number | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  let n = 0
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null
    const b = Number(p)
    if (b > 255) return null
    n = n * 256 + b
  }
  return n >>> 0
}

/** Parses an IPv6 address (with `::` and an optional dotted IPv4 tail) into 4 uint32 words. */
function parseV6 (text: string): Uint32Array | null {
  let s = text
  const words: number[] = []
  const dot = s.lastIndexOf('.')
  let tail: number[] = []
  if (dot >= 0) {
    const colon = s.lastIndexOf(':')
    const v4 = parseV4(s.slice(colon + 1))
    if (v4 === null) return null
    tail = [v4 >>> 16, v4 & 0xffff]
    s = s.slice(0, colon + 1) + '0'
  }
  const dbl = s.indexOf('::')
  if (dbl !== s.lastIndexOf('::')) return null
  const groups = (str: string): number[] | null => {
    if (str === '') return []
    const out: number[] = []
    for (const g of str.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null
      out.push(parseInt(g, 16))
    }
    return out
  }
  let all: number[]
  if (dbl >= 0) {
    const head = groups(s.slice(0, dbl))
    const tailGroups = groups(s.slice(dbl + 2))
    if (head === null || tailGroups === null) return null
    const fill = 8 - head.length - tailGroups.length - (tail.length > 0 ? 1 : 0)
    if (fill < 1) return null
    all = [...head, ...new Array<number>(fill).fill(0), ...tailGroups]
  } else {
    const g = groups(s)
    if (g === null) return null
    all = g
  }
  if (tail.length > 0) all = [...all.slice(0, all.length - 1), ...tail]
  if (all.length !== 8) return null
  for (let i = 0; i < 8; i++) words[i >> 1] = ((words[i >> 1] ?? 0) * 65536 + all[i]!) >>> 0
  return Uint32Array.from(words)
}

function maskWord (bits: number): number {
  if (bits <= 0) return 0
  if (bits >= 32) return 0xffffffff
  return (0xffffffff << (32 - bits)) >>> 0
}

/** Compiles `trusted_ips` entries (`1.2.3.4`, `10.0.0.0/8`, `::1`, `fd00::/8`, `unix:`). */
export function compileTrustedIps (list: readonly string[]): TrustedIps {
  const v4: number[] = []
  const v6: number[] = []
  let all4 = false
  let all6 = false
  for (const raw of list) {
    const entry = raw.trim()
    if (entry === '' || entry === 'unix:') continue
    const slash = entry.indexOf('/')
    const addr = slash >= 0 ? entry.slice(0, slash) : entry
    const bitsText = slash >= 0 ? entry.slice(slash + 1) : null
    const a4 = parseV4(addr)
    if (a4 !== null) {
      const bits = bitsText === null ? 32 : Number(bitsText)
      if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`trusted_ips: invalid CIDR '${entry}'`)
      const m = maskWord(bits)
      v4.push((a4 & m) >>> 0, m)
      if (bits === 0) all4 = true
      continue
    }
    const a6 = parseV6(addr)
    if (a6 === null) throw new Error(`trusted_ips: '${entry}' is not an IP address or CIDR`)
    const bits = bitsText === null ? 128 : Number(bitsText)
    if (!Number.isInteger(bits) || bits < 0 || bits > 128) throw new Error(`trusted_ips: invalid CIDR '${entry}'`)
    const masks = [maskWord(bits), maskWord(bits - 32), maskWord(bits - 64), maskWord(bits - 96)]
    v6.push((a6[0]! & masks[0]!) >>> 0, (a6[1]! & masks[1]!) >>> 0, (a6[2]! & masks[2]!) >>> 0, (a6[3]! & masks[3]!) >>> 0, ...masks)
    if (bits === 0) all6 = true
  }
  return {
    none: v4.length === 0 && v6.length === 0,
    all: all4 && all6,
    v4: Uint32Array.from(v4),
    v6: Uint32Array.from(v6),
  }
}

/** True when `addr` (4 or 16 bytes, as uWS `getRemoteAddress()` gives it) is trusted. */
export function isTrusted (t: TrustedIps, addr: Uint8Array): boolean {
  if (t.none) return false
  if (t.all) return true
  let v4 = -1
  if (addr.length === 4) v4 = ((addr[0]! << 24) | (addr[1]! << 16) | (addr[2]! << 8) | addr[3]!) >>> 0
  else if (isV4Mapped(addr)) v4 = ((addr[12]! << 24) | (addr[13]! << 16) | (addr[14]! << 8) | addr[15]!) >>> 0
  if (v4 >= 0) {
    const l = t.v4
    for (let i = 0; i < l.length; i += 2) if (((v4 & l[i + 1]!) >>> 0) === l[i]) return true
    return false
  }
  if (addr.length !== 16) return false
  const w0 = word(addr, 0)
  const w1 = word(addr, 4)
  const w2 = word(addr, 8)
  const w3 = word(addr, 12)
  const l = t.v6
  for (let i = 0; i < l.length; i += 8) {
    if (((w0 & l[i + 4]!) >>> 0) === l[i] && ((w1 & l[i + 5]!) >>> 0) === l[i + 1] &&
      ((w2 & l[i + 6]!) >>> 0) === l[i + 2] && ((w3 & l[i + 7]!) >>> 0) === l[i + 3]) return true
  }
  return false
}

function word (a: Uint8Array, o: number): number {
  return ((a[o]! << 24) | (a[o + 1]! << 16) | (a[o + 2]! << 8) | a[o + 3]!) >>> 0
}

function isV4Mapped (a: Uint8Array): boolean {
  if (a.length !== 16) return false
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false
  return a[10] === 0xff && a[11] === 0xff
}

/** Text address (IPv4, IPv6, bracketed IPv6) -> 4 or 16 bytes; null when it is not an address. */
export function addressBytes (text: string): Uint8Array | null {
  let t = text
  if (t.charCodeAt(0) === 91 /* [ */ && t.charCodeAt(t.length - 1) === 93) t = t.slice(1, -1)
  const v4 = parseV4(t)
  if (v4 !== null) return Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255)
  if (t.indexOf(':') < 0) return null
  const v6 = parseV6(t)
  if (v6 === null) return null
  const out = new Uint8Array(16)
  for (let i = 0; i < 4; i++) {
    const w = v6[i]!
    out[i * 4] = w >>> 24
    out[i * 4 + 1] = (w >>> 16) & 255
    out[i * 4 + 2] = (w >>> 8) & 255
    out[i * 4 + 3] = w & 255
  }
  return out
}

let lastV4 = -1
let lastV4Text = ''

/**
 * nginx-style text for a peer address: dotted IPv4 (also for IPv4-mapped IPv6 peers of a
 * dual-stack listener), otherwise RFC 5952 compressed IPv6. The last IPv4 text is kept: behind a
 * load balancer most requests come from a handful of addresses.
 */
export function formatAddress (a: Uint8Array): string {
  if (a.length === 4) {
    const n = ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0
    if (n !== lastV4) {
      lastV4 = n
      lastV4Text = `${a[0]}.${a[1]}.${a[2]}.${a[3]}`
    }
    return lastV4Text
  }
  if (a.length !== 16) return ''
  if (isV4Mapped(a)) return `${a[12]}.${a[13]}.${a[14]}.${a[15]}`
  const g: number[] = []
  for (let i = 0; i < 16; i += 2) g.push((a[i]! << 8) | a[i + 1]!)
  // Longest run of zero groups (length >= 2) becomes '::'.
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i }
    i = j
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':')
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':')
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':')
  return `${head}::${tail}`
}
