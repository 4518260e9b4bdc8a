/**
 * Snapshot encode, decode and compile at 10,000 routes (1,000 services), the work of one config
 * change: the primary encodes once (src/common/codec.ts `encodeSnapshot`: msgpackr with records,
 * copied into a SharedArrayBuffer), every worker decodes (`decodeSnapshot`) and compiles
 * (src/worker/compile.ts `compileSnapshot`: services, targets, per-route objects and the router).
 *
 *   node --expose-gc --import tsx native-bench/micro/snapshot.ts [--routes 10000]
 *
 * Baselines in the same run: JSON.stringify / JSON.parse of the same snapshot (what a naive
 * protocol would do), structuredClone (what postMessage of the plain object costs per worker), and
 * `buildRouter` alone (compile's share that is the router). Also printed: encoded sizes, and the
 * heap a compiled snapshot keeps alive (with --expose-gc). These calls take milliseconds and
 * allocate megabytes: the GC work they cause is part of their time, and their medians move by
 * 10-20 % between runs.
 */
import { encodeSnapshot, decodeSnapshot } from '../../src/common/codec.ts'
import { buildRouter } from '../../src/router/traditional.ts'
import { compileSnapshot } from '../../src/worker/compile.ts'
import type { RouterEntry } from '../../src/router/types.ts'
import type { Snapshot } from '../../src/common/snapshot.ts'
import { bench, engine, formatBytes, isMain, newResult, save, sink, type MicroResult } from './harness.ts'
import { buildSnapshot } from './routes.ts'

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}

/** Heap kept alive by what `make` returns, after full collections (null without --expose-gc). */
function retained (make: () => unknown): number | null {
  const gc = globalThis.gc
  if (gc === undefined) return null
  gc(); gc()
  const before = process.memoryUsage().heapUsed
  const keep = make()
  gc(); gc()
  const after = process.memoryUsage().heapUsed
  sink(keep)
  return after - before
}

export async function run (routes = arg('routes', 10_000)): Promise<MicroResult> {
  const result = newResult('snapshot', `Snapshot encode, decode and compile at ${routes} routes`, await engine())
  const rows = result.rows
  const snap = buildSnapshot(routes)
  const bytes = encodeSnapshot(snap)
  const json = JSON.stringify(snap)
  const decoded = decodeSnapshot(bytes)
  if (JSON.stringify(decoded) !== json) throw new Error('decodeSnapshot(encodeSnapshot(s)) differs from s')
  result.facts.routes = snap.routes.length
  result.facts.services = snap.services.length
  result.facts['msgpack bytes'] = bytes.byteLength
  result.facts['JSON bytes'] = Buffer.byteLength(json)

  const entries = (s: Snapshot): Array<RouterEntry<number>> => s.routes.map((route, i) => ({ route, servicePath: null, payload: i }))

  await bench(rows, 'encode (primary, once per change)', 'JSON.stringify', () => { sink(JSON.stringify(snap)) }, true)
  await bench(rows, 'encode (primary, once per change)', 'encodeSnapshot (msgpackr + SharedArrayBuffer copy)', () => { sink(encodeSnapshot(snap)) })

  await bench(rows, 'decode (each worker)', 'JSON.parse', () => { sink(JSON.parse(json)) }, true)
  await bench(rows, 'decode (each worker)', 'structuredClone (postMessage of the object)', () => { sink(structuredClone(snap)) })
  await bench(rows, 'decode (each worker)', 'decodeSnapshot (msgpackr)', () => { sink(decodeSnapshot(bytes)) })

  await bench(rows, 'compile (each worker)', 'buildRouter alone', () => { sink(buildRouter(entries(decoded))) }, true)
  await bench(rows, 'compile (each worker)', 'compileSnapshot (src/worker/compile.ts)', () => { sink(compileSnapshot(decoded)) })

  await bench(rows, 'decode + compile (each worker)', 'JSON.parse + compileSnapshot', () => { sink(compileSnapshot(JSON.parse(json) as Snapshot)) }, true)
  await bench(rows, 'decode + compile (each worker)', 'decodeSnapshot + compileSnapshot', () => { sink(compileSnapshot(decodeSnapshot(bytes))) })

  const kept = retained(() => compileSnapshot(decodeSnapshot(bytes)))
  const keptRows = retained(() => decodeSnapshot(bytes))
  result.facts['heap kept by a compiled snapshot'] = kept === null ? 'n/a (run with --expose-gc)' : formatBytes(kept)
  result.facts['heap kept by the decoded rows alone'] = keptRows === null ? 'n/a (run with --expose-gc)' : formatBytes(keptRows)
  return result
}

if (isMain(import.meta.url)) save(await run())
