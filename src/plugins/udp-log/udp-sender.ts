/**
 * udp-log's datagrams: one unconnected UDP socket per address family per worker, shared by every
 * target. A host name is resolved once and kept for RESOLVE_TTL_MS (Kong resolves through its DNS
 * cache; node's dgram would resolve on every send). Each entry is one datagram holding the JSON
 * text (no newline, as Kong sends it). Sends are asynchronous; at most MAX_INFLIGHT wait in the
 * socket, further entries are dropped and counted. Failures are logged with Kong's wording
 * (`could not send data to host:port: <err>`) and never thrown.
 */
import { createSocket, type Socket } from 'node:dgram'
import { lookup } from 'node:dns'
import { isIP } from 'node:net'
import { log } from '../../common/log.ts'

const RESOLVE_TTL_MS = 30_000
const MAX_INFLIGHT = 10_000

let v4: Socket | null = null
let v6: Socket | null = null

function socketFor (family: 4 | 6): Socket {
  if (family === 4) return (v4 ??= open('udp4'))
  return (v6 ??= open('udp6'))
}

function open (type: 'udp4' | 'udp6'): Socket {
  const s = createSocket(type)
  s.on('error', (err) => { log.error(`[udp-log] socket error: ${err.message}`) })
  s.unref()
  return s
}

export class UdpTarget {
  readonly host: string
  readonly port: number
  readonly where: string
  #address: string | null
  #family: 4 | 6
  #resolvedAt = 0
  #resolving: Array<Buffer> | null = null
  #inflight = 0
  #dropping = false
  dropped = 0

  constructor (host: string, port: number) {
    this.host = host
    this.port = port
    this.where = `${host}:${port}`
    const f = isIP(host)
    this.#address = f === 0 ? null : host
    this.#family = f === 6 ? 6 : 4
  }

  /** Sends one datagram. Never blocks, never throws. */
  send (text: string): void {
    if (this.#inflight >= MAX_INFLIGHT) {
      this.dropped++
      if (!this.#dropping) log.error(`[udp-log] could not send data to ${this.where}: too many datagrams waiting`)
      this.#dropping = true
      return
    }
    this.#dropping = false
    const buf = Buffer.from(text)
    if (this.#address !== null && (isIP(this.host) !== 0 || performance.now() - this.#resolvedAt < RESOLVE_TTL_MS)) {
      this.#sendTo(buf)
      return
    }
    if (this.#resolving !== null) { this.#resolving.push(buf); return }
    this.#resolving = [buf]
    // IPv4 first, as Kong's resolver orders A before AAAA by default.
    lookup(this.host, { verbatim: false }, (err, address, family) => {
      const waiting = this.#resolving ?? []
      this.#resolving = null
      if (err !== null) {
        log.error(`[udp-log] could not connect to ${this.where}: ${err.message}`)
        return
      }
      this.#address = address
      this.#family = family === 6 ? 6 : 4
      this.#resolvedAt = performance.now()
      for (const b of waiting) this.#sendTo(b)
    })
  }

  #sendTo (buf: Buffer): void {
    this.#inflight++
    try {
      socketFor(this.#family).send(buf, this.port, this.#address!, (err) => {
        this.#inflight--
        if (err !== null && err !== undefined) log.error(`[udp-log] could not send data to ${this.where}: ${err.message}`)
      })
    } catch (err) {
      this.#inflight--
      log.error(`[udp-log] could not send data to ${this.where}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
}

const targets = new Map<string, UdpTarget>()

export function udpTargetFor (host: string, port: number): UdpTarget {
  const key = `${host}|${port}`
  let t = targets.get(key)
  if (t === undefined) {
    t = new UdpTarget(host, port)
    targets.set(key, t)
  }
  return t
}
