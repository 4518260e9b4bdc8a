import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseHttpTime } from './http-time.ts'

test('parseHttpTime takes nginx\'s three formats as GMT', () => {
  const t = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000
  assert.equal(parseHttpTime('Sun, 06 Nov 1994 08:49:37 GMT'), t)
  assert.equal(parseHttpTime('Sunday, 06-Nov-94 08:49:37 GMT'), t)
  assert.equal(parseHttpTime('Sun Nov  6 08:49:37 1994'), t)
  assert.equal(parseHttpTime('Sun, 06 Nov 1994 08:49:37 +0200'), t)
  assert.equal(parseHttpTime('Thu, 29 Feb 2024 00:00:00 GMT'), Date.UTC(2024, 1, 29) / 1000)
  assert.equal(parseHttpTime(new Date(0).toUTCString()), 0)
})

test('parseHttpTime refuses what nginx refuses (Date.parse would take most of it)', () => {
  for (const v of ['wrong date', '2026-11-24T20:00:00Z', 'Sun, 6 Nov 1994 08:49:37 GMT', 'Sun, 06 nov 1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 24:00:00 GMT', 'Thu, 29 Feb 2023 00:00:00 GMT', 'Sun, 31 Nov 1994 08:49:37 GMT', 'Tue Nov 24 2026', '', '1700000000']) {
    assert.equal(parseHttpTime(v), null, v)
  }
})
