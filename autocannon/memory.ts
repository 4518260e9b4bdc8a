/**
 * Resident memory per worker at scale, alone (the memory part of autocannon/scenarios.ts, repeated):
 * one database with ROUTES routes + CONSUMERS consumers (each with a key-auth credential, seeded
 * through `sluice config db_import`, autocannon/lib/seed.ts) and, with --key-auth, a route with the
 * key-auth plugin (so that the workers also build the key index). Per run: two fresh nodes on that
 * database, one with 1 worker and one with 2, started together, 3 s of (b) load each, a 3 s pause,
 * then VmRSS of each process tree sampled 5 times (median). A thread has no RSS of its own: the
 * difference between the two nodes is what one more worker costs. Runs are repeated (--runs, 3)
 * and the medians of the runs are printed, with each worker's V8 heap from the status API.
 *
 *   node --import tsx autocannon/memory.ts [--runs 3] [--routes 10000] [--consumers 100000] [--key-auth]
 *     [--node-args "--max-semi-space-size=32"] [--env K=V,K=V] [--keep | --db NAME]
 */
import { request } from 'undici'
import pg from 'pg'
import { createTestDb, testServer, type TestDb } from '../test/helpers/pg.ts'
import { freePort } from '../test/helpers/ports.ts'
import { processTree, rssBytes } from '../native-bench/lib/proc.ts'
import { Procs, median, say, startSluice, startUpstream } from './lib/servers.ts'
import { heapPerWorker, heapText, measure, mib, type Req } from './lib/bench.ts'
import { keyOf, requestFor, seed, spread } from './lib/seed.ts'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1]! : dflt
}
const RUNS = Number(opt('runs', '3'))
const ROUTES = Number(opt('routes', '10000'))
const CONSUMERS = Number(opt('consumers', '100000'))
const KEY_AUTH = argv.includes('--key-auth')
const NODE_ARGS = opt('node-args', '').split(' ').filter((x) => x !== '')
const ENV = Object.fromEntries(opt('env', '').split(',').filter((x) => x.includes('=')).map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)]))
const procs = new Procs()

async function main (): Promise<void> {
  const up = await startUpstream(procs)
  // --db NAME: a database seeded by an earlier run (--keep prints its name), for before/after runs.
  const reuse = opt('db', '')
  const db = reuse !== '' ? { settings: { ...(await testServer()), database: reuse } } as unknown as TestDb : await createTestDb()
  if (reuse === '' && !argv.includes('--keep')) procs.onStop(() => db.drop())
  if (argv.includes('--keep')) say(`database ${db.settings.database} kept`)
  const extra = ['- name: churn', `  url: http://127.0.0.1:${up.port}`, '  routes:', '  - name: churn', '    paths: [/churn/0]']
  if (KEY_AUTH) extra.push('  - name: ka', '    paths: [/ka]', '    plugins:', '    - name: key-auth')
  if (reuse !== '') { // the services of the earlier run name its upstream's port
    const c = new pg.Client({ ...db.settings, password: db.settings.password || undefined })
    await c.connect()
    await c.query('update services set port = $1', [up.port])
    await c.end()
  }
  const ms = reuse !== '' ? NaN : await seed(db, { upstreamPort: up.port, routes: ROUTES, consumers: CONSUMERS, extraServices: extra })
  say(`db_import: ${ROUTES} routes + ${CONSUMERS} consumers${KEY_AUTH ? ' + key-auth route' : ''} in ${(ms / 1000).toFixed(1)} s; node args ${NODE_ARGS.join(' ') || '(none)'}; env ${JSON.stringify(ENV)}`)
  const readyPath = requestFor(2).path
  const reqs: Req[] = spread(ROUTES, 1000).map(requestFor)
  if (KEY_AUTH) for (const j of spread(CONSUMERS, 1000)) reqs.push({ path: '/ka/hello', headers: { apikey: keyOf(j) } })
  const per: number[] = []; const one: number[] = []; const two: number[] = []
  for (let run = 1; run <= RUNS; run++) {
    const [st1, st2] = [await freePort(), await freePort()]
    const common = { upstreamPort: up.port, db, readyPath, timeoutMs: 300_000, nodeArgs: NODE_ARGS, env: ENV }
    const [m1, m2] = await Promise.all([
      startSluice(procs, { ...common, workers: 1, statusPort: st1 }),
      startSluice(procs, { ...common, workers: 2, statusPort: st2 }),
    ])
    for (const m of [m1, m2]) await measure({ origin: `http://127.0.0.1:${m.proxyPort}`, requests: reqs, connections: 100, seconds: 3, pids: [m.child.pid!] })
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const samples: Array<[number, number]> = []
    for (let i = 0; i < 5; i++) {
      samples.push([rssBytes(processTree(m1.child.pid!)), rssBytes(processTree(m2.child.pid!))])
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const r1 = median(samples.map((x) => x[0])); const r2 = median(samples.map((x) => x[1]))
    one.push(r1); two.push(r2); per.push(r2 - r1)
    say(`run ${run}: RSS 1 worker ${mib(r1)}, 2 workers ${mib(r2)}, per worker ${mib(r2 - r1)}; heap used/committed ${heapText(await heapPerWorker(st1))} | ${heapText(await heapPerWorker(st2))}`)
    await procs.stop(m1.child)
    await procs.stop(m2.child)
  }
  say(`median of ${RUNS}: RSS 1 worker ${mib(median(one))}, 2 workers ${mib(median(two))}, per worker ${mib(median(per))} (runs: ${per.map(mib).join(', ')})`)
}

main().then(() => procs.stopAll(), async (err) => { process.stderr.write(`${(err as Error).stack}\n`); await procs.stopAll(); process.exitCode = 1 })
