// Preloaded (`node --import`) into a Sluice process by autocannon/profile.ts: Sluice starts its
// workers with an explicit execArgv (so they do not inherit --cpu-prof), and --cpu-prof is not
// allowed in NODE_OPTIONS. This adds the profiler flags (from SLUICE_BENCH_CPU_PROF, a directory) to
// every Worker's execArgv. Benchmark tooling only: nothing in src/ loads it.
import wt from 'node:worker_threads'
import { syncBuiltinESMExports } from 'node:module'

const dir = process.env.SLUICE_BENCH_CPU_PROF
if (dir !== undefined && dir !== '') {
  const Original = wt.Worker
  wt.Worker = class extends Original {
    constructor (file, opts = {}) {
      super(file, { ...opts, execArgv: [...(opts.execArgv ?? process.execArgv), '--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=200'] })
    }
  }
  syncBuiltinESMExports()
}
