/**
 * The micro-benchmark harness: each benchmark is a group of functions measured in the same process
 * and run, one of them the group's baseline; results are printed and merged into micro/results.json
 * under the benchmark's name.
 *
 * Engine: mitata's `measure()` (native-bench/package.json; `cd native-bench && npm ci`), which
 * batches calls (4096 per sample for fast functions), warms up, runs at least 12 samples and 642 ms
 * of CPU per function, and reports the median of per-sample time per call. Bytes allocated per call
 * come from V8's heap statistics before and after each batch (samples where a GC ran are dropped),
 * as mitata's own runner does. Without mitata installed, a hand-rolled loop of the same shape runs
 * instead (warm-up 300 ms, batches of >= 1 ms, >= 30 samples and >= 600 ms, median), and the
 * results say which engine measured them.
 *
 * Run the benchmarks with `node --expose-gc --import tsx native-bench/micro/<name>.ts`: --expose-gc
 * lets the engine collect garbage between functions and lets the snapshot benchmark weigh what a
 * compiled snapshot retains.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { getHeapStatistics } from 'node:v8'
import { MICRO_RESULTS_JSON, NATIVE_BENCH } from '../lib/results.ts'

export interface Stats {
  /** Nanoseconds per call. */
  p50: number
  avg: number
  min: number
  p99: number
  /** Samples taken (each a batch of calls for fast functions). */
  samples: number
  /** Calls made in total. */
  calls: number
  /** Bytes allocated per call (heap growth over a batch / calls); null where not measured. */
  bytesPerCall: number | null
}

export interface Row {
  group: string
  name: string
  baseline: boolean
  stats: Stats
}

export interface MicroResult {
  name: string
  title: string
  engine: string
  generatedAt: string
  node: string
  rows: Row[]
  /** Facts worth keeping beside the timings (sizes, counts, build times, caveats). */
  facts: Record<string, string | number | boolean>
}

interface MitataStats { min: number; max: number; avg: number; p50: number; p99: number; samples: number[]; ticks: number; heap?: { avg: number } }
interface Mitata {
  measure (fn: () => unknown, opts?: { heap?: () => number }): Promise<MitataStats>
  do_not_optimize (v: unknown): void
}

const heapNow = (): number => { const h = getHeapStatistics(); return h.used_heap_size + h.malloced_memory }

let mitata: Mitata | null | undefined
let engineName = ''

