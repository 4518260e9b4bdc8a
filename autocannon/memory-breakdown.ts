/**
 * Where a worker's memory goes at scale: the snapshot of a seeded database (autocannon/memory.ts
 * --keep) is built as the primary builds it, then decoded and compiled in a worker thread exactly
 * as worker/main.ts does (decodeSnapshot, CompileState.compile with every plugin handler), and the
 * parts are released one by one with a full GC after each: the drop in V8 heap (used) is what that
 * part retained. Also the thread's baseline (modules loaded, no configuration) and the process RSS
 * and external memory at each step (the main thread idles meanwhile).
 *
 *   node --expose-gc --import tsx autocannon/memory-breakdown.ts --db NAME [--snapshot-heap file.heapsnapshot]
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8'
import type { Snapshot } from '../src/common/snapshot.ts'
import type { CompileState as CS } from '../src/worker/compile-delta.ts'
import type { AnyPluginHandler } from '../src/plugins/types.ts'
import type { Balancer } from '../src/worker/balancer/balancer.ts'

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`

interface Mark { step: string; heap: number; external: number; arrayBuffers: number; rss: number }

let spaces = ''

async function inWorker (): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  const marks: Mark[] = []
  const mark = (step: string): void => {
    for (let i = 0; i < 3; i++) gc()
    const m = process.memoryUsage()
    marks.push({ step, heap: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss })
  }
  mark('thread started (tsx loader)')
  // The modules a serving worker loads (server, plugins, undici, uWS).
  await import('../src/worker/server.ts')
  const { decodeSnapshot } = await import('../src/common/codec.ts')
  const { CompileState } = await import('../src/worker/compile-delta.ts')
  const { HANDLERS } = await import('../src/plugins/handlers.ts')
  mark('worker modules loaded')
  const { pruneBalancers } = await import('../src/worker/balancer/runtime.ts')
  steps(mark, decodeSnapshot, CompileState, HANDLERS, pruneBalancers)
  parentPort!.postMessage({ marks, spaces })
}

/** Sync, so that no suspended frame keeps the decoded snapshot alive. */
function steps (mark: (step: string) => void, decodeSnapshot: (b: Uint8Array) => Snapshot, CompileState: typeof CS, HANDLERS: readonly AnyPluginHandler[], prune: (used: ReadonlySet<Balancer>) => unknown): void {
  const bytes = (workerData as { bytes: Uint8Array }).bytes
  let decoded: Snapshot | null = decodeSnapshot(bytes)
  mark('snapshot decoded')
  let state: CS | null = CompileState.compile(decoded, (workerData as { plugins: boolean }).plugins ? HANDLERS : [], 'n')
  // What UpstreamRegistry.reconcile does after every compile: the balancer module drops its index of the snapshot.
  prune(new Set(state.compiled.targets.flatMap((t) => t.balancing === null ? [] : [t.balancing.balancer])))
  mark('compiled (decoded snapshot still referenced)')
  decoded = null
  mark('compiled, decoded snapshot dropped (what a worker keeps)')
  spaces = getHeapSpaceStatistics().map((x) => `${x.space_name} ${mib(x.space_size)} (${mib(x.space_used_size)} used)`).join(', ')
  const file = (workerData as { heapFile: string }).heapFile
  if (file !== '') writeHeapSnapshot(file) // what a worker keeps
  // Tables, released in an order where each holds no row of the ones after it (without plugin
  // handlers, nothing else holds the rows; with them, the auth indexes do).
  for (const t of ['keyauth_credentials', 'basicauth_credentials', 'jwt_secrets', 'hmacauth_credentials', 'acls']) state.tables.delete(t)
  mark('credential tables released')
  state.tables.delete('consumers')
  mark('consumer table released')
  state.tables.clear()
  mark('other tables released')
  state = null
  mark('router + compiled routes released')
}

async function inMain (): Promise<void> {
  const argv = process.argv.slice(2)
  const opt = (name: string, dflt: string): string => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1]! : dflt }
  const { testServer } = await import('../test/helpers/pg.ts')
  const { createPool } = await import('../src/db/pool.ts')
  const { ConfigCache } = await import('../src/primary/config-cache.ts')
  const { buildSnapshot } = await import('../src/primary/snapshot.ts')
  const pool = createPool({ ...(await testServer()), database: opt('db', ''), timeoutMs: 60_000, max: 2 })
  let cache: InstanceType<typeof ConfigCache> | null = new ConfigCache()
  await cache.loadEverything(pool)
  await pool.end()
  const counts = [...cache.tables].map(([t, m]) => `${t} ${m.size}`).filter((x) => !x.endsWith(' 0')).join(', ')
  const bytes = buildSnapshot(cache, 1).bytes
  cache = null
  process.stdout.write(`snapshot: ${mib(bytes.byteLength)} msgpack; ${counts}\n`)
  for (const plugins of [true, false]) {
    const w = new Worker(new URL(import.meta.url), {
      workerData: { bytes, heapFile: plugins ? opt('snapshot-heap', '') : '', plugins },
      execArgv: ['--import', new URL('../src/worker/ts-loader.mjs', import.meta.url).href],
    })
    const { marks, spaces } = await new Promise<{ marks: Mark[]; spaces: string }>((resolve, reject) => { w.once('message', resolve); w.once('error', reject) })
    await w.terminate()
    process.stdout.write(`\n${plugins ? 'with every plugin handler (auth indexes built)' : 'without plugin handlers (rows only)'}:\n`)
    table(marks)
    process.stdout.write(`V8 spaces after compile (committed): ${spaces}\n`)
  }
}

function table (marks: Mark[]): void {
  let prev: Mark | null = null
  process.stdout.write('| step | V8 heap used | change | external | process RSS |\n| --- | --- | --- | --- | --- |\n')
  for (const m of marks) {
    process.stdout.write(`| ${m.step} | ${mib(m.heap)} | ${prev === null ? '' : mib(m.heap - prev.heap)} | ${mib(m.external)} | ${mib(m.rss)} |\n`)
    prev = m
  }
}

if (isMainThread) await inMain()
else await inWorker()
