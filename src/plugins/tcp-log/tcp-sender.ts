/**
 * tcp-log's connection per (host, port, tls, tls_sni, timeout, keepalive) per worker. Kong opens
 * a cosocket per entry from its keepalive pool; here one connection carries the entries in order,
 * and the request only hands a line to it:
 *
 *   closed --send--> connecting (lines buffered by the socket) --connect--> open
 *      ^                 | error / `timeout` without connecting             |  idle `keepalive` ms:
 *      +-- logged, buffered lines lost ----------------------------------<--+  closed quietly
 *                                                                           |  error, remote close,
 *                                                                           |  or a write backlog
 *                                                                           |  without progress for
 *                                                                           |  `timeout` ms: logged
 * - TLS (`tls = true`): handshake with SNI `tls_sni` (else the host name), certificate not
 *   verified (Kong: sslhandshake(false, sni, false)).
 * - Bound: when more than MAX_BUFFERED bytes wait in the socket (a collector that accepts but does
 *   not read), new lines are dropped and counted, with one error line per episode.
 * - The host name resolves through Kong's DNS settings (shared/dns-lookup.ts), at each connect.
 * - Kong's messages: `failed to connect to host:port: <err>`, `failed to send data to ...`.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { log } from '../../common/log.ts'
import { kongLookup } from '../shared/dns-lookup.ts'

const MAX_BUFFERED = 4 * 1024 * 1024

export interface TcpTarget {
  readonly host: string
  readonly port: number
  readonly tls: boolean
  readonly sni: string | null
  readonly timeout: number
  readonly keepalive: number
}

export class TcpSink {
  readonly target: TcpTarget
  readonly where: string
  #socket: Socket | null = null
  #connected = false
  #dropping = false
  dropped = 0

  constructor (target: TcpTarget) {
    this.target = target
    this.where = `${target.host}:${target.port}`
  }

  /** Sends one line (with its newline). Never blocks, never throws. */
  send (line: string): void {
    let s = this.#socket
    if (s === null) s = this.#open()
    if (s.writableLength > MAX_BUFFERED) {
      this.dropped++
      if (!this.#dropping) log.error(`[tcp-log] ${this.where} is not reading: dropping log entries`)
      this.#dropping = true
      return
    }
    this.#dropping = false
    // Buffered past the high-water mark: the collector has `timeout` ms to make progress.
    if (!s.write(line) && this.#connected) s.setTimeout(this.target.timeout)
  }

  #open (): Socket {
    const t = this.target
    const s = t.tls
      ? tlsConnect({ host: t.host, port: t.port, lookup: kongLookup, servername: t.sni ?? (isIP(t.host) === 0 ? t.host : undefined), rejectUnauthorized: false })
      : netConnect({ host: t.host, port: t.port, lookup: kongLookup })
    this.#socket = s
    this.#connected = false
    s.setNoDelay(true)
    s.setTimeout(t.timeout)
    s.once(t.tls ? 'secureConnect' : 'connect', () => {
      this.#connected = true
      s.setTimeout(s.writableNeedDrain ? t.timeout : t.keepalive)
    })
    s.on('drain', () => { if (this.#connected) s.setTimeout(t.keepalive) })
    s.on('timeout', () => {
      if (!this.#connected) log.error(`[tcp-log] failed to connect to ${this.where}: timeout`)
      else if (s.writableNeedDrain) log.error(`[tcp-log] failed to send data to ${this.where}: timeout`)
      this.#drop(s)
    })
    s.on('error', (err: Error) => {
      log.error(`[tcp-log] ${this.#connected ? 'failed to send data to' : 'failed to connect to'} ${this.where}: ${err.message}`)
      this.#drop(s)
    })
    // A collector that closes its side: reconnect on the next line.
    s.on('end', () => { this.#drop(s) })
    s.on('close', () => { if (this.#socket === s) this.#socket = null })
    s.on('data', () => { /* collectors do not answer; ignore anything they send */ })
    return s
  }

  #drop (s: Socket): void {
    if (this.#socket === s) this.#socket = null
    s.destroy()
  }

  close (): void {
    const s = this.#socket
    this.#socket = null
    if (s !== null) s.end()
  }
}

const sinks = new Map<string, TcpSink>()

export function tcpSinkFor (t: TcpTarget): TcpSink {
  const key = `${t.host}|${t.port}|${t.tls}|${t.sni ?? ''}|${t.timeout}|${t.keepalive}`
  let s = sinks.get(key)
  if (s === undefined) {
    s = new TcpSink(t)
    sinks.set(key, s)
  }
  return s
}

/** Ends every connection after what it holds was handed to the kernel (worker shutdown). */
export function closeTcpSinks (): void {
  for (const s of sinks.values()) s.close()
  sinks.clear()
}