/** Loads mitata from native-bench/node_modules when it is installed (a non-literal specifier keeps tsc from requiring it). */
export async function engine (): Promise<string> {
  if (mitata !== undefined) return engineName
  const spec = 'mitata'
  try {
    mitata = (await import(spec)) as Mitata
    const pkg = join(NATIVE_BENCH, 'node_modules', 'mitata', 'package.json')
    const version = existsSync(pkg) ? (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version : '?'
    engineName = `mitata ${version} measure()`
  } catch {
    mitata = null
    engineName = 'hand-rolled loop (mitata not installed: cd native-bench && npm ci)'
    process.stdout.write(`note: ${engineName}\n`)
  }
  return engineName
}

let sunk: unknown = null
/** Keeps a result alive so that the JIT cannot drop the call that made it. */
export function sink (v: unknown): void {
  if (mitata != null) mitata.do_not_optimize(v)
  else sunk = v
}

function quantile (sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

async function loop (fn: () => unknown): Promise<Stats> {
  const now = (): number => Number(process.hrtime.bigint())
  let t0 = now()
  let n = 0
  while (now() - t0 < 300e6) { fn(); n++ } // warm-up: let the JIT settle
  // Calls per batch: about 1 ms per batch.
  const perCall = 300e6 / Math.max(1, n)
  const batch = Math.max(1, Math.round(1e6 / perCall))
  const times: number[] = []
  const heaps: number[] = []
  let calls = 0
  const start = now()
  while (times.length < 30 || now() - start < 600e6) {
    const h0 = heapNow()
    t0 = now()
    for (let i = 0; i < batch; i++) fn()
    const dt = now() - t0
    const dh = heapNow() - h0
    times.push(dt / batch)
    if (dh >= 0) heaps.push(dh / batch)
    calls += batch
    if (times.length >= 10_000) break
  }
  const s = [...times].sort((a, b) => a - b)
  return {
    p50: quantile(s, 0.5),
    avg: times.reduce((a, b) => a + b, 0) / times.length,
    min: s[0]!,
    p99: quantile(s, 0.99),
    samples: times.length,
    calls,
    bytesPerCall: heaps.length === 0 ? null : quantile([...heaps].sort((a, b) => a - b), 0.5),
  }
}

export async function measure (fn: () => unknown): Promise<Stats> {
  await engine()
  globalThis.gc?.()
  if (mitata == null) return loop(fn)
  const st = await mitata.measure(fn, { heap: heapNow })
  return {
    p50: st.p50,
    avg: st.avg,
    min: st.min,
    p99: st.p99,
    samples: st.samples.length,
    calls: st.ticks,
    bytesPerCall: st.heap === undefined ? null : st.heap.avg,
  }
}

/** Measures one function of a group; prints a line as it goes. */
export async function bench (rows: Row[], group: string, name: string, fn: () => unknown, baseline = false): Promise<Row> {
  const stats = await measure(fn)
  const row = { group, name, baseline, stats }
  rows.push(row)
  process.stdout.write(`  ${group} / ${name}${baseline ? ' (baseline)' : ''}: ${formatNs(stats.p50)} median, ${formatNs(stats.p99)} p99${stats.bytesPerCall === null ? '' : `, ${formatBytes(stats.bytesPerCall)}/call`}\n`)
  return row
}

export function formatNs (ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} us`
  return `${ns.toFixed(1)} ns`
}

export function formatBytes (b: number): string {
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MiB`
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KiB`
  return `${Math.round(b)} B`
}

/** A markdown table of the rows, each group against its baseline. */
export function markdownTable (rows: readonly Row[]): string {
  const out = ['| group | function | median | p99 | x baseline | allocated/call |', '| --- | --- | --- | --- | --- | --- |']
  for (const r of rows) {
    const base = rows.find((x) => x.group === r.group && x.baseline)
    const ratio = base === undefined ? 'n/a' : r.baseline ? 'baseline' : `${(r.stats.p50 / base.stats.p50).toFixed(2)}x`
    out.push(`| ${r.group} | ${r.name} | ${formatNs(r.stats.p50)} | ${formatNs(r.stats.p99)} | ${ratio} | ${r.stats.bytesPerCall === null ? 'n/a' : formatBytes(r.stats.bytesPerCall)} |`)
  }
  return out.join('\n')
}

/** Prints the result and merges it into micro/results.json under its name. */
export function save (result: MicroResult): void {
  process.stdout.write(`\n${result.title} (${result.engine})\n${markdownTable(result.rows)}\n`)
  for (const [k, v] of Object.entries(result.facts)) process.stdout.write(`- ${k}: ${v}\n`)
  if (process.argv.includes('--quick')) { process.stdout.write('(--quick: results.json not written)\n'); return }
  let all: Record<string, MicroResult> = {}
  try { all = JSON.parse(readFileSync(MICRO_RESULTS_JSON, 'utf8')) as Record<string, MicroResult> } catch {}
  all[result.name] = result
  writeFileSync(MICRO_RESULTS_JSON, JSON.stringify(all, null, 2) + '\n')
  process.stdout.write(`saved to ${MICRO_RESULTS_JSON}\n`)
}

export function readAll (): Record<string, MicroResult> {
  try { return JSON.parse(readFileSync(MICRO_RESULTS_JSON, 'utf8')) as Record<string, MicroResult> } catch { return {} }
}

/** True when the module at `url` is the script node was started with. */
export function isMain (url: string): boolean {
  return process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href
}

export function newResult (name: string, title: string, eng: string): MicroResult {
  return { name, title, engine: eng, generatedAt: new Date().toISOString(), node: process.versions.node, rows: [], facts: {} }
}

// Read once so that the hand-rolled loop's sink is not a dead store.
export function sunkValue (): unknown { return sunk }
