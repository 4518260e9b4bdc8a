/**
 * A small Redis client (RESP2 over node:net / node:tls) for the rate-limit writer: one connection,
 * pipelined commands answered in order, AUTH and SELECT on connect, a timeout per command. It
 * speaks just enough RESP for EVALSHA/EVAL, SCRIPT LOAD, PING, AUTH and SELECT; nothing on the
 * proxy path uses it.
 *
 *   closed --command--> connecting --connect + AUTH/SELECT ok--> open --socket error/close--> closed
 *                            |---------------- error: every queued command rejects ------------^
 *
 * A closed client reconnects on the next command, so a Redis restart costs the ticks it is down.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { RedisSettings } from '../../common/ratelimit/keys.ts'

export type RespValue = string | number | null | RespValue[] | RespError

export class RespError extends Error {
  override readonly name = 'RespError'
}

interface Pending {
  resolve: (v: RespValue) => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
}

function encode (args: ReadonlyArray<string | number>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = Buffer.from(String(a))
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

/** Parses one RESP value from buf at pos; returns [value, next pos] or null when incomplete. */
function parse (buf: Buffer, pos: number): [RespValue, number] | null {
  if (pos >= buf.length) return null
  const eol = buf.indexOf('\r\n', pos)
  if (eol < 0) return null
  const type = buf[pos]
  const line = buf.toString('utf8', pos + 1, eol)
  switch (type) {
    case 43: return [line, eol + 2] // +
    case 45: return [new RespError(line), eol + 2] // -
    case 58: return [Number(line), eol + 2] // :
    case 36: { // $
      const n = Number(line)
      if (n < 0) return [null, eol + 2]
      if (eol + 2 + n + 2 > buf.length) return null
      return [buf.toString('utf8', eol + 2, eol + 2 + n), eol + 2 + n + 2]
    }
    case 42: { // *
      const n = Number(line)
      if (n < 0) return [null, eol + 2]
      const out: RespValue[] = []
      let p = eol + 2
      for (let i = 0; i < n; i++) {
        const r = parse(buf, p)
        if (r === null) return null
        out.push(r[0])
        p = r[1]
      }
      return [out, p]
    }
    default:
      throw new RespError(`unexpected RESP type byte ${type}`)
  }
}

export class RespClient {
  readonly settings: RedisSettings
  #socket: Socket | null = null
  #ready: Promise<void> | null = null
  #queue: Pending[] = []
  #buf: Buffer = Buffer.alloc(0)

  constructor (settings: RedisSettings) {
    this.settings = settings
  }

  /** Sends one command (connecting first if needed). Redis errors reject with RespError. */
  async command (args: ReadonlyArray<string | number>): Promise<RespValue> {
    await this.#connect()
    return this.#send(args)
  }

  #send (args: ReadonlyArray<string | number>): Promise<RespValue> {
    const socket = this.#socket
    if (socket === null) return Promise.reject(new Error('redis: not connected'))
    return new Promise<RespValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new Error(`redis: no answer from ${this.settings.host}:${this.settings.port} within ${this.settings.timeout} ms`))
      }, this.settings.timeout)
      this.#queue.push({
        resolve: (v) => { if (v instanceof RespError) reject(v); else resolve(v) },
        reject,
        timer,
      })
      socket.write(encode(args))
    })
  }

  #connect (): Promise<void> {
    if (this.#ready !== null) return this.#ready
    const s = this.settings
    this.#ready = new Promise<void>((resolve, reject) => {
      const socket = s.ssl
        ? tlsConnect({ host: s.host, port: s.port, servername: s.serverName ?? s.host, rejectUnauthorized: s.sslVerify })
        : netConnect({ host: s.host, port: s.port })
      // Events of a socket that has been replaced must not touch its successor.
      const fail = (err: Error): void => { if (this.#socket === socket) this.#fail(err) }
      let timer: NodeJS.Timeout | undefined
      const onError = (err: Error): void => { clearTimeout(timer); fail(err); reject(err) }
      socket.setNoDelay(true)
      timer = setTimeout(() => onError(new Error(`redis: connect to ${s.host}:${s.port} timed out`)), s.timeout)
      socket.once(s.ssl ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer)
        socket.off('error', onError)
        socket.on('error', fail)
        const init: Array<Promise<RespValue>> = []
        if (s.password !== null && s.password !== '') {
          init.push(this.#send(s.username !== null && s.username !== '' ? ['AUTH', s.username, s.password] : ['AUTH', s.password]))
        }
        if (s.database !== 0) init.push(this.#send(['SELECT', s.database]))
        Promise.all(init).then(() => resolve(), (err: Error) => { fail(err); reject(err) })
      })
      socket.once('error', onError)
      socket.on('data', (chunk: Buffer) => { if (this.#socket === socket) this.#onData(chunk) })
      socket.on('close', () => { clearTimeout(timer); fail(new Error('redis: connection closed')); reject(new Error('redis: connection closed')) })
      this.#socket = socket
    })
    // A failed connect must not leave an unhandled rejection when nobody awaits it.
    this.#ready.catch(() => {})
    return this.#ready
  }

  #onData (chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk])
    let pos = 0
    for (;;) {
      let r: [RespValue, number] | null
      try {
        r = parse(this.#buf, pos)
      } catch (err) {
        this.#fail(err as Error)
        return
      }
      if (r === null) break
      pos = r[1]
      const p = this.#queue.shift()
      if (p === undefined) continue
      clearTimeout(p.timer)
      p.resolve(r[0])
    }
    this.#buf = pos >= this.#buf.length ? Buffer.alloc(0) : this.#buf.subarray(pos)
  }

  /** Drops the connection; every command in flight rejects with err. */
  #fail (err: Error): void {
    const q = this.#queue
    this.#queue = []
    for (const p of q) { clearTimeout(p.timer); p.reject(err) }
    if (this.#socket !== null) { this.#socket.destroy(); this.#socket = null }
    this.#ready = null
    this.#buf = Buffer.alloc(0)
  }

  close (): void {
    this.#fail(new Error('redis: client closed'))
  }
}
