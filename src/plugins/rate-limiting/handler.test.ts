/**
 * rate-limiting handler against a fake request context and an injected clock (no threads, no
 * database): the sliding window, Kong's header arithmetic with several periods, and the
 * cluster/redis path on the worker side (quota, exhausted, parked requests, degraded mode), with
 * this test playing the primary on the worker's own counter table.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setClockSource } from '../../common/ratelimit/clock.ts'
import { FLAG_EXHAUSTED, S_OTHERS } from '../../common/ratelimit/counter-table.ts'
import { rateLimitClient } from '../../worker/ratelimit-client.ts'
import type { PrepareEnv } from '../types.ts'
import { handler, prepare, type RateLimitingConfig } from './handler.ts'

let clock = Date.UTC(2030, 0, 1, 0, 0, 0, 5)
setClockSource(() => clock)

const env = { plugin: { id: 'p', name: 'rate-limiting', config: {}, enabled: true, protocols: null, route: null, service: null, consumer: null } } as unknown as PrepareEnv

interface Fake { status: number; exited: boolean; message: string | undefined; headers: Record<string, string> }

function call (conf: ReturnType<typeof prepare>, id: string): Fake | Promise<Fake> {
  const f: Fake = { status: 200, exited: false, message: undefined, headers: {} }
  const ctx = {
    get exited () { return f.exited },
    consumer: null,
    credential: null,
    serviceRow: null,
    path: '/',
    getHeader: () => id,
    forwardedIp: () => '10.0.0.1',
    setResponseHeader (k: string, v: string) { f.headers[k] = v },
    error (status: number, message?: string, headers?: readonly string[] | null) {
      f.exited = true
      f.status = status
      f.message = message
      for (let i = 0; headers != null && i < headers.length; i += 2) f.headers[headers[i]!] = headers[i + 1]!
    },
  }
  const r = handler.access!(ctx as never, conf)
  return r instanceof Promise ? r.then(() => f) : f
}

function sync (conf: ReturnType<typeof prepare>, id: string): Fake {
  const r = call(conf, id)
  assert.ok(!(r instanceof Promise), 'expected a synchronous answer')
  return r
}

function conf (c: RateLimitingConfig): ReturnType<typeof prepare> {
  return prepare({ limit_by: 'header', header_name: 'x-id', ...c }, env)
}

test('headers: several periods, the most restrictive in RateLimit-*, a refused request counts nowhere', () => {
  const c = conf({ second: 2, minute: 3 })
  const a = sync(c, 'h1')
  assert.deepEqual(a.headers, {
    'X-RateLimit-Limit-Second': '2', 'X-RateLimit-Remaining-Second': '1',
    'X-RateLimit-Limit-Minute': '3', 'X-RateLimit-Remaining-Minute': '2',
    'RateLimit-Limit': '2', 'RateLimit-Remaining': '1', 'RateLimit-Reset': '1',
  })
  const b = sync(c, 'h1')
  // tie at 0 remaining... second has 0, minute 1: second is the most restrictive
  assert.equal(b.headers['RateLimit-Limit'], '2')
  assert.equal(b.headers['RateLimit-Remaining'], '0')
  const r = sync(c, 'h1')
  assert.equal(r.status, 429)
  assert.equal(r.message, 'API rate limit exceeded')
  assert.equal(r.headers['X-RateLimit-Remaining-Second'], '0')
  // not counted in the minute either: Kong only increments requests that passed every period
  assert.equal(r.headers['X-RateLimit-Remaining-Minute'], '1')
  assert.equal(r.headers['Retry-After'], '1')
  clock += 1000
  const d = sync(c, 'h1')
  assert.equal(d.status, 200)
  assert.equal(d.headers['X-RateLimit-Remaining-Minute'], '0')
  // minute (0 left) is now the most restrictive
  assert.equal(d.headers['RateLimit-Limit'], '3')
  assert.equal(d.headers['RateLimit-Reset'], String(60 - Math.floor((clock % 60000) / 1000)))
  assert.equal(sync(c, 'h1').status, 429)
})

test('sliding window: the previous window weighs in by the share still covered', () => {
  clock = Date.UTC(2030, 0, 1, 0, 5, 0, 0)
  const c = conf({ second: 10, window_type: 'sliding' })
  let ok = 0
  for (let i = 0; i < 12; i++) if (sync(c, 's1').status === 200) ok++
  assert.equal(ok, 10)
  clock += 1250 // 250 ms into the next second: the previous one weighs 0.75
  ok = 0
  for (let i = 0; i < 12; i++) if (sync(c, 's1').status === 200) ok++
  assert.equal(ok, 10 - Math.floor(10 * 0.75))
  const fixed = conf({ second: 10 })
  ok = 0
  for (let i = 0; i < 12; i++) if (sync(fixed, 's2').status === 200) ok++
  clock += 1000
  for (let i = 0; i < 12; i++) if (sync(fixed, 's2').status === 200) ok++
  assert.equal(ok, 20)
})

test('cluster (worker side): quota held is spent, then requests park until the primary answers', async () => {
  clock = Date.UTC(2030, 0, 1, 1, 0, 0, 0)
  const table = rateLimitClient.table
  const c = conf({ minute: 5, policy: 'cluster' })
  // No quota yet: the request parks; the "primary" grants 2 and says so.
  const first = call(c, 'c1')
  assert.ok(first instanceof Promise)
  const slot = [...Array(table.capacity).keys()].find((s) => table.load(s, 10 /* S_LIM */) === 5 && table.load(s, 9 /* S_DEMAND */) > 0)!
  assert.ok(slot !== undefined)
  table.grant(slot, 2)
  table.store(slot, S_OTHERS, 1)
  rateLimitClient.onTotals({ type: 'rl-totals', at: clock, slots: [slot], down: [] })
  const f = await first
  assert.equal(f.status, 200)
  // usage of all nodes before this request = 1 other + 0 here: remaining 5 - 1 - 1
  assert.equal(f.headers['X-RateLimit-Remaining-Minute'], '3')
  assert.equal(sync(c, 'c1').status, 200)
  // Quota gone and the store says the window is exhausted: 429 at once.
  table.setFlag(slot, FLAG_EXHAUSTED, true)
  const r = sync(c, 'c1')
  assert.equal(r.status, 429)
  assert.equal(r.headers['X-RateLimit-Remaining-Minute'], '0')
})

