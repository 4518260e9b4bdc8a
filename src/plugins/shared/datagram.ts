/**
 * UDP datagrams for the plugins that log over UDP (udp-log, statsd, datadog, loggly, syslog): one
 * unconnected socket per address family per worker, shared by every target.
 *
 * Names resolve through the worker's DnsCache (common/dns.ts, via worker/balancer/runtime.ts), as
 * Kong's sockets resolve through its own DNS client: `dns_resolver`, `dns_hostsfile`, `dns_order`
 * and the record TTLs apply, hosts-file names and IP literals need no query. A target keeps the
 * answer until its TTL ends (no query per datagram) and takes its addresses in turn, one per
 * datagram, as Kong's `toip` does; an SRV answer's port replaces the configured one.
 *
 * `send()` never blocks and never throws: at most MAX_INFLIGHT datagrams wait (for a name or in
 * the socket), further ones are dropped and counted, with one error line per episode. `ready()`
 * resolves once the name has addresses and rejects with `<connect wording> host:port: <err>` when
 * it has none, so a queue handler can fail the batch and have it retried, as Kong's `setpeername`
 * failure does. Log lines carry the owning plugin's tag and Kong's wording for that plugin
 * (udp-log says `could not ...`, the metric plugins `failed to ...`).
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIP } from 'node:net'
import { log } from '../../common/log.ts'
import type { DnsAddress } from '../../common/dns.ts'
import { dnsCache } from '../../worker/balancer/runtime.ts'

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

/** Kong's wording per plugin: udp-log logs `could not ...`, the others `failed to ...`. */
export interface DatagramWording {
  readonly connect: string
  readonly send: string
}

export const FAILED_TO: DatagramWording = { connect: 'failed to connect to', send: 'failed to send data to' }
export const COULD_NOT: DatagramWording = { connect: 'could not connect to', send: 'could not send data to' }

export class DatagramTarget {
  readonly tag: string
  readonly host: string
  readonly port: number
  readonly where: string
  readonly #wording: DatagramWording
  #addresses: readonly DnsAddress[] | null
  /** Address family of each of #addresses (which socket sends to it). */
  #families: Array<4 | 6> = []
  /** ms epoch: the addresses are asked for again from then on. */
  #until: number
  #next = 0
  #resolving: Promise<void> | null = null
  #inflight = 0
  #dropping = false
  dropped = 0

  constructor (tag: string, host: string, port: number, wording: DatagramWording = FAILED_TO) {
    this.tag = tag
    this.host = host
    this.port = port
    this.where = `${host}:${port}`
    this.#wording = wording
    const literal = isIP(host) !== 0
    this.#addresses = literal ? [{ ip: host, ttl: Infinity }] : null
    if (literal) this.#families = [isIP(host) === 6 ? 6 : 4]
    this.#until = literal ? Infinity : 0
  }

  get #fresh (): boolean {
    return this.#addresses !== null && Date.now() < this.#until
  }

  /** Resolves once the target has addresses (at once for an IP literal or a fresh answer). */
  ready (): Promise<void> {
    if (this.#fresh) return Promise.resolve()
    return (this.#resolving ??= this.#resolve())
  }

  async #resolve (): Promise<void> {
    const dns = dnsCache()
    try {
      const peeked = dns.peek(this.host)
      const addresses = peeked === undefined ? await dns.resolve(this.host) : peeked
      if (addresses instanceof Error) throw addresses
      if (addresses.length === 0) throw new Error('no addresses')
      if (addresses !== this.#addresses) {
        this.#addresses = addresses
        this.#families = addresses.map((x) => (isIP(x.ip) === 6 ? 6 : 4))
      }
      // A stale answer (served while a refresh runs) is used for this datagram and asked for again next time.
      this.#until = dns.expiresAt(this.host)
    } catch (err) {
      throw new Error(`${this.#wording.connect} ${this.where}: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      this.#resolving = null
    }
  }

  /** Sends one datagram, resolving the host first when needed. Never blocks, never throws. */
  send (data: string | Buffer): void {
    if (this.#inflight >= MAX_INFLIGHT) {
      this.dropped++
      if (!this.#dropping) log.error(`[${this.tag}] ${this.#wording.send} ${this.where}: too many datagrams waiting`)
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
    const list = this.#addresses!
    const i = list.length === 1 ? 0 : this.#next++ % list.length
    const a = list[i]!
    this.#inflight++
    try {
      socketFor(this.#families[i]!).send(data, a.port ?? this.port, a.ip, (err) => {
        this.#inflight--
        if (err !== null && err !== undefined) log.error(`[${this.tag}] ${this.#wording.send} ${this.where}: ${err.message}`)
      })
    } catch (err) {
      this.#inflight--
      log.error(`[${this.tag}] ${this.#wording.send} ${this.where}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
}

const targets = new Map<string, DatagramTarget>()

/** The worker's target for (tag, host, port), created on first use. */
export function datagramTarget (tag: string, host: string, port: number, wording: DatagramWording = FAILED_TO): DatagramTarget {
  const key = `${tag}|${host}|${port}`
  let t = targets.get(key)
  if (t === undefined) {
    t = new DatagramTarget(tag, host, port, wording)
    targets.set(key, t)
  }
  return t
}
