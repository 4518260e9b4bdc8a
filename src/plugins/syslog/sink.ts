/**
 * Where syslog entries go. Kong calls the C library's syslog(3) (lsyslog: openlog("kong",
 * LOG_PID, facility)), which writes to the local syslog socket /dev/log. Sluice does the same by
 * default, and can be pointed elsewhere with the SLUICE_SYSLOG_ADDRESS environment variable
 * (read when a snapshot is compiled):
 *
 *   unset, `/path` or `unix:/path`   the local syslog socket at that path (default /dev/log)
 *   `udp://host:port`                 a syslog server over UDP (RFC 3164 frame with the hostname)
 *
 * Local socket: Node cannot open a unix datagram socket (libuv has none), so each worker keeps
 * one util-linux `logger` process reading `<PRI>message` lines on its stdin
 * (`logger -u <path> --prio-prefix -t kong --id=<pid>`), which sends each line as glibc's
 * syslog() would: `<PRI>Mmm dd hh:mm:ss kong[pid]: message`, over a datagram socket, or a
 * stream socket when the path is one.
 *
 *   none --send--> running --exit / spawn error--> failed (logged; entries dropped for
 *    ^                                                |      RESPAWN_MS, then the next send
 *    +------------------------------------------------+      starts a new logger)
 *
 * Never blocks a request: writes go to the pipe; when more than MAX_PENDING bytes wait in it
 * (logger stuck), entries are dropped and counted, with one error line per episode.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { log } from '../../common/log.ts'
import { datagramTarget, type DatagramTarget } from '../shared/datagram.ts'

const RESPAWN_MS = 5000
const MAX_PENDING = 4 * 1024 * 1024
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

export interface SyslogSink {
  readonly where: string
  /** One entry with its priority (facility * 8 + severity). Never blocks, never throws. */
  send (pri: number, message: string): void
}

/** RFC 3164 TIMESTAMP, local time: `Mmm dd hh:mm:ss`, the day padded with a space. */
export function bsdStamp (d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

class LocalSink implements SyslogSink {
  readonly where: string
  #child: ChildProcess | null = null
  #failedAt = -Infinity
  #dropping = false
  dropped = 0

  constructor (path: string) {
    this.where = path
  }

  #start (): ChildProcess | null {
    if (this.#child !== null) return this.#child
    if (performance.now() - this.#failedAt < RESPAWN_MS) return null
    // --size: logger cuts messages at 1 KiB by default; syslog(3) does not.
    const args = ['-u', this.where, '--prio-prefix', '-t', 'kong', `--id=${process.pid}`, '--socket-errors=on', '--size=262144']
    let child: ChildProcess
    try {
      child = spawn('logger', args, { stdio: ['pipe', 'ignore', 'pipe'] })
    } catch (err) {
      this.#fail(err instanceof Error ? err.message : String(err))
      return null
    }
    let stderr = ''
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (d: string) => { if (stderr.length < 1000) stderr += d })
    child.on('error', (err) => { if (this.#child === child) this.#fail(err.message) })
    child.on('exit', (code, signal) => {
      if (this.#child !== child) return
      this.#fail((stderr.trim() !== '' ? stderr.trim() : null) ?? `logger exited (${signal ?? code ?? '?'})`)
    })
    child.stdin!.on('error', () => {})
    // The logger must not keep a worker alive; it exits on end of input when the worker goes.
    child.unref()
    ;(child.stdin as unknown as { unref?: () => void }).unref?.()
    ;(child.stderr as unknown as { unref?: () => void }).unref?.()
    this.#child = child
    return child
  }

  #fail (why: string): void {
    this.#child = null
    this.#failedAt = performance.now()
    log.error(`[syslog] could not write to the local syslog socket ${this.where}: ${why}`)
  }

  send (pri: number, message: string): void {
    const child = this.#start()
    if (child === null) { this.dropped++; return }
    const stdin = child.stdin!
    if (stdin.writableLength > MAX_PENDING) {
      this.dropped++
      if (!this.#dropping) log.error(`[syslog] ${this.where} is not keeping up: dropping log entries`)
      this.#dropping = true
      return
    }
    this.#dropping = false
    stdin.write(`<${pri}>${message}\n`)
  }
}

class UdpSink implements SyslogSink {
  readonly where: string
  readonly #target: DatagramTarget
  readonly #host: string

  constructor (host: string, port: number, hostname: string) {
    this.where = `${host}:${port}`
    this.#target = datagramTarget('syslog', host, port)
    this.#host = hostname
  }

  send (pri: number, message: string): void {
    this.#target.send(`<${pri}>${bsdStamp(new Date())} ${this.#host} kong[${process.pid}]: ${message}`)
  }
}

const sinks = new Map<string, SyslogSink>()

/** The worker's sink for SLUICE_SYSLOG_ADDRESS (see above); throws on an address it cannot use. */
export function syslogSink (address: string | undefined, hostname: string): SyslogSink {
  const a = address === undefined || address.trim() === '' ? '/dev/log' : address.trim()
  let s = sinks.get(a)
  if (s !== undefined) return s
  if (a.startsWith('udp://')) {
    const u = new URL(a)
    const port = Number(u.port === '' ? 514 : u.port)
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
    s = new UdpSink(host, port, hostname)
  } else {
    const path = a.startsWith('unix:') ? a.slice(5) : a
    if (!path.startsWith('/')) throw new Error(`SLUICE_SYSLOG_ADDRESS: expected udp://host:port or an absolute socket path, got '${a}'`)
    s = new LocalSink(path)
  }
  sinks.set(a, s)
  return s
}
