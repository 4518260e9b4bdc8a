/**
 * Logging for the whole node.
 *
 * Error log: nginx-style levels (`log_level`), one line per message, cheap when a level is off
 * (one integer compare). Workers use the same module; their lines carry their id and reach the
 * primary through Node's forwarding of a worker's `process.stderr`. When the primary writes the
 * error log to a file (`proxy_error_log`), `openErrorLog` also routes this thread's
 * `process.stderr` into that file, so worker lines and stray writes land in the same, reopenable
 * place; fatal output written by Node itself still goes to fd 2 (the daemon points it at the same
 * file at start).
 *
 * Access logs: `LineWriter`, a batched writer that never blocks the caller. Lines are appended to
 * an in-memory batch; a timer (100 ms) or a full batch (64 KiB) starts one asynchronous write;
 * while a write is in flight new lines wait in the next batch. If the disk stalls and more than
 * 8 MiB wait, lines are dropped and counted rather than held without bound:
 *
 *   idle --write()--> batching --timer / 64 KiB--> writing --done--> idle (or writing the next batch)
 *                                                     | more than 8 MiB waiting: drop + count
 *
 * Reopen (SIGUSR1, logrotate): `reopenLogs()` reopens the error log here and posts `reopen` on a
 * BroadcastChannel that every LineWriter of every thread of the process listens to.
 */
