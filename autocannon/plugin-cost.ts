/**
 * The RPS cost of plugins, same run, interleaved rounds (issue 5 "Performance"): one proxy worker
 * thread (test/helpers/worker-harness.ts, no database) in front of the uWS upstream
 * (autocannon/upstream.ts, its own process), three routes:
 *   /none  no plugins
 *   /ka    key-auth
 *   /kac   key-auth + acl + cors (request with Origin)
 * Each round runs `autocannon -c 100 -d <s>` as a separate process against each route in turn.
 * With PIN=1 (Linux, taskset) the gateway process stays on CPU 0 and the upstream and autocannon
 * on CPU 1, so that the gateway is what saturates:
 *   PIN=1 taskset -c 0 node --import tsx autocannon/plugin-cost.ts [rounds=3] [seconds=5]
 */
import { execFileSync, spawn } from 'node:child_process'
import { plugin, consumer, keyauth, acl, withEntities } from '../test/helpers/kong-rows.ts'
import { freePort } from '../test/helpers/ports.ts'
import { route, service, snapshot, startWorkers } from '../test/helpers/worker-harness.ts'
import { median, say, waitReady } from './lib/servers.ts'

const rounds = Number(process.argv[2] ?? 3)
const seconds = Number(process.argv[3] ?? 5)

const upPort = await freePort()
const pin = process.env.PIN === '1'
const pinned = (cmd: string, args: string[]): [string, string[]] => (pin ? ['taskset', ['-c', '1', cmd, ...args]] : [cmd, args])
const [upCmd, upArgs] = pinned(process.execPath, ['--import', 'tsx', new URL('./upstream.ts', import.meta.url).pathname, String(upPort)])
const up = spawn(upCmd, upArgs, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
await waitReady(up, 'upstream')

const svc = service({ host: '127.0.0.1', port: upPort })
const none = route({ paths: ['/none'] }, svc)
const ka = route({ paths: ['/ka'] }, svc)
const kac = route({ paths: ['/kac'] }, svc)
const bob = consumer({ username: 'bob' })
const snap = withEntities(snapshot([svc], [none, ka, kac]), {
  consumers: [bob],
  keyauth_credentials: [keyauth(bob, 'secret-key')],
  acls: [acl(bob, 'users')],
  plugins: [
    plugin('key-auth', {}, { route: ka }),
    plugin('key-auth', {}, { route: kac }),
    plugin('acl', { allow: ['users'] }, { route: kac }),
    plugin('cors', { origins: ['http://app.test'], credentials: true, exposed_headers: ['x-total'] }, { route: kac }),
  ],
})
const h = await startWorkers({ snapshot: snap, workers: 1 })

/** CPU microseconds the gateway process (its worker thread doing the work) spent per request. */
const cpu: Record<string, number[]> = { '/none': [], '/ka': [], '/kac': [] }

function run (path: string): number {
  const c0 = process.cpuUsage()
  const [cmd, args] = pinned('npx', ['autocannon', '-c', '100', '-d', String(seconds), '-j',
    '-H', 'apikey=secret-key', '-H', 'origin=http://app.test', `${h.url}${path}`])
  const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  const c = process.cpuUsage(c0)
  const r = JSON.parse(out) as { requests: { average: number; total: number }; non2xx: number; errors: number }
  if (r.non2xx > 0 || r.errors > 0) say(`  ${path}: ${r.non2xx} non-2xx, ${r.errors} errors`)
  cpu[path]?.push((c.user + c.system) / r.requests.total)
  return r.requests.average
}

try {
  run('/none') // warm-up
  const results: Record<string, number[]> = { '/none': [], '/ka': [], '/kac': [] }
  for (let i = 0; i < rounds; i++) {
    for (const p of Object.keys(results)) {
      const rps = run(p)
      results[p]!.push(rps)
      say(`round ${i + 1} ${p}: ${Math.round(rps)} rps`)
    }
  }
  const base = median(results['/none']!)
  const baseCpu = median(cpu['/none']!.slice(1))
  for (const [p, xs] of Object.entries(results)) {
    const m = median(xs)
    const c = median(cpu[p]!.slice(p === '/none' ? 1 : 0))
    say(`${p}: median ${Math.round(m)} rps = ${(100 * m / base).toFixed(1)}% of no plugins; ` +
      `gateway CPU ${c.toFixed(1)} us/request = ${(100 * baseCpu / c).toFixed(1)}% of the no-plugin throughput per core`)
  }
} finally {
  await h.stop()
  up.kill('SIGTERM')
}
