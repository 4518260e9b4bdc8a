import { test } from 'node:test'
import assert from 'node:assert/strict'
import { computeWindows, previousWeight, resetSeconds, windowId, windowIdToUnix } from './windows.ts'
import { currentWindows, now, setClockSource } from './clock.ts'

test('windows: aligned to UTC calendar periods (kong/tools/timestamp.lua)', () => {
  const t = Date.UTC(2024, 1, 29, 13, 45, 30, 250) // leap day
  const w = computeWindows(t)
  assert.equal(w.start[0], Date.UTC(2024, 1, 29, 13, 45, 30))
  assert.equal(w.start[1], Date.UTC(2024, 1, 29, 13, 45))
  assert.equal(w.start[2], Date.UTC(2024, 1, 29, 13))
  assert.equal(w.start[3], Date.UTC(2024, 1, 29))
  assert.equal(w.start[4], Date.UTC(2024, 1, 1))
  assert.equal(w.end[4], Date.UTC(2024, 2, 1))
  assert.equal(w.prevStart[4], Date.UTC(2024, 0, 1))
  assert.equal(w.start[5], Date.UTC(2024, 0, 1))
  assert.equal(w.end[5], Date.UTC(2025, 0, 1))
  assert.equal(windowIdToUnix(windowId(w.start[1]!)), w.start[1]! / 1000)
})

test('windows: RateLimit-Reset as Kong (max(1, EXPIRATION - elapsed), month = 30 days)', () => {
  const t = Date.UTC(2024, 0, 31, 0, 0, 15, 900)
  const w = computeWindows(t)
  assert.equal(resetSeconds(0, t, w), 1)
  assert.equal(resetSeconds(1, t, w), 45)
  assert.equal(resetSeconds(2, t, w), 3600 - 15)
  // 30 days minus 30 days and 15 s: Kong clamps to 1
  assert.equal(resetSeconds(4, t, w), 1)
})

test('windows: sliding weight of the previous window falls from 1 to 0', () => {
  const start = Date.UTC(2024, 0, 1, 0, 1)
  const w = computeWindows(start)
  assert.equal(previousWeight(1, start, w), 1)
  assert.equal(previousWeight(1, start + 15_000, w), 0.75)
  assert.equal(previousWeight(1, start + 59_999, w) < 0.001, true)
})

test('clock: an injected source drives now() and the windows', () => {
  let t = Date.UTC(2030, 5, 1, 0, 0, 59, 999)
  setClockSource(() => t)
  try {
    assert.equal(now(), t)
    assert.equal(currentWindows().start[1], Date.UTC(2030, 5, 1, 0, 0))
    t += 1
    assert.equal(currentWindows().start[1], Date.UTC(2030, 5, 1, 0, 1))
  } finally {
    setClockSource(null)
  }
})
