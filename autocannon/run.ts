/**
 * `npm run bench`: scenario (a) of the performance issue, one route and no plugins. The same
 * upstream is driven directly, through Sluice and (when installed) through nginx `proxy_pass`
 * with the same worker count, in interleaved rounds; medians and ratios go to BENCHMARKS.md.
 *
 *   npm run bench                     3 rounds x 10 s per target
 *   npm run bench -- --quick          1 round x 3 s (a smoke run by hand; does not write BENCHMARKS.md)
 *   npm run bench -- --rounds 5 --duration 20 --connections 100
 *
 * Every server is its own process; the load generator (autocannon) runs in this one. Only
 * loopback addresses are used, and every run stops by itself.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeSection } from './lib/report.ts'
import { join } from 'node:path'
import { cpus, totalmem, release } from 'node:os'
import autocannon from 'autocannon'
import { SLUICE_VERSION } from '../src/common/meta.ts'
import { Procs, ROOT as root, median, say, startNginx, startSluice, startUpstream } from './lib/servers.ts'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? Number(argv[i + 1]) : dflt
}
const quick = argv.includes('--quick')
const rounds = quick ? 1 : opt('rounds', 3)
const duration = quick ? 3 : opt('duration', 10)
const connections = opt('connections', 100)
const workers = opt('workers', 2)

interface Result { rps: number; p50: number; p99: number; errors: number }
const procs = new Procs()

function load (url: string, secs: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: secs, pipelining: 1 }, (err, r) => {
      if (err !== null && err !== undefined) { reject(err); return }
      resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx })
    })
  })
}

async function main (): Promise<void> {
  const { port: upstreamPort } = await startUpstream(procs)
  const { proxyPort } = await startSluice(procs, { workers, upstreamPort })

  const targets: Array<[string, string]> = [
    ['direct upstream', `http://127.0.0.1:${upstreamPort}/hello`],
    [`sluice (${workers} workers)`, `http://127.0.0.1:${proxyPort}/hello`],
  ]
  const nginx = await startNginx(procs, { upstreamPort, workers })
  if (nginx !== null) targets.push([`nginx proxy_pass (${workers} workers)`, nginx.url + 'hello'])

  const results = new Map<string, Result[]>(targets.map(([n]) => [n, []]))
  for (const [, url] of targets) await load(url, 1) // warm-up: JIT, keep-alive pools
  for (let r = 1; r <= rounds; r++) {
    for (const [name, url] of targets) {
      const res = await load(url, duration)
      results.get(name)!.push(res)
      say(`round ${r}/${rounds} ${name}: ${Math.round(res.rps)} req/s, p50 ${res.p50} ms, p99 ${res.p99} ms, errors ${res.errors}`)
    }
  }

  const med = (name: string): Result => {
    const rs = results.get(name)!
    return { rps: median(rs.map((x) => x.rps)), p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)), errors: rs.reduce((a, x) => a + x.errors, 0) }
  }
  const direct = med(targets[0]![0])
  const rows = targets.map(([name]) => {
    const m = med(name)
    return `| ${name} | ${Math.round(m.rps)} | ${m.p50} | ${m.p99} | ${(m.rps / direct.rps).toFixed(2)}x | ${nginx !== null ? (m.rps / med(targets[2]![0]).rps).toFixed(2) + 'x' : 'n/a'} | ${m.errors} |`
  })
  const table = ['| target | req/s (median) | p50 ms | p99 ms | vs direct | vs nginx | errors |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n')
  say('\n' + table)
  if (quick) { say('\n(--quick: BENCHMARKS.md not written)'); return }

  const versions = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }
  const v = (p: string): string => versions.packages[`node_modules/${p}`]?.version ?? '?'
  const nginxVersion = nginx !== null ? execFileSync('sh', ['-c', `${nginx.bin} -v 2>&1`]).toString().trim() : 'not installed'
  const md = `## Scenario (a): one route, no plugins (npm run bench: autocannon/run.ts)

Run on ${new Date().toISOString().slice(0, 10)}.
- CPU: ${cpus()[0]?.model ?? '?'} x ${cpus().length}, memory ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}
- Node ${process.versions.node}; Sluice ${SLUICE_VERSION}; uWebSockets.js ${v('uWebSockets.js')}; undici ${v('undici')}; autocannon ${v('autocannon')}; ${nginxVersion}
- Load: autocannon in the benchmark process, ${connections} connections, pipelining 1, ${duration} s per target per round,
  ${rounds} interleaved rounds (medians shown); upstream: uWebSockets.js, 13-byte body, own process; Sluice: ${workers} worker
  threads, its own process; PostgreSQL holds the config. Everything shares the same ${cpus().length} cores, so absolute numbers
  are low and noisy: read the ratios.

${table}
`
  writeSection(join(root, 'BENCHMARKS.md'), 'autocannon/run', md, '# Benchmarks\n\nEach section is written by the script it names; do not edit by hand.\n')
  say('\nwrote BENCHMARKS.md')
}

try {
  await main()
} finally {
  await procs.stopAll()
}
