/**
 * UDP datagrams for the metric and syslog-style plugins (statsd, datadog, loggly, syslog over
 * UDP): one unconnected socket per address family per worker, shared by every target; a host
 * name is resolved once and kept for RESOLVE_TTL_MS (Kong resolves through its DNS cache).
 *
 * `send()` never blocks and never throws: at most MAX_INFLIGHT datagrams wait in the socket,
 * further ones are dropped and counted (one error line per episode). `ready()` resolves once the
 * address is known and rejects with Kong's `failed to connect to host:port: <err>` when it cannot
 * be resolved, so a queue handler can fail the batch and have it retried, as Kong's
 * `setpeername` failure does. Errors are logged with the owning plugin's tag.
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
  s.on('error', (err) => { log.error(`[udp] socket error: ${err.message}`) })
  s.unref()
  return s
}

export class DatagramTarget {
  readonly tag: string
  readonly host: string
  readonly port: number
  readonly where: string
  #literal: boolean
  #address: string | null
  #family: 4 | 6
  #resolvedAt = 0
  #resolving: Promise<void> | null = null
  #inflight = 0
  #dropping = false
  dropped = 0

  constructor (tag: string, host: string, port: number) {
    this.tag = tag
    this.host = host
    this.port = port
    this.where = `${host}:${port}`
    const f = isIP(host)
    this.#literal = f !== 0
    this.#address = f === 0 ? null : host
    this.#family = f === 6 ? 6 : 4
  }

  get #fresh (): boolean {
    return this.#address !== null && (this.#literal || performance.now() - this.#resolvedAt < RESOLVE_TTL_MS)
  }

  /** Resolves once the target's address is known (at once for an IP literal). */
  ready (): Promise<void> {
    if (this.#fresh) return Promise.resolve()
    return (this.#resolving ??= new Promise<void>((resolve, reject) => {
      // IPv4 first, as Kong's resolver orders A before AAAA by default.
      lookup(this.host, { verbatim: false }, (err, address, family) => {
        this.#resolving = null
        if (err !== null) {
          reject(new Error(`failed to connect to ${this.where}: ${err.message}`))
          return
        }
        this.#address = address
        this.#family = family === 6 ? 6 : 4
        this.#resolvedAt = performance.now()
        resolve()
      })
    }))
  }

  /** Sends one datagram, resolving the host first when needed. Never blocks, never throws. */
  send (data: string | Buffer): void {
    if (this.#inflight >= MAX_INFLIGHT) {
      this.dropped++
      if (!this.#dropping) log.error(`[${this.tag}] failed to send data to ${this.where}: too many datagrams waiting`)
      this.#dropping = true
      return
    }
    this.#dropping = false
    if (this.#fresh) { this.#sendNow(data); return }
    this.#inflight++
    this.ready().then(() => {
      this.#inflight--
      this.#sendNow(data)
    }, (err: Error) => {
      this.#inflight--
      log.error(`[${this.tag}] ${err.message}`)
    })
  }

  #sendNow (data: string | Buffer): void {
    this.#inflight++
    try {
      socketFor(this.#family).send(data, this.port, this.#address!, (err) => {
        this.#inflight--
        if (err !== null && err !== undefined) log.error(`[${this.tag}] failed to send data to ${this.where}: ${err.message}`)
      })
    } catch (err) {
      this.#inflight--
      log.error(`[${this.tag}] failed to send data to ${this.where}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
}

const targets = new Map<string, DatagramTarget>()

/** The worker's target for (tag, host, port), created on first use. */
export function datagramTarget (tag: string, host: string, port: number): DatagramTarget {
  const key = `${tag}|${host}|${port}`
  let t = targets.get(key)
  if (t === undefined) {
    t = new DatagramTarget(tag, host, port)
    targets.set(key, t)
  }
  return t
}