import { closeSync, mkdirSync, openSync, write as fsWrite, writeSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import { BroadcastChannel } from 'node:worker_threads'

const LEVELS = ['debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg'] as const
export type Level = typeof LEVELS[number]

let threshold = 2
/** The level configureLog set, and the dynamic one in force over it (null: none). */
let configured = 2
let override: number | null = null
let tag = 'primary'
let sink: (line: string) => void = (line) => { process.stderr.write(line) }

export function configureLog (level: string, who?: string, out?: (line: string) => void): void {
  const i = LEVELS.indexOf(level as Level)
  configured = i < 0 ? 2 : i
  threshold = override ?? configured
  if (who !== undefined) tag = who
  if (out !== undefined) sink = out
}

/** The level in force in this thread. */
export function logLevel (): Level { return LEVELS[threshold]! }

/**
 * The dynamic log level (Admin API `/debug/node/log-level`, primary/log-level.ts): `level`
 * replaces the configured one in this thread until it is called with null.
 */
export function overrideLogLevel (level: Level | null): void {
  const i = level === null ? -1 : LEVELS.indexOf(level)
  override = i < 0 ? null : i
  threshold = override ?? configured
}

/** The BroadcastChannel a node's primary publishes its dynamic level on (suffix: the node's prefix). */
export const LOG_LEVEL_CHANNEL = 'sluice:log-level:'
export type LogLevelMessage = { kind: 'ask' } | { kind: 'level'; level: Level | null }

/**
 * Worker threads: follow the dynamic level the primary of the node with this prefix publishes,
 * starting with the one in force now (a worker spawned after a change, by a respawn or a reload,
 * asks for it).
 */
export function followLogLevel (scope: string): void {
  const ch = new BroadcastChannel(LOG_LEVEL_CHANNEL + scope)
  ch.onmessage = (ev) => {
    const m = (ev as { data?: Partial<LogLevelMessage> }).data
    if (m?.kind !== 'level') return
    const level = m.level === null || LEVELS.includes(m.level as Level) ? m.level as Level | null : null
    const before = threshold
    overrideLogLevel(level)
    if (threshold !== before) emit(2, `log level changed to ${LEVELS[threshold]!}`)
  }
  ;(ch as unknown as { unref (): void }).unref()
  ch.postMessage({ kind: 'ask' } satisfies LogLevelMessage)
}

function emit (i: number, msg: string): void {
  if (i < threshold) return
  sink(`${new Date().toISOString()} [${LEVELS[i]}] ${tag}: ${msg}\n`)
}

export const log = {
  debug: (m: string) => emit(0, m),
  info: (m: string) => emit(1, m),
  notice: (m: string) => emit(2, m),
  warn: (m: string) => emit(3, m),
  error: (m: string) => emit(4, m),
  crit: (m: string) => emit(5, m),
  alert: (m: string) => emit(6, m),
  emerg: (m: string) => emit(7, m),
  enabled: (level: Level) => LEVELS.indexOf(level) >= threshold,
}

// ---- log targets ----

export type LogTarget =
  | { kind: 'off' }
  | { kind: 'stdout' }
  | { kind: 'stderr' }
  | { kind: 'file'; path: string }

/**
 * A Kong log path value: `off`, `/dev/stdout`, `/dev/stderr`, an absolute path, or a path
 * relative to the prefix (kong.conf: "If this value is a relative path, it will be placed under
 * the prefix location").
 */
export function resolveLogTarget (value: string, prefix: string): LogTarget {
  const v = value.trim()
  if (v === '' || v === 'off') return { kind: 'off' }
  if (v === '/dev/stdout') return { kind: 'stdout' }
  if (v === '/dev/stderr') return { kind: 'stderr' }
  return { kind: 'file', path: isAbsolute(v) ? v : join(prefix, v) }
}

export function describeTarget (t: LogTarget): string {
  return t.kind === 'file' ? t.path : t.kind === 'off' ? 'off' : `/dev/${t.kind}`
}

function openAppend (path: string): number {
  mkdirSync(dirname(path), { recursive: true })
  return openSync(path, 'a', 0o640)
}

// ---- the error log (primary thread) ----

let errorLog: { path: string; fd: number } | null = null
const originalStderrWrite = process.stderr.write.bind(process.stderr)

function writeErrorLog (text: string | Uint8Array): void {
  const e = errorLog
  if (e === null) { originalStderrWrite(text); return }
  try {
    if (typeof text === 'string') writeSync(e.fd, text)
    else writeSync(e.fd, text)
  } catch {
    originalStderrWrite(text)
  }
}

/**
 * Points the error log at `target` (a file, or stderr). For a file, this thread's
 * process.stderr is routed there too (worker threads' log lines arrive through it).
 */
export function openErrorLog (target: LogTarget): void {
  const prev = errorLog
  if (target.kind === 'file') {
    errorLog = { path: target.path, fd: openAppend(target.path) }
    sink = writeErrorLog
    process.stderr.write = ((chunk: string | Uint8Array, encOrCb?: unknown, cb?: unknown): boolean => {
      writeErrorLog(typeof chunk === 'string' || chunk instanceof Uint8Array ? chunk : String(chunk))
      const done = typeof encOrCb === 'function' ? encOrCb : cb
      if (typeof done === 'function') process.nextTick(done as () => void)
      return true
    }) as typeof process.stderr.write
  } else {
    errorLog = null
    process.stderr.write = originalStderrWrite as typeof process.stderr.write
    sink = target.kind === 'stdout' ? (line) => { process.stdout.write(line) } : (line) => { originalStderrWrite(line) }
  }
  if (prev !== null) { try { closeSync(prev.fd) } catch {} }
}

/** The error log file, or null when it is stderr. */
export function errorLogPath (): string | null { return errorLog?.path ?? null }

const REOPEN_CHANNEL = 'sluice:log-reopen'
const localReopeners = new Set<() => void>()

/** SIGUSR1: reopens the error log file and every access log of every thread (logrotate). */
export function reopenLogs (): void {
  const e = errorLog
  if (e !== null) {
    try {
      const fd = openAppend(e.path)
      const old = e.fd
      errorLog = { path: e.path, fd }
      closeSync(old)
    } catch (err) {
      log.error(`could not reopen ${e.path}: ${(err as Error).message}`)
    }
  }
  for (const fn of localReopeners) fn()
  const ch = new BroadcastChannel(REOPEN_CHANNEL)
  ch.postMessage('reopen')
  ch.close()
}

// ---- batched access log writer ----

export interface LineWriterOptions {
  flushMs?: number
  batchBytes?: number
  maxPendingBytes?: number
}

/** A non-blocking, batched, reopenable line writer (see the module comment). */
export class LineWriter {
  readonly target: LogTarget
  /** Lines dropped because the destination could not keep up. */
  dropped = 0
  /** Write errors (the batch in question is lost). */
  errors = 0
  private fd = -1
  private batch: string[] = []
  private batchBytes = 0
  private writing = false
  private closed = false
  private readonly flushMs: number
  private readonly maxBatch: number
  private readonly maxPending: number
  private readonly timer: NodeJS.Timeout
  private readonly channel: BroadcastChannel | null
  private readonly onReopen: () => void

  constructor (target: LogTarget, opts: LineWriterOptions = {}) {
    this.target = target
    this.flushMs = opts.flushMs ?? 100
    this.maxBatch = opts.batchBytes ?? 64 * 1024
    this.maxPending = opts.maxPendingBytes ?? 8 * 1024 * 1024
    if (target.kind === 'file') this.fd = openAppend(target.path)
    this.timer = setInterval(() => { this.flush() }, this.flushMs)
    this.timer.unref()
    this.onReopen = () => { this.reopen() }
    localReopeners.add(this.onReopen)
    if (target.kind === 'file') {
      const ch = new BroadcastChannel(REOPEN_CHANNEL)
      ch.onmessage = this.onReopen
      // A listening channel must not keep a thread alive.
      ;(ch as unknown as { unref (): void }).unref()
      this.channel = ch
    } else {
      this.channel = null
    }
  }

  /** Appends one line (with its newline). Never blocks; may drop under a stalled destination. */
  write (line: string): void {
    if (this.closed || this.target.kind === 'off') return
    if (this.batchBytes > this.maxPending) { this.dropped++; return }
    this.batch.push(line)
    this.batchBytes += line.length
    if (this.batchBytes >= this.maxBatch) this.flush()
  }

  /** Starts writing the current batch unless a write is in flight (it then chains). */
  flush (): void {
    if (this.writing || this.batch.length === 0) return
    const text = this.batch.length === 1 ? this.batch[0]! : this.batch.join('')
    this.batch = []
    this.batchBytes = 0
    const t = this.target
    if (t.kind === 'stdout' || t.kind === 'stderr') {
      // Node's stream handles pipes, ttys and journald sockets (and, in a worker, forwards to the main thread).
      ;(t.kind === 'stdout' ? process.stdout : process.stderr).write(text)
      return
    }
    if (this.fd < 0) { this.errors++; return }
    this.writing = true
    const buf = Buffer.from(text)
    this.writeAll(this.fd, buf, 0)
  }

  private writeAll (fd: number, buf: Buffer, off: number): void {
    fsWrite(fd, buf, off, buf.length - off, null, (err, n) => {
      if (err !== null) {
        this.errors++
        this.writing = false
        return
      }
      if (off + n < buf.length) { this.writeAll(fd, buf, off + n); return }
      this.writing = false
      if (this.batchBytes >= this.maxBatch) this.flush()
    })
  }

  /** Opens the path again (after logrotate moved the file); a write in flight finishes on the old file. */
  reopen (): void {
    if (this.target.kind !== 'file' || this.closed) return
    try {
      const fd = openAppend(this.target.path)
      const old = this.fd
      this.fd = fd
      // Close the old descriptor once writes queued on it are done.
      const closeOld = (): void => { if (this.writing) setTimeout(closeOld, 10).unref(); else try { closeSync(old) } catch {} }
      if (old >= 0) closeOld()
    } catch {
      this.errors++
    }
  }

  /** Writes what is left synchronously and closes (thread exit). */
  closeSync (): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    localReopeners.delete(this.onReopen)
    this.channel?.close()
    const text = this.batch.join('')
    this.batch = []
    this.batchBytes = 0
    const t = this.target
    if (text !== '') {
      if (t.kind === 'stdout') process.stdout.write(text)
      else if (t.kind === 'stderr') process.stderr.write(text)
      else if (this.fd >= 0) { try { writeSync(this.fd, text) } catch { this.errors++ } }
    }
    if (this.fd >= 0) {
      const fd = this.fd
      this.fd = -1
      // A write still in flight holds the descriptor; close after it.
      const closeFd = (): void => { if (this.writing) setTimeout(closeFd, 10).unref(); else try { closeSync(fd) } catch {} }
      closeFd()
    }
  }
}

