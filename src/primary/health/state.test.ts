import { test } from 'node:test'
import assert from 'node:assert/strict'
import { countReport, forceHealth, newCounters, servesTraffic } from './state.ts'
import { buildChecks, classifyStatus } from './checks.ts'

test('failures must be consecutive: a success in between resets them', () => {
  const c = newCounters()
  assert.equal(countReport(c, 'http', 3), false)
  assert.equal(c.health, 'mostly_healthy')
  assert.equal(servesTraffic(c.health), true)
  countReport(c, 'http', 3)
  countReport(c, 'success', 5) // clears the failure counters
  assert.deepEqual([c.http, c.success], [0, 1])
  countReport(c, 'http', 3)
  countReport(c, 'http', 3)
  assert.equal(servesTraffic(c.health), true)
  assert.equal(countReport(c, 'http', 3), true)
  assert.equal(c.health, 'unhealthy')
})

test('failure kinds count apart and each has its own limit', () => {
  const c = newCounters()
  countReport(c, 'tcp', 2)
  countReport(c, 'timeout', 2)
  countReport(c, 'http', 2)
  assert.equal(c.health, 'mostly_healthy')
  assert.equal(countReport(c, 'timeout', 2), true)
  assert.equal(c.health, 'unhealthy')
})

test('a limit of 0 ignores the report; reports agreeing with a settled state are not counted', () => {
  const c = newCounters()
  assert.equal(countReport(c, 'http', 0), false)
  assert.equal(c.http, 0)
  countReport(c, 'success', 1)
  assert.equal(c.success, 0, 'healthy: successes are not counted')
  forceHealth(c, false)
  countReport(c, 'http', 1)
  assert.equal(c.http, 0, 'unhealthy: failures are not counted')
})

test('recovery: successes move unhealthy -> mostly_unhealthy -> healthy; a failure resets them', () => {
  const c = newCounters(false)
  countReport(c, 'success', 2)
  assert.equal(c.health, 'mostly_unhealthy')
  assert.equal(servesTraffic(c.health), false)
  countReport(c, 'http', 5)
  assert.equal(c.success, 0)
  countReport(c, 'success', 2)
  assert.equal(countReport(c, 'success', 2), true)
  assert.equal(c.health, 'healthy')
})

test('a manual post sets the state and clears the counters', () => {
  const c = newCounters()
  countReport(c, 'http', 3)
  assert.equal(forceHealth(c, false), true)
  assert.deepEqual(c, { health: 'unhealthy', success: 0, http: 0, tcp: 0, timeout: 0 })
  assert.equal(forceHealth(c, false), false)
})

test('checks: Kong defaults, "using" as Kong decides it, status classification (0 is a failure)', () => {
  const off = buildChecks(null)
  assert.equal(off.using, false)
  assert.deepEqual([...off.active.healthyStatuses], [200, 302])
  assert.equal(buildChecks({ passive: { healthy: { successes: 3 } } }).using, false)
  assert.equal(buildChecks({ passive: { unhealthy: { timeouts: 1 } } }).using, true)
  const on = buildChecks({ active: { timeout: 0.5, headers: { 'x-a': ['1', '2'] }, unhealthy: { interval: 2, http_failures: 1 } } })
  assert.equal(on.using, true)
  assert.equal(on.active.timeoutMs, 500)
  assert.equal(on.active.unhealthyIntervalMs, 2000)
  assert.deepEqual(on.active.headers, [['x-a', '1'], ['x-a', '2']])
  assert.deepEqual(classifyStatus(on.passive, 500), { kind: 'http', limit: 0 })
  assert.deepEqual(classifyStatus(on.active, 0), { kind: 'http', limit: 1 })
  assert.deepEqual(classifyStatus(on.passive, 204), { kind: 'success', limit: 0 })
  assert.equal(classifyStatus(on.passive, 404), null)
})
