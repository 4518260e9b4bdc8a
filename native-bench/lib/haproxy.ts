/**
 * haproxy in HTTP mode in front of the upstream: `nbthread` = the worker count of the others,
 * keep-alive on both sides and `http-reuse always` (idle server connections shared by all client
 * connections, the nearest thing to nginx's upstream keepalive pool), no logging. Foreground (-db).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { freePort } from '../../test/helpers/ports.ts'
import { findSbin, say, waitHttpOrExit, type Procs } from '../../autocannon/lib/servers.ts'

export interface Haproxy { child: ChildProcess; url: string; version: string }

export async function startHaproxy (procs: Procs, o: { upstreamPort: number; threads: number }): Promise<Haproxy | { skipped: string }> {
  const bin = findSbin('haproxy')
  if (bin === null) {
    say('haproxy: not installed (apt-get install haproxy); skipping the haproxy baseline')
    return { skipped: 'not installed (apt-get install haproxy)' }
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-haproxy-'))
  procs.onStop(() => { rmSync(dir, { recursive: true, force: true }) })
  const cfg = join(dir, 'haproxy.cfg')
  writeFileSync(cfg, `
global
  nbthread ${o.threads}
  # 4096 connections need about 8200 descriptors: within ulimit -n 20000.
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 60s

frontend fe
  bind 127.0.0.1:${port}
  default_backend up

backend up
  server up1 127.0.0.1:${o.upstreamPort}
`)
  const child = procs.add(spawn(bin, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'inherit'] }))
  try {
    await waitHttpOrExit(child, 'haproxy', `http://127.0.0.1:${port}/`, 20_000)
  } catch (err) {
    say(`haproxy: ${(err as Error).message}; skipping the haproxy baseline`)
    child.kill('SIGTERM')
    return { skipped: (err as Error).message }
  }
  const first = execFileSync(bin, ['-v']).toString().split('\n')[0] ?? '?'
  const version = /^HAProxy version \S+/.exec(first)?.[0] ?? first.trim()
  return { child, url: `http://127.0.0.1:${port}/`, version }
}
