/**
 * `sluice health`: reports each part (primary process, readiness, each worker, database) and exits
 * non-zero when any is down. Readiness comes from the Status API's /status/ready when
 * status_listen is on (what load balancers probe); workers and database from /status there, else
 * from the Admin API's /status.
 *
 * `--wait SECONDS`: polls until the node is healthy or the time is up (scripts that start and
 * then use the node). `--ready`: healthy means serving (ready, every worker up) even while the
 * database is unreachable, as a node serving its saved configuration through an outage is:
 * systemd's ExecStartPost readiness check uses `health --ready --wait`.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import type { Config } from '../config/load.ts'
import { flag, seconds, type Parsed } from './args.ts'
import { adminUrl, nodeConfigFrom, runningPid, statusUrl } from './common.ts'

interface StatusBody { database?: { reachable?: boolean }; sluice?: { workers?: Array<{ id: number; state: string; snapshot_version: number }> } }

interface Report { ok: boolean; lines: Array<[string, string]>; error: string | null }

async function getJson (url: string): Promise<{ status: number; body: unknown }> {
  const r = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 })
  const text = await r.body.text()
  let body: unknown = null
  try { body = JSON.parse(text) } catch {}
  return { status: r.statusCode, body }
}

async function inspect (config: Config, readyOnly: boolean): Promise<Report> {
  const lines: Array<[string, string]> = []
  const pid = runningPid(config)
  if (pid === null) return { ok: false, lines, error: `Sluice is not running at ${config.prefix}` }
  lines.push(['primary', `running (pid ${pid})`])
  const status = statusUrl(config)
  const admin = adminUrl(config)
  let ok = true
  if (status !== null) {
    try {
      const r = await getJson(`${status}/status/ready`)
      const message = (r.body as { message?: string } | null)?.message ?? ''
      lines.push(['ready', r.status === 200 ? 'yes' : `no (${r.status}: ${message})`])
      if (r.status !== 200) ok = false
    } catch (err) {
      return { ok: false, lines, error: `the Status API at ${status} does not answer: ${(err as Error).message}` }
    }
  }
  const base = status ?? admin
  if (base === null) return { ok: false, lines, error: 'admin_listen and status_listen are both off; cannot query the node' }
  let body: StatusBody
  try {
    body = (await getJson(`${base}/status`)).body as StatusBody
  } catch (err) {
    return { ok: false, lines, error: `${base}/status does not answer: ${(err as Error).message}` }
  }
  const workers = body.sluice?.workers ?? []
  if (workers.length < config.workers) {
    ok = false
    lines.push(['workers', `${workers.length} of ${config.workers} configured`])
  }
  for (const w of workers) {
    lines.push([`worker ${w.id}`, w.state === 'serving' ? `running (snapshot ${w.snapshot_version})` : w.state])
    if (w.state !== 'serving') ok = false
  }
  const db = body.database?.reachable === true
  lines.push(['database', db ? 'reachable' : 'unreachable'])
  if (!db && !readyOnly) ok = false
  return { ok, lines, error: null }
}

export async function health (p: Parsed): Promise<number> {
  const waitMs = seconds(p, ['wait'], 0) * 1000
  let config = nodeConfigFrom(p)
  const readyOnly = flag(p, 'ready') !== undefined
  const deadline = Date.now() + waitMs
  let report = await inspect(config, readyOnly)
  while (!report.ok && Date.now() < deadline) {
    await sleep(250)
    // A node starting now writes <prefix>/.kong_env with its ports: read it again.
    config = nodeConfigFrom(p)
    report = await inspect(config, readyOnly)
  }
  for (const [name, state] of report.lines) process.stdout.write(`${name.padEnd(20, '.')}${state}\n`)
  if (report.error !== null) {
    process.stderr.write(`Error: ${report.error}\n`)
    return 1
  }
  if (report.ok) process.stdout.write(`Sluice is healthy at ${config.prefix}\n`)
  else process.stderr.write(`Error: Sluice at ${config.prefix} is not healthy\n`)
  return report.ok ? 0 : 1
}