// ---- access log formatting (nginx) ----

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
let lastSecond = -1
let lastTimeLocal = ''

function two (n: number): string { return n < 10 ? `0${n}` : String(n) }

/** nginx $time_local: `10/Oct/2000:13:55:36 -0700`, computed once per second. */
export function timeLocal (nowMs: number): string {
  const sec = Math.floor(nowMs / 1000)
  if (sec === lastSecond) return lastTimeLocal
  lastSecond = sec
  const d = new Date(sec * 1000)
  const off = -d.getTimezoneOffset()
  const sign = off >= 0 ? '+' : '-'
  const a = Math.abs(off)
  lastTimeLocal = `${two(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${sign}${two(Math.floor(a / 60))}${two(a % 60)}`
  return lastTimeLocal
}


function hex (b: number): string { return `\\x${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}` }

export function escapeNginx (s: string): string {
  let i = 0
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c >= 0x7f || c === 34 || c === 92) break
  }
  if (i === s.length) return s
  let out = s.slice(0, i)
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f || c === 34 || c === 92) out += hex(c)
    else if (c > 0x7f) {
      const cp = s.codePointAt(i)!
      const ch = String.fromCodePoint(cp)
      for (const b of Buffer.from(ch)) out += hex(b)
      i += ch.length - 1
    } else out += s[i]
  }
  return out
}

// ---- proxy_access_log ----

export type AccessLogFormat = 'combined' | 'json'

export interface AccessLogSetting { target: LogTarget; format: AccessLogFormat }

/**
 * `proxy_access_log` (and `status_access_log`): `off`, or a destination optionally followed by
 * its format, as nginx's `access_log path [format]` that Kong passes through
 * (`proxy_stream_access_log = logs/access.log basic`). Formats: `combined` (nginx's default) and
 * `json`. Throws with a message naming the key on anything else.
 */
export function parseAccessLog (key: string, value: string, prefix: string): AccessLogSetting {
  const parts = value.trim().split(/\s+/).filter((p) => p !== '')
  if (parts.length === 0 || parts[0] === 'off') return { target: { kind: 'off' }, format: 'combined' }
  if (parts.length > 2) throw new Error(`${key}: expected 'path [combined|json]' or 'off'; got '${value}'`)
  const format = parts[1] ?? 'combined'
  if (format !== 'combined' && format !== 'json') {
    throw new Error(`${key}: unknown log format '${format}' (Sluice writes 'combined' or 'json'; nginx_http_log_format is not supported)`)
  }
  return { target: resolveLogTarget(parts[0]!, prefix), format }
}
