/**
 * file-log's writer: one sink per path per worker (Kong keeps one descriptor per path per nginx
 * worker). The request only appends a line to the sink's pending batch; the batch is written on
 * the next turn of the event loop with one asynchronous append, so a slow disk never blocks a
 * request:
 *
 *   idle --line--> scheduled --setImmediate--> writing --done--> idle (or writing the next batch)
 *                                                 | open failed: logged, the batch is lost
 *
 * - The file is opened O_WRONLY|O_CREAT|O_APPEND, mode 0644, and never created with its
 *   directory (Kong: "does not create log file if directory doesn't exist").
 * - `reopen = true`: the descriptor is closed and the path opened again before each batch that
 *   holds a line of such an instance (Kong reopens before each write), so a rotated or deleted
 *   file is recreated; with `reopen = false` the descriptor stays, and lines written after the
 *   file was deleted are lost, as in Kong.
 * - Failures are logged as Kong logs them (`[file-log] failed to open the file: <reason>`) and
 *   never thrown. If writes stall, at most MAX_PENDING bytes wait; newer lines are dropped and
 *   counted, with one error line per episode.
 */
import { close, open, write } from 'node:fs'
import { log } from '../../common/log.ts'

const MAX_PENDING = 16 * 1024 * 1024

/** glibc strerror() texts where libuv words them differently. */
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EISDIR: 'Is a directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
  ENOSPC: 'No space left on device',
  EMFILE: 'Too many open files',
}

/** Kong prints strerror(): "No such file or directory" rather than node's "ENOENT: no such file or directory, open '...'". */
export function strerror (err: NodeJS.ErrnoException): string {
  const known = err.code !== undefined ? STRERROR[err.code] : undefined
  if (known !== undefined) return known
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(err.message)
  const text = m !== null ? m[1]! : err.message
  return text.charAt(0).toUpperCase() + text.slice(1)
}

export class FileSink {
  readonly path: string
  #fd = -1
  #pending: string[] = []
  #pendingBytes = 0
  #reopen = false
  #scheduled = false
  #writing = false
  #dropping = false
  #idle: Array<() => void> = []
  dropped = 0

  constructor (path: string) {
    this.path = path
  }

  get idle (): boolean { return !this.#writing && !this.#scheduled && this.#pending.length === 0 }

  /** Appends one line (with its newline). Never blocks, never throws. */
  write (line: string, reopen: boolean): void {
    if (this.#pendingBytes > MAX_PENDING) {
      this.dropped++
      if (!this.#dropping) log.error(`[file-log] writes to ${this.path} cannot keep up: dropping log lines`)
      this.#dropping = true
      return
    }
    this.#pending.push(line)
    this.#pendingBytes += line.length
    if (reopen) this.#reopen = true
    this.#schedule()
  }

  /** Resolves once everything written so far reached the file (or failed). */
  flush (): Promise<void> {
    if (this.idle) return Promise.resolve()
    return new Promise((resolve) => { this.#idle.push(resolve) })
  }

  #schedule (): void {
    if (this.#scheduled || this.#writing) return
    this.#scheduled = true
    setImmediate(() => { this.#start() })
  }

  #start (): void {
    this.#scheduled = false
    if (this.#pending.length === 0) { this.#settle(); return }
    this.#writing = true
    const buf = Buffer.from(this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join(''))
    this.#pending = []
    this.#pendingBytes = 0
    this.#dropping = false
    const reopen = this.#reopen
    this.#reopen = false
    if (reopen && this.#fd >= 0) {
      const old = this.#fd
      this.#fd = -1
      close(old, () => { this.#open(buf) })
    } else if (this.#fd < 0) {
      this.#open(buf)
    } else {
      this.#writeAll(buf, 0)
    }
  }

  #open (buf: Buffer): void {
    open(this.path, 'a', 0o644, (err, fd) => {
      if (err !== null) {
        log.error(`[file-log] failed to open the file: ${strerror(err)} (${this.path})`)
        this.#done()
        return
      }
      this.#fd = fd
      this.#writeAll(buf, 0)
    })
  }

  #writeAll (buf: Buffer, off: number): void {
    write(this.#fd, buf, off, buf.length - off, null, (err, n) => {
      if (err !== null) {
        log.error(`[file-log] failed to write to the file: ${strerror(err)} (${this.path})`)
        this.#done()
        return
      }
      if (off + n < buf.length) { this.#writeAll(buf, off + n); return }
      this.#done()
    })
  }

  #done (): void {
    this.#writing = false
    if (this.#pending.length > 0) this.#schedule()
    else this.#settle()
  }

  #settle (): void {
    if (!this.idle || this.#idle.length === 0) return
    const w = this.#idle
    this.#idle = []
    for (const f of w) f()
  }
}

const sinks = new Map<string, FileSink>()

/** The worker's sink for `path`. */
export function sinkFor (path: string): FileSink {
  let s = sinks.get(path)
  if (s === undefined) {
    s = new FileSink(path)
    sinks.set(path, s)
  }
  return s
}

/** Waits until every sink wrote what it holds, at most `timeoutMs` (worker shutdown). */
export async function flushFileSinks (timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); timer.unref() })
  await Promise.race([Promise.all([...sinks.values()].map((s) => s.flush())), deadline])
  clearTimeout(timer)
}
