/**
 * Propagation: with 3 nodes (2 workers each) on one PostgreSQL, the time from an Admin API write's
 * 2xx on one node to every node serving the change, measured through the proxies: a new route per
 * write, each node probed with requests on fresh connections until it has answered 200 four times
 * in a row (with SO_REUSEPORT that reaches both of its workers with high probability; the worker
 * acks of the version are also awaited). Repeated with 10,000 routes configured.
 *
 *   node --import tsx autocannon/propagation.ts            5 rounds of 50 writes per size, writes BENCHMARKS.md
 *   node --import tsx autocannon/propagation.ts --quick    1 round of 10 writes, 0 routes only, no file written
 *   --rounds N, --writes N, --no-write                     other counts; print only
 *
 * Percentiles are taken per round; the table shows the median of each over the rounds (one
 * busy moment on a shared machine moves one round, not the figure).
 */
import { createServer } from 'node:http'
import { join } from 'node:path'
import { request, Agent } from 'undici'
import { createTestDb } from '../test/helpers/pg.ts'
import { startGateway, type Gateway } from '../test/helpers/gateway.ts'
import { writeSection } from './lib/report.ts'

const quick = process.argv.includes('--quick')
const num = (name: string, dflt: number): number => { const i = process.argv.indexOf(name); return i >= 0 ? Number(process.argv[i + 1]) : dflt }
const writes = num('--writes', quick ? 10 : 50)
const rounds = num('--rounds', quick ? 1 : 5)
const noWrite = quick || process.argv.includes('--no-write')
const ROOT = new URL('..', import.meta.url).pathname
const fresh = new Agent({ pipelining: 0, keepAliveTimeout: 1, connections: 64 })
const say = (m: string): void => { process.stdout.write(m + '\n') }

function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

async function servedBy (gw: Gateway, path: string, t0: number): Promise<number> {
  let streak = 0
  for (;;) {
    const r = await request(gw.proxy + path, { dispatcher: fresh, reset: true })
    await r.body.dump()
    streak = r.statusCode === 200 ? streak + 1 : 0
    if (streak >= 4) return performance.now() - t0
    if (performance.now() - t0 > 10_000) throw new Error(`${path} not served by ${gw.proxy} after 10 s`)
  }
}

async function main (): Promise<void> {
  const upstream = createServer((_q, s) => { s.end('ok') })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const port = (upstream.address() as { port: number }).port
  const db = await createTestDb()
  const nodes: Gateway[] = []
  const rows: string[] = []
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startGateway(db.settings, { db_update_frequency: '5' }))
    const a = nodes[0]!
    const post = async (path: string, body: unknown): Promise<void> => {
      const r = await request(a.admin + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      if (r.statusCode !== 201) throw new Error(`${path}: ${r.statusCode} ${await r.body.text()}`)
      await r.body.dump()
    }
    await post('/services', { name: 'p', url: `http://127.0.0.1:${port}` })
    for (const size of quick ? [0] : [0, 10_000]) {
      if (size > 0) {
        // Bulk routes straight into the database, then one `reload` event: every node reloads.
        await db.pool.query(`insert into routes (id, name, service_id, protocols, paths, strip_path, preserve_host, regex_priority,
            https_redirect_status_code, path_handling, request_buffering, response_buffering, created_at, updated_at)
          select gen_random_uuid(), 'bulk-' || g, (select id from services where name = 'p'), '{http,https}', array['/bulk/' || g],
            true, false, 0, 426, 'v0', true, true, now(), now()
          from generate_series(1, $1) g`, [size])
        await db.pool.query("insert into cluster_events (channel, data) values ('reload', null)")
        for (const n of nodes) await servedBy(n, `/bulk/${size}`, performance.now())
      }
      const per: number[][] = [[], [], [], []]
      for (let round = 0; round < rounds; round++) {
        const times: number[] = []
        for (let w = 0; w < writes; w++) {
          const path = `/prop-${size}-${round}-${w}`
          await post('/services/p/routes', { paths: [path] })
          const t0 = performance.now()
          const each = await Promise.all(nodes.map((n) => servedBy(n, path, t0)))
          for (const n of nodes) await n.primary.supervisor.waitForVersion(n.primary.version())
          times.push(Math.max(...each))
        }
        const r = [pct(times, 50), pct(times, 95), pct(times, 99), Math.max(...times)]
        say(`  ${size} routes, round ${round + 1}: p50 ${r[0]!.toFixed(1)} p95 ${r[1]!.toFixed(1)} p99 ${r[2]!.toFixed(1)} max ${r[3]!.toFixed(1)} ms`)
        r.forEach((v, i) => per[i]!.push(v))
      }
      const med = per.map((xs) => pct(xs, 50).toFixed(1))
      const line = `| ${size} | ${rounds} x ${writes} | ${med.join(' | ')} |`
      say(line)
      rows.push(line)
    }
  } finally {
    for (const n of nodes) await n.stop()
    await db.drop()
    upstream.close()
    await fresh.close()
  }
  if (noWrite) return
  writeSection(join(ROOT, 'BENCHMARKS.md'), 'autocannon/propagation', [
    '## Propagation: Admin API write to every node serving it',
    '',
    `3 nodes x 2 workers on one PostgreSQL, loopback; \`node --import tsx autocannon/propagation.ts\` (${new Date().toISOString().slice(0, 10)}).`,
    'Time from the write\'s 201 on node 1 until all three nodes\' proxies answer the new route (4 consecutive 200s each on fresh',
    'connections; the next write waits until every worker acknowledged the version). Percentiles per round of writes, median over the rounds.',
    'Kong\'s default is up to db_update_frequency + worker_state_update_frequency (5 s + 5 s).',
    '',
    '| routes configured | rounds x writes | p50 ms | p95 ms | p99 ms | max ms |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n'), '# Benchmarks\n')
  say('BENCHMARKS.md updated')
}

await main()
