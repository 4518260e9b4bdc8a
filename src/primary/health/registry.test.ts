import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { UpstreamHealthMessage } from '../../common/health.ts'
import { HealthRegistry, splitHostPort } from './registry.ts'
import { targetHealth, balancerHealth } from './view.ts'

const U = '6f1c2a30-1111-4222-8333-444455556666'
const upstream = (hc: unknown, threshold = 0): Record<string, unknown> => ({ id: U, name: 'u.test', host_header: null, healthchecks: { ...(hc as object), threshold } })
const target = (t: string, weight = 100): Record<string, unknown> => ({ id: `t-${t}`, target: t, weight, upstream: { id: U } })
const PASSIVE = { passive: { unhealthy: { http_failures: 1 } } }

function setup (names: Record<string, string[] | Error>): { r: HealthRegistry; sent: UpstreamHealthMessage[] } {
  const r = new HealthRegistry({
    resolve: async (host) => {
      const v = names[host]
      if (v === undefined) return [{ ip: host }]
      if (v instanceof Error) throw v
      return v.map((ip) => ({ ip }))
    },
  })
  const sent: UpstreamHealthMessage[] = []
  r.addSink({ broadcast: (m) => sent.push(m), sendTo: (_id, m) => sent.push(m) })
  return { r, sent }
}
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

test('a configuration change sends the whole table; verdicts go out as batched deltas', async () => {
  const { r, sent } = setup({ 'svc.test': ['10.0.0.1', '10.0.0.2'] })
  r.update([upstream(PASSIVE)], [target('svc.test:80')])
  await r.settled(U)
  assert.equal(sent.length, 1)
  assert.equal(sent[0]!.full, true)
  r.update([upstream(PASSIVE)], [target('svc.test:80')]) // same configuration: nothing
  assert.equal(sent.length, 1)
  assert.deepEqual(r.fullMessage().entries.map((e) => e.address), ['10.0.0.1:80', '10.0.0.2:80'])
  r.onPassive([
    { upstreamId: U, target: 'svc.test:80', address: '10.0.0.1:80', kind: 'status', status: 500 },
    { upstreamId: U, target: 'svc.test:80', address: '10.0.0.2:80', kind: 'status', status: 500 },
  ])
  await tick()
  assert.equal(sent.length, 2)
  assert.deepEqual(sent[1], { type: 'upstream-health', full: false, entries: [
    { upstreamId: U, target: 'svc.test:80', address: '10.0.0.1:80', healthy: false },
    { upstreamId: U, target: 'svc.test:80', address: '10.0.0.2:80', healthy: false },
  ] })
  assert.equal(targetHealth(r, U, 'svc.test:80').health, 'UNHEALTHY')
  const b = balancerHealth(r, U)!
  assert.equal(b.health, 'UNHEALTHY')
  r.close()
})

test('one healthy address makes the target HEALTHY; the threshold decides the balancer', async () => {
  const { r } = setup({ 'svc.test': ['10.0.0.1', '10.0.0.2'] })
  r.update([upstream(PASSIVE, 60)], [target('svc.test:80')])
  await r.settled(U)
  assert.equal(r.post(U, 'svc.test', '10.0.0.1', 80, false), null)
  assert.equal(targetHealth(r, U, 'svc.test:80').health, 'HEALTHY')
  const b = balancerHealth(r, U)!
  assert.equal(b.balancer_health, 'UNHEALTHY') // 50 % available is not above 60
  assert.deepEqual((b.details as { weight: unknown }).weight, { total: 200, available: 100, unavailable: 100 })
  r.close()
})

test('health checks off: HEALTHCHECKS_OFF, no entries for workers, passive ignored, posts refused', async () => {
  const { r } = setup({})
  r.update([upstream({})], [target('10.1.1.1:80')])
  await r.settled(U)
  r.onPassive([{ upstreamId: U, target: '10.1.1.1:80', address: '10.1.1.1:80', kind: 'tcp_failure', status: 0 }])
  assert.equal(targetHealth(r, U, '10.1.1.1:80').health, 'HEALTHCHECKS_OFF')
  assert.deepEqual(r.fullMessage().entries, [])
  assert.equal(r.post(U, '10.1.1.1', null, 80, false), 'no healthchecker found for u.test')
  r.close()
})

test('DNS failure: DNS_ERROR with the error as `dns`; the state of kept addresses survives a config change', async () => {
  const { r } = setup({ 'bad.test': new Error('dns resolution of bad.test failed: ENOTFOUND') })
  r.update([upstream(PASSIVE)], [target('bad.test:80'), target('10.2.2.2:80')])
  await r.settled(U)
  const h = targetHealth(r, U, 'bad.test:80')
  assert.equal(h.health, 'DNS_ERROR')
  assert.match(h.data!.dns, /ENOTFOUND/)
  r.post(U, '10.2.2.2', null, 80, false)
  r.update([upstream(PASSIVE)], [target('10.2.2.2:80', 50)])
  assert.equal(targetHealth(r, U, '10.2.2.2:80').health, 'UNHEALTHY')
  assert.equal(targetHealth(r, U, 'bad.test:80').health, 'DNS_ERROR') // gone from the balancer
  r.close()
})

test('a passive report for an address the worker resolved but the primary has not is tracked', async () => {
  const { r } = setup({ 'svc.test': ['10.0.0.1'] })
  r.update([upstream(PASSIVE)], [target('svc.test:80')])
  await r.settled(U)
  r.onPassive([{ upstreamId: U, target: 'svc.test:80', address: '10.0.0.9:80', kind: 'status', status: 503 }])
  assert.deepEqual(targetHealth(r, U, 'svc.test:80').data!.addresses.map((a) => [a.ip, a.health]), [['10.0.0.1', 'HEALTHY'], ['10.0.0.9', 'UNHEALTHY']])
  r.close()
})

test('splitHostPort', () => {
  assert.deepEqual(splitHostPort('a.test:80'), { host: 'a.test', port: 80 })
  assert.deepEqual(splitHostPort('[::1]:8000'), { host: '::1', port: 8000 })
  assert.deepEqual(splitHostPort('a.test'), { host: 'a.test', port: null })
  assert.deepEqual(splitHostPort('::1'), { host: '::1', port: null })
})
