/**
 * Where native-bench writes: results.json (scenario (a) under wrk), micro/results.json (the
 * micro-benchmarks) and RESULTS.md, one marked section per script (autocannon/lib/report.ts).
 */
import { join } from 'node:path'
import { ROOT } from '../../autocannon/lib/servers.ts'

export const NATIVE_BENCH = join(ROOT, 'native-bench')
export const RESULTS_JSON = join(NATIVE_BENCH, 'results.json')
export const MICRO_RESULTS_JSON = join(NATIVE_BENCH, 'micro', 'results.json')
export const RESULTS_MD = join(NATIVE_BENCH, 'RESULTS.md')
export const RESULTS_MD_HEADER = `# native-bench results

Each section below is written by the script named in it and replaced whole on its next run (see
autocannon/lib/report.ts); text outside the markers is kept.
`
