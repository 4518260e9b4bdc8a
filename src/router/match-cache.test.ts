/**
 * The router's match cache (match-cache.ts): equal keys must mean equal answers, so every input a
 * match reads is in the key; answers are shared and frozen; memory is bounded; traffic that does
 * not repeat turns it off for a while.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildRouter, patchRouter } from './traditional.ts'
import { entries, request } from './conformance-helpers.ts'
import { MAX_KEY, SKIP_WINDOWS, WINDOW } from './match-cache.ts'
import type { MatchInput } from './types.ts'

/** Asks twice (the second from the cache) and checks both answers agree with an uncached router. */
function agree (specs: Parameters<typeof entries>[0], inputs: MatchInput[]): void {
  const cached = buildRouter(entries(specs))
  const plain = buildRouter(entries(specs), { matchCacheSize: 0 })
  assert.equal(plain.cache, null)
  for (let round = 0; round < 2; round++) {
    for (const input of inputs) {
      const a = cached.match(input)
      const b = plain.match(input)
      assert.deepEqual(a, b, `${JSON.stringify(input)} (round ${round})`)
    }
  }
  assert.ok(cached.cache!.hits >= inputs.length, `hits ${cached.cache!.hits}`)
}

test('match cache: header values, method, port, scheme and SNI are in the key', () => {
  agree([
    { n: 1, paths: ['/t'], headers: { 'x-tenant': ['a'] } },
    { n: 2, paths: ['/t'], headers: { 'x-tenant': ['~*^b(\\d+)$'] } },
    { n: 3, paths: ['/t'], methods: ['POST'] },
    { n: 4, paths: ['/t'] },
    { n: 5, hosts: ['h.test:9000'], paths: ['/p'] },
    { n: 6, paths: ['/p'] },
    { n: 7, paths: ['/s'], snis: ['secure.test'], protocols: ['https'] },
    { n: 8, paths: ['/s'] },
  ], [
    request('/t', { headers: ['x-tenant', 'a'] }),
    request('/t', { headers: ['x-tenant', 'b42'] }),
    request('/t', { headers: ['x-tenant', 'c'] }),
    request('/t', { headers: ['x-other', 'a'] }),
    request('/t', { method: 'POST' }),
    request('/t'),
    request('/p', { host: 'h.test:9000' }),
    request('/p', { host: 'h.test', port: 9000 }),
    request('/p', { host: 'h.test', port: 8000 }),
    request('/s', { scheme: 'https', sni: 'secure.test' }),
    request('/s', { scheme: 'https', sni: 'other.test' }),
    request('/s', { scheme: 'http' }),
    request('/nothing'),
  ])
})

test('match cache: answers are shared and frozen, captures included; misses are cached too', () => {
  const r = buildRouter(entries([{ n: 1, paths: ['~/users/(?<id>\\d+)$'] }]))
  const a = r.match(request('/users/42'))!
  const b = r.match(request('/users/42'))!
  assert.equal(a, b)
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.captures) && Object.isFrozen(a.captures!.named) && Object.isFrozen(a.captures!.unnamed))
  assert.equal(a.captures!.named.id, '42')
  assert.throws(() => { (a.captures!.named as Record<string, string>).id = 'x' }, TypeError)
  assert.equal(r.match(request('/nope')), null)
  assert.equal(r.match(request('/nope')), null)
  assert.equal(r.cache!.hits, 2)
})

test('match cache: a key longer than MAX_KEY is not cached; the size stays bounded', () => {
  const r = buildRouter(entries([{ n: 1, paths: ['/'] }]), { matchCacheSize: 64 })
  const long = '/' + 'a'.repeat(MAX_KEY)
  assert.equal(r.match(request(long))?.payload, 1)
  assert.equal(r.cache!.size, 0)
  for (let i = 0; i < 500; i++) r.match(request(`/x${i % 300}`))
  assert.ok(r.cache!.size <= 64, `size ${r.cache!.size}`)
})

test('match cache: traffic that does not repeat turns it off for SKIP_WINDOWS windows, then it samples again', () => {
  const r = buildRouter(entries([{ n: 1, paths: ['/u'] }]))
  const c = r.cache!
  for (let i = 0; i < WINDOW; i++) assert.equal(r.match(request(`/u/${i}`))?.payload, 1)
  assert.equal(c.bypassing, SKIP_WINDOWS * WINDOW)
  const before = c.hits + c.misses
  for (let i = 0; i < SKIP_WINDOWS * WINDOW; i++) assert.equal(r.match(request('/u/1'))?.payload, 1)
  assert.equal(c.hits + c.misses, before, 'bypassed lookups do not touch the cache')
  assert.equal(c.bypassing, 0)
  // Repeating traffic: the window is mostly hits, the cache stays on.
  for (let i = 0; i < 2 * WINDOW; i++) r.match(request(`/u/${i % 10}`))
  assert.equal(c.bypassing, 0)
  assert.ok(c.hits >= 2 * WINDOW - 10)
})

test('match cache: a patched router has its own cache, with the overlay\'s header names in its key', () => {
  const base = buildRouter(entries([{ n: 1, paths: ['/a'] }, { n: 2, paths: ['/b'] }]))
  assert.equal(base.match(request('/b', { headers: ['x-v', '1'] }))?.payload, 2)
  const patched = patchRouter(base, [entries([{ n: 2 }])[0]!.route.id], entries([{ n: 2, paths: ['/b'], headers: { 'x-v': ['1'] } }, { n: 3, paths: ['/b'] }]))
  assert.equal(patched.match(request('/b', { headers: ['x-v', '1'] }))?.payload, 2)
  assert.equal(patched.match(request('/b', { headers: ['x-v', '2'] }))?.payload, 3)
  assert.equal(patched.match(request('/b', { headers: ['x-v', '1'] }))?.payload, 2)
  assert.equal(patched.match(request('/b', { headers: ['x-v', '2'] }))?.payload, 3)
  assert.notEqual(patched.cache, base.cache)
})
