/**
 * Acting on a running node through its pid file:
 *   stop     SIGTERM: drain (up to drain_timeout), stop; SIGKILL if it is still there 15 s later
 *   quit     Kong's `kong quit [-t 10] [-w 0]`: /status/ready -> 503 draining, wait -w seconds so
 *            load balancers notice while requests are still served, SIGQUIT (graceful stop); after
 *            -t seconds SIGTERM cuts what is left; SIGKILL as the last resort
 *   drain    Kong's `kong drain`: /status/ready answers 503 from now on; traffic keeps flowing
 *   reopen   SIGUSR1: reopen the logs (logrotate's postrotate)
 */
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import type { Config } from '../config/load.ts'
import { seconds, type Parsed } from './args.ts'
import { nodeConfigFrom, runningPid, statusUrl } from './common.ts'

function notRunning (config: Config): number {
  process.stderr.write(existsSync(config.prefix) ? `Error: Sluice is not running at ${config.prefix}\n` : `Error: no such prefix: ${config.prefix}\n`)
  return 1
}

/** Polling is the only portable way to learn that an unrelated process has exited. */
async function exited (pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    try { process.kill(pid, 0) } catch { return true }
    if (Date.now() >= deadline) return false
    await sleep(50)
  }
}

export async function stop (p: Parsed): Promise<number> {
  const config = nodeConfigFrom(p)
  const t = seconds(p, ['t', 'timeout'], (config.drainTimeoutMs + 15_000) / 1000)
  const pid = runningPid(config)
  if (pid === null) return notRunning(config)
  process.kill(pid, 'SIGTERM')
  if (await exited(pid, t * 1000)) { process.stdout.write('Sluice stopped\n'); return 0 }
  process.kill(pid, 'SIGKILL')
  process.stderr.write(`Sluice did not stop in time; killed pid ${pid}\n`)
  return 1
}

/** POST /status/ready status=draining (Kong's `kong drain`); false when there is no Status API. */
async function postDrain (config: Config): Promise<boolean> {
  const url = statusUrl(config)
  if (url === null) return false
  const r = await request(`${url}/status/ready`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'status=draining',
    headersTimeout: 5000,
    bodyTimeout: 5000,
  })
  await r.body.dump()
  return r.statusCode === 204
}

export async function drain (p: Parsed): Promise<number> {
  const config = nodeConfigFrom(p)
  if (runningPid(config) === null) return notRunning(config)
  try {
    if (!(await postDrain(config))) {
      process.stderr.write('Error: status_listen is off: there is no readiness endpoint to drain\n')
      return 1
    }
  } catch (err) {
    process.stderr.write(`Error: the Status API does not answer: ${(err as Error).message}\n`)
    return 1
  }
  process.stdout.write('Sluice is draining: /status/ready answers 503; traffic is still served\n')
  return 0
}

export async function quit (p: Parsed): Promise<number> {
  const config = nodeConfigFrom(p)
  const timeout = seconds(p, ['t', 'timeout'], 10)
  const wait = seconds(p, ['w', 'wait'], 0)
  const pid = runningPid(config)
  if (pid === null) return notRunning(config)
  if (wait > 0) {
    try {
      if (await postDrain(config)) process.stdout.write(`Draining: waiting ${wait} s before quitting\n`)
    } catch { /* the node still quits */ }
    await sleep(wait * 1000)
  }
  process.kill(pid, 'SIGQUIT')
  if (await exited(pid, timeout * 1000)) { process.stdout.write('Sluice stopped\n'); return 0 }
  process.stderr.write(`Sluice did not finish within ${timeout} s: sending SIGTERM\n`)
  try { process.kill(pid, 'SIGTERM') } catch {}
  if (await exited(pid, 10_000)) { process.stdout.write('Sluice stopped\n'); return 0 }
  try { process.kill(pid, 'SIGKILL') } catch {}
  process.stderr.write(`Sluice did not stop; killed pid ${pid}\n`)
  return 1
}

export function reopen (p: Parsed): number {
  const config = nodeConfigFrom(p)
  const pid = runningPid(config)
  if (pid === null) return notRunning(config)
  process.kill(pid, 'SIGUSR1')
  process.stdout.write('Logs reopened\n')
  return 0
}