test('cluster (worker side): store down -> fault_tolerant counts locally without headers, else 500', async () => {
  clock = Date.UTC(2030, 0, 1, 2, 0, 0, 0)
  rateLimitClient.onTotals({ type: 'rl-totals', at: clock, slots: [], down: ['pg'] })
  const tolerant = conf({ minute: 2, policy: 'cluster' })
  const a = sync(tolerant, 'd1')
  assert.equal(a.status, 200)
  assert.deepEqual(a.headers, {})
  assert.equal(sync(tolerant, 'd1').status, 200)
  assert.equal(sync(tolerant, 'd1').status, 429)
  const strict = conf({ minute: 2, policy: 'cluster', fault_tolerant: false })
  const s = sync(strict, 'd2')
  assert.equal(s.status, 500)
  assert.equal(s.message, 'An unexpected error occurred')
  rateLimitClient.onTotals({ type: 'rl-totals', at: clock, slots: [], down: [] })
  // A parked request whose wait runs out is treated as "store unreachable".
  rateLimitClient.waitMs = 30
  const parked = call(strict, 'd3')
  assert.ok(parked instanceof Promise)
  clock += 40
  // the client's sweep timer is unref'd (a worker's event loop is kept alive by its server)
  const keepAlive = setInterval(() => {}, 10)
  const p = await parked.finally(() => clearInterval(keepAlive))
  assert.equal(p.status, 500)
})
