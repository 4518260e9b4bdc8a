/**
 * A small real DNS server on loopback UDP for tests (node:dgram): answers A, AAAA, SRV and CNAME
 * queries from a mutable zone with the TTLs given. A name not in the zone gets NXDOMAIN; a name in
 * the zone without records of the asked type gets an empty NOERROR answer; a name marked `fail`
 * gets SERVFAIL. Point a gateway at it with `dns_resolver=127.0.0.1:<port>`.
 */
import { createSocket, type Socket } from 'node:dgram'
import { once } from 'node:events'

export interface ZoneEntry {
  a?: Array<{ ip: string; ttl: number }>
  aaaa?: Array<{ ip: string; ttl: number }>
  srv?: Array<{ target: string; port: number; weight?: number; priority?: number; ttl: number }>
  cname?: { target: string; ttl: number }
  /** Answer SERVFAIL. */
  fail?: boolean
}

export interface DnsServer {
  port: number
  zone: Map<string, ZoneEntry>
  /** Queries received, as `TYPE name`. */
  queries: string[]
  close (): Promise<void>
}

const TYPES: Record<number, string> = { 1: 'A', 5: 'CNAME', 28: 'AAAA', 33: 'SRV' }

function encodeName (name: string): Buffer {
  const parts: Buffer[] = []
  for (const label of name.split('.')) {
    if (label === '') continue
    const b = Buffer.from(label, 'ascii')
    parts.push(Buffer.from([b.length]), b)
  }
  parts.push(Buffer.from([0]))
  return Buffer.concat(parts)
}

function rr (name: Buffer, type: number, ttl: number, rdata: Buffer): Buffer {
  const h = Buffer.alloc(10)
  h.writeUInt16BE(type, 0)
  h.writeUInt16BE(1, 2)
  h.writeUInt32BE(ttl, 4)
  h.writeUInt16BE(rdata.length, 8)
  return Buffer.concat([name, h, rdata])
}

function ipv6Bytes (ip: string): Buffer {
  const [head, tail] = ip.split('::') as [string, string | undefined]
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t]
  const b = Buffer.alloc(16)
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2))
  return b
}

export async function startDnsServer (zone: Record<string, ZoneEntry> = {}): Promise<DnsServer> {
  const sock: Socket = createSocket('udp4')
  const map = new Map(Object.entries(zone).map(([k, v]) => [k.toLowerCase(), v]))
  const queries: string[] = []
  sock.on('message', (msg, rinfo) => {
    try {
      const id = msg.readUInt16BE(0)
      let off = 12
      const labels: string[] = []
      while (msg[off]! !== 0) {
        const len = msg[off]!
        labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'))
        off += len + 1
      }
      off++
      const qtype = msg.readUInt16BE(off)
      const question = msg.subarray(12, off + 4)
      const name = labels.join('.').toLowerCase()
      queries.push(`${TYPES[qtype] ?? qtype} ${name}`)
      const entry = map.get(name)
      const answers: Buffer[] = []
      let rcode = 0
      const qname = encodeName(name)
      if (entry === undefined) rcode = 3
      else if (entry.fail === true) rcode = 2
      else if (qtype === 1) for (const a of entry.a ?? []) answers.push(rr(qname, 1, a.ttl, Buffer.from(a.ip.split('.').map(Number))))
      else if (qtype === 28) for (const a of entry.aaaa ?? []) answers.push(rr(qname, 28, a.ttl, ipv6Bytes(a.ip)))
      else if (qtype === 33) {
        for (const s of entry.srv ?? []) {
          const head = Buffer.alloc(6)
          head.writeUInt16BE(s.priority ?? 10, 0)
          head.writeUInt16BE(s.weight ?? 10, 2)
          head.writeUInt16BE(s.port, 4)
          answers.push(rr(qname, 33, s.ttl, Buffer.concat([head, encodeName(s.target)])))
        }
      } else if (qtype === 5 && entry.cname !== undefined) answers.push(rr(qname, 5, entry.cname.ttl, encodeName(entry.cname.target)))
      const header = Buffer.alloc(12)
      header.writeUInt16BE(id, 0)
      header.writeUInt16BE(0x8180 | rcode, 2) // response, recursion desired + available
      header.writeUInt16BE(1, 4)
      header.writeUInt16BE(answers.length, 6)
      sock.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address)
    } catch { /* malformed query: no answer */ }
  })
  sock.bind(0, '127.0.0.1')
  await once(sock, 'listening')
  return {
    port: sock.address().port,
    zone: map,
    queries,
    close: () => new Promise((resolve) => { sock.close(() => { resolve() }) }),
  }
}
