/**
 * Key files for uWS. uWS (uSockets) takes certificates and keys only as file names and reads them
 * once, synchronously, while it builds the SSL context (SSLApp(), addServerName()); after that the
 * file is never read again. So a worker writes each key + certificate chain to a file of its own,
 * makes the uWS calls that read it, and removes it before it returns: a private key is on disk only
 * for the length of one synchronous call, and a deleted certificate has nothing left to clean up.
 *
 * Why each worker writes its own files (and not the primary, once per snapshot): no coordination
 * is needed. The names are private to one thread (`<pid>-<threadId>-<n>.pem`), so no worker can
 * remove or replace a file another is about to read, the primary never has to know when every
 * worker has stopped needing a file, and no message carries paths. The cost is one small write
 * per certificate per worker when the TLS configuration changes, never on the request path.
 *
 * Files are created with O_EXCL and mode 0600 in `<prefix>/ssl/run` (0700). Files a crashed
 * process left behind (another pid that is no longer running) are removed when a worker starts.
 */
import { chmodSync, mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { threadId } from 'node:worker_threads'
import { tlsRunDir } from '../common/tls-paths.ts'

let seq = 0

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Creates `<prefix>/ssl/run` (0700) and removes what dead processes left in it. Returns its path. */
export function prepareRunDir (prefix: string): string {
  const dir = tlsRunDir(prefix)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  for (const name of readdirSync(dir)) {
    const pid = Number(name.slice(0, name.indexOf('-')))
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue
    try { unlinkSync(join(dir, name)) } catch {}
  }
  return dir
}

/** The files of one `withPemFiles` call: `path(pem)` writes a PEM once and returns its name. */
export interface PemFiles {
  path (pem: string): string
}

/**
 * Runs `fn` with a writer of private PEM files (0600, O_EXCL, thread-private names) and removes
 * every file it wrote when `fn` returns or throws. `fn` must use the files synchronously.
 */
export function withPemFiles<T> (dir: string, fn: (files: PemFiles) => T): T {
  const written = new Map<string, string>()
  const files: PemFiles = {
    path (pem) {
      let p = written.get(pem)
      if (p === undefined) {
        p = join(dir, `${process.pid}-${threadId}-${++seq}.pem`)
        writeFileSync(p, pem, { mode: 0o600, flag: 'wx' })
        written.set(pem, p)
      }
      return p
    },
  }
  try {
    return fn(files)
  } finally {
    for (const p of written.values()) {
      try { unlinkSync(p) } catch {}
    }
  }
}
