/**
 * `npm run bench`: the benchmark suite of the performance issue, one script after another, each in
 * its own process (each starts and stops its own servers and databases):
 *
 *   1. autocannon/scenarios.ts    scenarios (a)-(g), p99 at half of nginx's peak, 1 vs 2 workers,
 *                                 memory per worker, upstream_transport net vs undici (issue 11)
 *   2. autocannon/profile.ts      a CPU profile of the workers under scenario (a)
 *   2b. autocannon/cpu-scenarios.ts  scenarios (a)-(e) under wrk: req/s and CPU per request, with
 *                                 the bare uWS + undici proxy and nginx beside (a)
 *   3. native-bench/run.ts        scenario (a) under wrk beside nginx, haproxy and the bare stack
 *   4. native-bench/micro/run-all.ts  micro-benchmarks (router match, snapshot, header copy)
 *
 *   npm run bench                    the whole suite (about 20 minutes on a busy 2-CPU machine), writes BENCHMARKS.md
 *   npm run bench -- --quick         every script in its smoke mode (about 2 minutes), writes nothing
 *   npm run bench -- --only scenarios,native   a subset (scenarios, profile, cpu, native, micro)
 *
 * The other scripts in this folder (ratelimit, plugin-cost, import-100k, scrape-cost, propagation)
 * measure one feature each and are run by hand. Everything listens on 127.0.0.1 and every load is
 * fixed-time; a missing tool (nginx, wrk, haproxy, taskset) is skipped with a message by the script
 * that needs it. Nothing here runs in `npm test`.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import { ROOT, say } from './lib/servers.ts'
import { writeSection } from './lib/report.ts'
import { readFileSync, existsSync } from 'node:fs'

const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const onlyIdx = argv.indexOf('--only')
const only = onlyIdx >= 0 ? new Set(argv[onlyIdx + 1]!.split(',')) : null

const steps: Array<{ id: string; script: string; args: string[]; nodeArgs?: string[] }> = [
  { id: 'scenarios', script: 'autocannon/scenarios.ts', args: quick ? ['--quick'] : [] },
  { id: 'profile', script: 'autocannon/profile.ts', args: quick ? ['--quick'] : [] },
  { id: 'cpu', script: 'autocannon/cpu-scenarios.ts', args: quick ? ['--rounds', '1', '--duration', '1', '--scenarios', 'a,c'] : ['--baselines', '--rounds', '5', '--duration', '4', '--write'] },
  // The shared-machine guard of native-bench waits for a quiet machine; bounded here so that the suite ends.
  { id: 'native', script: 'native-bench/run.ts', args: quick ? ['--quick', '--duration', '2', '--max-wait', '3'] : ['--pin', '--duration', '5', '--max-wait', '90', '--retries', '1'] },
  { id: 'micro', script: 'native-bench/micro/run-all.ts', args: quick ? ['--quick'] : [], nodeArgs: ['--expose-gc'] },
]

function runStep (script: string, args: string[], nodeArgs: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, script), ...args], { stdio: 'inherit', cwd: ROOT })
    const stop = (): void => { child.kill('SIGTERM') }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    child.once('exit', (code, signal) => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve(code ?? (signal !== null ? 128 : 1))
    })
  })
}

const t0 = Date.now()
const outcomes: string[] = []
for (const s of steps) {
  if (only !== null && !only.has(s.id)) continue
  const t = Date.now()
  say(`\n=== ${s.script} ${s.args.join(' ')} (load average ${loadavg()[0]!.toFixed(1)})`)
  const code = await runStep(s.script, s.args, s.nodeArgs ?? [])
  const line = `${s.script}: ${code === 0 ? 'done' : `failed (exit ${code})`} in ${((Date.now() - t) / 1000).toFixed(0)} s`
  outcomes.push(line)
  say(`=== ${line}`)
}
say(`\nnpm run bench: ${((Date.now() - t0) / 60_000).toFixed(1)} min\n${outcomes.map((l) => `  ${l}`).join('\n')}`)

// native-bench writes its own file; its wrk table is also copied into BENCHMARKS.md.
if (!quick && (only === null || only.has('native'))) {
  const file = join(ROOT, 'native-bench/RESULTS.md')
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8')
    const m = /<!-- bench:begin native-bench\/wrk -->\n([\s\S]*?)\n<!-- bench:end native-bench\/wrk -->/.exec(text)
    if (m !== null) {
      writeSection(join(ROOT, 'BENCHMARKS.md'), 'native-bench/wrk', m[1]!.replace(/^## native-bench: scenario \(a\) under wrk/, '## native-bench: scenario (a) under wrk (copied from native-bench/RESULTS.md by npm run bench)'), '# Benchmarks\n')
      say('copied the native-bench/wrk section into BENCHMARKS.md')
    }
  }
}
if (outcomes.some((l) => l.includes('failed'))) process.exitCode = 1
