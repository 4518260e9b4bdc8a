/**
 * Request header copy: flat array vs object, the two shapes undici's `dispatch` accepts.
 *
 *   node --expose-gc --import tsx native-bench/micro/header-copy.ts
 *
 * The source is a `forEach(cb)` over a browser-like request (10 headers) calling back once per
 * header with lowercase name and value, the way uWS `req.forEach` does; the native side of
 * `req.forEach` itself (string creation from uWS's buffer) is not in it.
 * - copy: the callback stores each header, into an object (baseline: `o[k] = v`, joining repeats
 *   with ', ') or a flat array (`a.push(k, v)`, what src/worker/server.ts does);
 * - copy + upstream headers: then build what goes upstream, as src/worker/upstream-request.ts
 *   does: drop Host and hop-by-hop headers, set Host, append X-Forwarded-For/Proto/Host/Port/Path,
 *   X-Real-IP and Via. Object: copy the client object minus the skipped names and add the rest;
 *   flat array: one pass with a Set of skipped names, pushing into a new array.
 */
import { bench, engine, isMain, newResult, save, sink, type MicroResult } from './harness.ts'

const CLIENT: readonly string[] = [
  'host', 'api.example.com',
  'connection', 'keep-alive',
  'user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'accept', 'application/json, text/plain, */*',
  'accept-encoding', 'gzip, deflate, br',
  'accept-language', 'en-US,en;q=0.9',
  'authorization', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  'cookie', 'session=abc123; theme=dark',
  'x-request-id', '5b1e0e0a-8f4c-4f0e-9d3b-0c8f9a7e6d5c',
  'x-forwarded-for', '10.0.0.1',
]

/** Stands in for uWS `req.forEach`: one call per header, lowercase names. */
function forEach (cb: (k: string, v: string) => void): void {
  for (let i = 0; i < CLIENT.length; i += 2) cb(CLIENT[i]!, CLIENT[i + 1]!)
}

// The copy callbacks write into a module-level target (no per-request closure), as server.ts does.
let obj: Record<string, string> = {}
function intoObject (k: string, v: string): void {
  const prev = obj[k]
  obj[k] = prev === undefined ? v : `${prev}, ${v}`
}
let arr: string[] = []
function intoArray (k: string, v: string): void {
  arr.push(k, v)
}

function copyObject (): Record<string, string> {
  obj = {}
  forEach(intoObject)
  return obj
}

function copyArray (): string[] {
  arr = []
  forEach(intoArray)
  return arr
}

const SKIP = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'proxy', 'te', 'transfer-encoding', 'content-length',
  'upgrade', 'expect', 'via', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port',
  'x-forwarded-path', 'x-forwarded-prefix', 'x-real-ip',
])
const PEER = '127.0.0.1'
const VIA = '1.1 sluice/0.1.0'

function upstreamFromObject (h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { host: 'upstream.internal:9100' }
  for (const k in h) if (!SKIP.has(k)) out[k] = h[k]!
  const xff = h['x-forwarded-for']
  out['x-forwarded-for'] = xff === undefined ? PEER : `${xff}, ${PEER}`
  out['x-forwarded-proto'] = 'http'
  out['x-forwarded-host'] = 'api.example.com'
  out['x-forwarded-port'] = '8000'
  out['x-forwarded-path'] = '/v1/users'
  out['x-real-ip'] = PEER
  out.via = VIA
  return out
}

function upstreamFromArray (h: readonly string[]): string[] {
  const out: string[] = ['host', 'upstream.internal:9100']
  let xff: string | null = null
  for (let i = 0; i < h.length; i += 2) {
    const k = h[i]!
    if (SKIP.has(k)) {
      if (k === 'x-forwarded-for') xff = xff === null ? h[i + 1]! : `${xff}, ${h[i + 1]!}`
      continue
    }
    out.push(k, h[i + 1]!)
  }
  out.push('x-forwarded-for', xff === null ? PEER : `${xff}, ${PEER}`, 'x-forwarded-proto', 'http', 'x-forwarded-host', 'api.example.com',
    'x-forwarded-port', '8000', 'x-forwarded-path', '/v1/users', 'x-real-ip', PEER, 'via', VIA)
  return out
}

export async function run (): Promise<MicroResult> {
  const result = newResult('header-copy', 'Request header copy: flat array vs object (10 client headers)', await engine())
  const rows = result.rows
  // Same output either way (checked once).
  const a = upstreamFromArray(copyArray())
  const o = upstreamFromObject(copyObject())
  const fromArray: Record<string, string> = {}
  for (let i = 0; i < a.length; i += 2) fromArray[a[i]!] = a[i + 1]!
  if (JSON.stringify(fromArray) !== JSON.stringify(o)) throw new Error('the two header builders disagree')
  result.facts['client headers'] = CLIENT.length / 2
  result.facts['upstream headers'] = a.length / 2

  await bench(rows, 'copy', 'object', () => { sink(copyObject()) }, true)
  await bench(rows, 'copy', 'flat array', () => { sink(copyArray()) })
  await bench(rows, 'copy + upstream headers', 'object', () => { sink(upstreamFromObject(copyObject())) }, true)
  await bench(rows, 'copy + upstream headers', 'flat array', () => { sink(upstreamFromArray(copyArray())) })
  return result
}

if (isMain(import.meta.url)) save(await run())
