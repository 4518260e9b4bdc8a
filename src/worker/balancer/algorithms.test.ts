import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Address } from './address.ts'
import { ConsistentHashing, Latency, LeastConnections, recordLatency, RoundRobin } from './algorithms.ts'
import { xxhash32 } from './xxhash32.ts'

function addr (n: number, weight = 100): Address {
  return new Address(`10.0.0.${n}`, 8000, weight, `t${n}:8000`, `t${n}`)
}

test('xxhash32: published XXH32 vectors (seed 0)', () => {
  assert.equal(xxhash32(''), 0x02cc5d05)
  assert.equal(xxhash32('a'), 0x550d7456)
  assert.equal(xxhash32('abc'), 0x32d153ff)
  assert.equal(xxhash32('Nobody inspects the spammish repetition'), 0xe2293b2f)
})

test('round-robin: one wheel turn gives each address weight/gcd picks; unavailable ones are skipped', () => {
  const a = addr(1, 300)
  const b = addr(2, 200)
  const c = addr(3, 100)
  const rr = new RoundRobin()
  rr.rebuild([a, b, c])
  const count = new Map<Address, number>()
  for (let i = 0; i < 60; i++) { const p = rr.pick(0, null)!; count.set(p, (count.get(p) ?? 0) + 1) }
  assert.deepEqual([count.get(a), count.get(b), count.get(c)], [30, 20, 10])
  b.available = false
  for (let i = 0; i < 12; i++) assert.notEqual(rr.pick(0, null), b)
  a.available = false
  c.available = false
  assert.equal(rr.pick(0, null), null)
})

test('round-robin: a retry avoids the address that just failed while another is available', () => {
  const a = addr(1)
  const b = addr(2)
  const rr = new RoundRobin()
  rr.rebuild([a, b])
  for (let i = 0; i < 10; i++) {
    const first = rr.pick(0, null)!
    assert.notEqual(rr.pick(0, [first]), first)
  }
})

test('consistent-hashing: same input, same address; removing one address moves only its share', () => {
  const list = [addr(1), addr(2), addr(3), addr(4)]
  const ch = new ConsistentHashing(10000)
  ch.rebuild(list, list.length)
  const before = new Map<string, Address>()
  for (let i = 0; i < 400; i++) before.set(`k${i}`, ch.pick(ch.index(`k${i}`))!)
  for (let i = 0; i < 400; i++) assert.equal(ch.pick(ch.index(`k${i}`)), before.get(`k${i}`))
  const shares = new Set(before.values())
  assert.equal(shares.size, 4)
  list[3]!.available = false
  let moved = 0
  for (let i = 0; i < 400; i++) {
    const now = ch.pick(ch.index(`k${i}`))!
    if (before.get(`k${i}`) === list[3]) assert.notEqual(now, list[3])
    else if (now !== before.get(`k${i}`)) moved++
  }
  assert.equal(moved, 0, 'keys of the other addresses stay where they were')
  assert.equal(new ConsistentHashing(10).points, 1000, "Kong's minimum continuum")
})

test('least-connections: fewest in flight per weight wins; a retry avoids failed addresses', () => {
  const a = addr(1, 100)
  const b = addr(2, 200)
  const lc = new LeastConnections()
  lc.rebuild([a, b])
  a.connections = 1
  b.connections = 2 // (2+1)/200 < (1+1)/100
  assert.equal(lc.pick(0, null), b)
  b.connections = 4 // 5/200 > 2/100
  assert.equal(lc.pick(0, null), a)
  assert.equal(lc.pick(0, [a]), b)
  assert.equal(lc.pick(0, [a, b]), a, 'all tried: the best of them again')
})

test('latency: the lowest EWMA wins; slow start at the average; a retry never repeats an address', () => {
  const a = addr(1)
  const b = addr(2)
  const lat = new Latency()
  lat.rebuild([a, b])
  recordLatency(a, 50)
  recordLatency(b, 5)
  assert.equal(lat.pick(0, null), b)
  assert.equal(lat.pick(0, [b]), a)
  assert.equal(lat.pick(0, [a, b]), null)
  const c = addr(3)
  lat.rebuild([a, b, c])
  assert.ok(Math.abs(c.ewma - 27.5) < 1, `slow start ewma ${c.ewma}`)
})

test('address: Host header per scheme drops the default port only', () => {
  const x = new Address('10.0.0.1', 80, 100, 'api:80', 'api')
  assert.equal(x.hostHttp, 'api')
  assert.equal(x.hostHttps, 'api:80')
  const y = new Address('::1', 443, 100, '[::1]:443', '::1')
  assert.equal(y.key, '[::1]:443')
  assert.equal(y.hostHttps, '[::1]')
  assert.equal(y.servername, null)
})
