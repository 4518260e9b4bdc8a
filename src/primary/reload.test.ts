import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { configureLog } from '../common/log.ts'
import { loadConfig, type Config } from '../config/load.ts'
import { planReload, Reloader, type ReloadOutcome } from './reload.ts'
import type { Supervisor } from './workers.ts'

configureLog('crit')

const base = { prefix: '/tmp/sluice-reload-unit', nginx_worker_processes: '2', pg_host: 'db1', admin_listen: '127.0.0.1:8001' }
const cfg = (o: Record<string, string> = {}): Config => loadConfig({ env: {}, overrides: { ...base, ...o } })

test('planReload: worker keys change; keys the primary holds keep their running value and are reported', () => {
  const running = cfg()
  const p = planReload(running, cfg({ nginx_worker_processes: '3', log_level: 'info', pg_host: 'db2', admin_listen: '127.0.0.1:9001' }))
  assert.deepEqual(p.changed.sort(), ['log_level', 'nginx_worker_processes'])
  assert.deepEqual(p.needRestart.sort(), ['admin_listen', 'pg_host'])
  assert.equal(p.config.workers, 3)
  assert.equal(p.config.logLevel, 'info')
  assert.equal(p.config.pg?.host, 'db1')
  assert.equal(p.config.adminListen[0]!.port, 8001)
  const same = planReload(running, cfg())
  assert.deepEqual([same.changed, same.needRestart], [[], []])
})

/** Just what Reloader uses of a Supervisor. */
class FakeSupervisor extends EventEmitter {
  static made: FakeSupervisor[] = []
  readonly config: Config
  started: number | null = null
  broadcasts: number[] = []
  stopped = false
  fail: boolean
  constructor (config: Config, fail = false) { super(); this.config = config; this.fail = fail; FakeSupervisor.made.push(this) }
  async start (s: { version: number }): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5))
    if (this.fail) throw new Error('worker 1 could not start (exit code 1): EADDRINUSE')
    this.started = s.version
  }

  broadcast (s: { version: number }): void { this.broadcasts.push(s.version) }
  async stop (): Promise<void> { this.stopped = true }
}

function harness (opts: { failNext?: boolean } = {}) {
  FakeSupervisor.made = []
  let current = new FakeSupervisor(cfg())
  let snapshot = { version: 1, bytes: new Uint8Array() }
  const outcomes: ReloadOutcome[] = []
  const retired: FakeSupervisor[] = []
  const r = new Reloader({
    config: current.config,
    current: () => current as unknown as Supervisor,
    snapshot: () => snapshot,
    create: (c) => new FakeSupervisor(c, opts.failNext === true) as unknown as Supervisor,
    swap: (next) => { current = next as unknown as FakeSupervisor },
    retired: (old) => { retired.push(old as unknown as FakeSupervisor) },
    outcome: (o) => outcomes.push(o),
  })
  return { r, outcomes, retired, current: () => current, publish: (v: number) => { snapshot = { version: v, bytes: new Uint8Array() } } }
}

test('Reloader: a new generation starts with the latest snapshot, takes over, the old one drains', async () => {
  const h = harness()
  const old = h.current()
  const pending = h.r.reload(cfg({ nginx_worker_processes: '3' }))
  h.publish(2) // published while the new workers start: the old generation got it, the new one must too
  const o = await pending
  assert.equal(o.ok, true, o.message)
  assert.equal(o.generation, 2)
  assert.match(o.message, /generation 2, 3 worker\(s\), changed: nginx_worker_processes/)
  const now = h.current()
  assert.notEqual(now, old)
  assert.equal(now.started, 1)
  assert.deepEqual(now.broadcasts, [2])
  await h.r.close()
  assert.equal(old.stopped, true)
  assert.deepEqual(h.retired, [old])
  assert.equal(h.r.config.workers, 3)
})

test('Reloader: workers that do not start leave the running generation in place', async () => {
  const h = harness({ failNext: true })
  const old = h.current()
  const o = await h.r.reload(cfg({ nginx_worker_processes: '4' }))
  assert.equal(o.ok, false)
  assert.match(o.message, /reload refused: the new workers did not start: .*EADDRINUSE/)
  assert.equal(h.current(), old)
  assert.equal(old.stopped, false)
  assert.equal(FakeSupervisor.made[1]!.stopped, true, 'the half-started generation is stopped')
  assert.equal(h.r.config.workers, 2)
})

test('Reloader: reloads asked for during one run after it, coalesced to the last configuration', async () => {
  const h = harness()
  const a = h.r.reload(cfg({ nginx_worker_processes: '3' }))
  const b = h.r.reload(cfg({ nginx_worker_processes: '5' }))
  const c = h.r.reload(cfg({ nginx_worker_processes: '6' }))
  const [oa, ob, oc] = await Promise.all([a, b, c])
  assert.equal(oa.generation, 2)
  assert.equal(ob, oc)
  assert.equal(oc.generation, 3)
  assert.equal(h.r.config.workers, 6)
  assert.equal(FakeSupervisor.made.length, 3, 'the 5-worker configuration was never started')
  await h.r.close()
  const refused = await h.r.reload(cfg())
  assert.equal(refused.ok, false)
  assert.match(refused.message, /stopping/)
})
