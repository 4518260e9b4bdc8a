/**
 * In-process companion of plugin-cost.ts: the gateway's JavaScript path for one request (context,
 * routing, plugin phases, upstream request building, response head and body writing) with the
 * network taken out: a fake uWS response and an upstream dispatcher that answers synchronously
 * (13-byte body). Measures nanoseconds per request for no plugins, key-auth, and key-auth + acl +
 * cors, interleaved; robust on a loaded machine where the autocannon numbers are not.
 *   node --import tsx autocannon/plugin-cost-inproc.ts [iterations=200000] [rounds=5]
 */
import type { HttpResponse } from 'uWebSockets.js'
import { loadConfig } from '../src/config/load.ts'
import { compileSnapshot } from '../src/worker/compile.ts'
import { RequestContext } from '../src/worker/context.ts'
import { handleRequest } from '../src/worker/pipeline.ts'
import { onClientAborted } from '../src/worker/proxy.ts'
import { initSettings } from '../src/worker/settings.ts'
import { UpstreamPool } from '../src/worker/upstreams.ts'
import { acl, consumer, keyauth, plugin, withEntities } from '../test/helpers/kong-rows.ts'
import { route, service, snapshot } from '../test/helpers/worker-harness.ts'
import { median, say } from './lib/servers.ts'

const iterations = Number(process.argv[2] ?? 200_000)
const rounds = Number(process.argv[3] ?? 5)

initSettings(loadConfig({ env: {}, overrides: {} }))

const svc = service({ host: '127.0.0.1', port: 9 })
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
const compiled = compileSnapshot(snap)

let statuses = 0
const res = {
  onAborted () { return this }, cork (fn: () => void) { fn(); return this }, writeStatus (s: string) { if (s.charCodeAt(0) === 50) statuses++; return this },
  writeHeader () { return this }, end () { return this }, endWithoutBody () { return this }, write () { return true },
  tryEnd () { return [true, true] }, getWriteOffset () { return 0 }, onData () { return this }, onWritable () { return this },
  pause () { return this }, resume () { return this }, close () { return this },
} as unknown as HttpResponse

const BODY = Buffer.from('Hello, World!')
const HEADERS = { 'content-type': 'text/plain', 'content-length': '13', date: 'x' }
const controller = { aborted: false, paused: false, pause () {}, resume () {}, abort () {} }
interface H { onRequestStart (c: unknown): void; onResponseStart (c: unknown, s: number, h: unknown, m?: string): void; onResponseData (c: unknown, b: Buffer): void; onResponseEnd (c: unknown, t: unknown): void }
const dispatcher = {
  dispatch (_opts: unknown, h: H) {
    h.onRequestStart(controller)
    h.onResponseStart(controller, 200, { ...HEADERS })
    h.onResponseData(controller, BODY)
    h.onResponseEnd(controller, {})
    return true
  },
}
for (const t of compiled.targets) t.pool = new UpstreamPool(t.key, dispatcher as never)

const common = ['host', 'gw.test', 'user-agent', 'autocannon', 'accept', '*/*']
const reqHeaders: Record<string, string[]> = {
  '/none': common,
  '/ka': [...common, 'apikey', 'secret-key'],
  '/kac': [...common, 'apikey', 'secret-key', 'origin', 'http://app.test'],
}

function one (path: string): void {
  const ctx = new RequestContext(res, compiled, 8000, onClientAborted)
  ctx.method = 'GET'
  ctx.path = path
  ctx.headers = reqHeaders[path]!.slice()
  ctx.host = 'gw.test'
  ctx.hostCount = 1
  ctx.accept = '*/*'
  ctx.remoteAddr = '127.0.0.1'
  handleRequest(ctx)
}

function measure (path: string): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) one(path)
  return Number(process.hrtime.bigint() - t0) / iterations
}

const paths = ['/none', '/ka', '/kac']
for (const p of paths) measure(p) // warm-up
const ns: Record<string, number[]> = { '/none': [], '/ka': [], '/kac': [] }
for (let r = 0; r < rounds; r++) for (const p of paths) ns[p]!.push(measure(p))
const base = median(ns['/none']!)
for (const p of paths) {
  const m = median(ns[p]!)
  say(`${p}: ${(m / 1000).toFixed(2)} us/request in-process (+${((m - base) / 1000).toFixed(2)} us over no plugins)`)
}
if (statuses !== iterations * paths.length * (rounds + 1)) say(`warning: ${statuses} 2xx status lines written`)
