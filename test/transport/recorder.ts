/**
 * A recording handler for transport tests: it keeps every callback in order, checks the seam's
 * callback grammar as it goes (types.ts: onRequestStart at most once and first, 1xx heads, one
 * final head, data only after it, exactly one terminal callback, nothing after it), and can act
 * like a slow reader (pause after each chunk, resume later) or abort at a chosen point.
 */
import { createHash, type Hash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { TransportController, TransportHandler } from '../../src/worker/transport/types.ts'

export interface RecorderOptions {
  /** Pause after every chunk and resume after this many ms (0: setImmediate) ... */
  slowMs?: number
  /** ... while fewer than this many body bytes arrived (default: always). */
  slowUntil?: number
  /** Keep body bytes up to this many (default 1 MiB); the hash covers all of them. */
  keepLimit?: number
  onStart? (c: TransportController): void
  onHead? (c: TransportController, status: number): void
  onData? (c: TransportController, chunk: Buffer, received: number): void
  /** Guard: the test fails if no terminal callback came within this many ms (default 10 s). */
  guardMs?: number
}

export class Recorder implements TransportHandler {
  readonly o: RecorderOptions
  readonly events: string[] = []
  readonly violations: string[] = []
  readonly interim: Array<{ status: number; headers: IncomingHttpHeaders }> = []
  controller: TransportController | null = null
  starts = 0
  status = 0
  message: string | undefined = undefined
  headers: IncomingHttpHeaders | null = null
  trailers: IncomingHttpHeaders | null = null
  readonly kept: Buffer[] = []
  received = 0
  chunks = 0
  readonly hash: Hash = createHash('sha256')
  ended = false
  error: Error | null = null
  terminal = 0
  readonly done: Promise<void>
  #resolve!: () => void
  #guard: NodeJS.Timeout | null = null

  constructor (o: RecorderOptions = {}) {
    this.o = o
    this.done = new Promise((resolve) => { this.#resolve = resolve })
    this.#guard = setTimeout(() => {
      this.violations.push(`no terminal callback within ${o.guardMs ?? 10_000} ms (events: ${this.events.slice(-5).join(', ')})`)
      this.#resolve()
    }, o.guardMs ?? 10_000)
  }

  #after (what: string): void {
    if (this.terminal > 0) this.violations.push(`${what} after the terminal callback`)
  }

  onRequestStart (c: TransportController): void {
    this.#after('onRequestStart')
    this.starts++
    if (this.starts > 1) this.violations.push('onRequestStart twice')
    if (this.events.length > 0) this.violations.push('onRequestStart not first')
    this.events.push('start')
    this.controller = c
    this.o.onStart?.(c)
  }

  onResponseStart (c: TransportController, status: number, headers: IncomingHttpHeaders, message?: string): void {
    this.#after('onResponseStart')
    this.controller = c
    this.events.push(`head ${status}`)
    if (status < 200) {
      if (this.status !== 0) this.violations.push('interim head after the final head')
      this.interim.push({ status, headers })
      return
    }
    if (this.status !== 0) this.violations.push('second final head')
    this.status = status
    this.headers = headers
    this.message = message
    this.o.onHead?.(c, status)
  }

  onResponseData (c: TransportController, chunk: Buffer): void {
    this.#after('onResponseData')
    if (this.status === 0) this.violations.push('data before the final head')
    if (c.paused) this.violations.push('data while paused')
    this.chunks++
    this.received += chunk.length
    this.hash.update(chunk)
    if (this.received <= (this.o.keepLimit ?? 1 << 20)) this.kept.push(chunk)
    if (this.events.at(-1) !== 'data') this.events.push('data')
    this.o.onData?.(c, chunk, this.received)
    const slow = this.o.slowMs
    if (slow !== undefined && !c.aborted && (this.o.slowUntil === undefined || this.received < this.o.slowUntil)) {
      c.pause()
      const resume = (): void => { if (!c.aborted) c.resume() }
      if (slow === 0) setImmediate(resume)
      else setTimeout(resume, slow)
    }
  }

  onResponseEnd (_c: TransportController, trailers: IncomingHttpHeaders): void {
    this.#after('onResponseEnd')
    if (this.status === 0) this.violations.push('end without a final head')
    this.terminal++
    this.ended = true
    this.trailers = trailers
    this.events.push('end')
    this.#finish()
  }

  onResponseError (_c: TransportController | null, err: Error): void {
    this.#after('onResponseError')
    this.terminal++
    this.error = err
    this.events.push(`error ${(err as { code?: string }).code ?? err.name}`)
    this.#finish()
  }

  #finish (): void {
    if (this.#guard !== null) {
      clearTimeout(this.#guard)
      this.#guard = null
    }
    this.#resolve()
  }

  get body (): Buffer { return Buffer.concat(this.kept) }
  get text (): string { return this.body.toString('latin1') }
  get sha256 (): string { return this.hash.copy().digest('hex') }
}
