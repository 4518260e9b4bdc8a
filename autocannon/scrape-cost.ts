/**
 * Does scraping /metrics slow the proxy? Scenario (a) (one route, 2 workers) with and without a
 * Prometheus-style scrape of the status listener every second, in interleaved rounds (the order
 * alternates per round); medians of per-round ratios go to BENCHMARKS.md.
 *
 *   node --import tsx autocannon/scrape-cost.ts [--rounds 5] [--duration 5]     writes BENCHMARKS.md
 *   node --import tsx autocannon/scrape-cost.ts --quick                         1 round x 3 s, no file
 */
import { join } from 'node:path'
import { cpus } from 'node:os'
import autocannon from 'autocannon'
import { request } from 'undici'
import { freePort } from '../test/helpers/ports.ts'
import { Procs, ROOT, say, startSluice, startUpstream } from './lib/servers.ts'
import { writeSection } from './lib/report.ts'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: number): number => { const i = argv.indexOf(`--${name}`); return i >= 0 ? Number(argv[i + 1]) : dflt }
const quick = argv.includes('--quick')
const rounds = quick ? 1 : opt('rounds', 5)
const duration = quick ? 3 : opt('duration', 5)
const procs = new Procs()

function load (url: string): Promise<{ rps: number; p99: number }> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: 100, duration }, (err, r) => {
      if (err !== null && err !== undefined) { reject(err); return }
      resolve({ rps: r.requests.average, p99: r.latency.p99 })
    })
  })
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2 }

async function main (): Promise<void> {
  const { port: upstreamPort } = await startUpstream(procs)
  const statusPort = await freePort()
  const { proxyPort } = await startSluice(procs, { workers: 2, upstreamPort, statusPort })
  const url = `http://127.0.0.1:${proxyPort}/hello`
  const metrics = `http://127.0.0.1:${statusPort}/metrics`
  await load(url) // warm-up
  const ratios: number[] = []
  const plain: number[] = []
  const scraped: number[] = []
  let scrapes = 0
  let bytes = 0
  for (let r = 0; r < rounds; r++) {
    const run = async (scrape: boolean): Promise<number> => {
      let timer: NodeJS.Timeout | null = null
      if (scrape) {
        timer = setInterval(() => {
          request(metrics).then(async (res) => { bytes = (await res.body.text()).length; scrapes++ }, () => {})
        }, 1000)
      }
      try { return (await load(url)).rps } finally { if (timer !== null) clearInterval(timer) }
    }
    const first = r % 2 === 0
    const a = await run(!first)
    const b = await run(first)
    const withScrape = first ? b : a
    const without = first ? a : b
    plain.push(without)
    scraped.push(withScrape)
    ratios.push(withScrape / without)
    say(`round ${r + 1}/${rounds}: no scrape ${Math.round(without)} req/s, scrape every 1 s ${Math.round(withScrape)} req/s (${(withScrape / without).toFixed(3)})`)
  }
  const line = `| ${Math.round(median(plain))} | ${Math.round(median(scraped))} | ${median(ratios).toFixed(3)} | ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)} | ${scrapes} | ${bytes} |`
  say(line)
  if (quick) return
  writeSection(join(ROOT, 'BENCHMARKS.md'), 'autocannon/scrape-cost', [
    '## Scraping /metrics every second under load (autocannon/scrape-cost.ts)',
    '',
    `Run on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs shared by autocannon, the upstream and Sluice (2 workers); one route;`,
    `${rounds} interleaved rounds of ${duration} s (order alternating), medians of per-round ratios.`,
    '',
    '| req/s without | req/s with a scrape every 1 s | ratio (median) | ratio range | scrapes | /metrics bytes |',
    '| --- | --- | --- | --- | --- | --- |',
    line,
  ].join('\n'), '# Benchmarks\n')
  say('BENCHMARKS.md updated')
}

try { await main() } finally { await procs.stopAll() }
