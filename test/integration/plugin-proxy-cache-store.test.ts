/**
 * proxy-cache internals in process: the worker store's LRU order, byte bound, per-entry bound and
 * TTLs; Kong's cache-key parts (spec 31-proxy-cache/05-cache_key_spec.lua); Cache-Control parsing
 * and resource TTL (kong/tools/http.lua); media types (kong/tools/mime_type.lua).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CacheStore, type CachedResponse } from '../../src/plugins/proxy-cache/store.ts'
import { paramsKey, prefixOf, requestUri } from '../../src/plugins/proxy-cache/cache-key.ts'
import { mimeMatches, parseDirectives, parseMime, resourceTtl } from '../../src/plugins/proxy-cache/cache-control.ts'

function res (bytes: number): CachedResponse {
  return { status: 200, headers: ['content-type', 'text/plain'], body: Buffer.alloc(bytes), timestamp: 0, ttl: 60, version: 1, reqBody: null }
}

test('store: least recently used entries go first when the byte bound is reached', () => {
  const s = new CacheStore(4000, 4000)
  const now = 1_000_000
  assert.ok(s.set('d', 'a', res(1000), 60, now))
  assert.ok(s.set('d', 'b', res(1000), 60, now))
  assert.ok(s.set('d', 'c', res(1000), 60, now))
  assert.ok(s.get('d', 'a', now) !== undefined) // a is now the most recent
  assert.ok(s.set('d', 'e', res(1000), 60, now))
  assert.equal(s.get('d', 'b', now), undefined, 'b was the least recently used')
  assert.ok(s.get('d', 'a', now) !== undefined)
  assert.ok(s.get('d', 'c', now) !== undefined)
  assert.ok(s.get('d', 'e', now) !== undefined)
  assert.ok(s.bytes <= 4000)
})

test('store: an entry over the per-entry bound is refused; replacing a key frees the old size', () => {
  const s = new CacheStore(10_000, 2000)
  assert.equal(s.set('d', 'big', res(3000), 60, 0), false)
  assert.equal(s.size, 0)
  s.set('d', 'k', res(1000), 60, 0)
  const b = s.bytes
  s.set('d', 'k', res(1000), 60, 0)
  assert.equal(s.bytes, b)
  assert.equal(s.size, 1)
})

test('store: TTLs expire entries, 0 keeps them; peek does not refresh; dictionaries are separate', () => {
  const s = new CacheStore()
  s.set('d', 'short', res(1), 1, 0)
  s.set('d', 'forever', res(1), 0, 0)
  s.set('other', 'short', res(1), 60, 0)
  assert.ok(s.peek('d', 'short', 999) !== undefined)
  assert.equal(s.get('d', 'short', 1000), undefined)
  assert.ok(s.get('d', 'forever', 10 ** 12) !== undefined)
  assert.ok(s.get('other', 'short', 1000) !== undefined)
  s.flush('other')
  assert.equal(s.get('other', 'short', 0), undefined)
  assert.ok(s.get('d', 'forever', 0) !== undefined)
  s.flush(null)
  assert.equal(s.size, 0)
  assert.equal(s.bytes, 0)
})

test('cache key parts: Kong 05-cache_key_spec cases', () => {
  assert.equal(prefixOf(null, null), 'default')
  assert.equal(prefixOf('c', null), 'default')
  assert.equal(prefixOf(null, 'r'), 'r')
  assert.equal(prefixOf('c', 'r'), 'c:r')
  assert.equal(paramsKey({ a: '1', b: '2' }, null), 'a=1:b=2')
  assert.equal(paramsKey({}, null), '')
  assert.equal(paramsKey({}, ['a']), '')
  assert.equal(paramsKey({ b2: '2', a1: '1' }, null), 'a1=1:b2=2')
  assert.equal(paramsKey({ a: '1', b: '2' }, ['a']), 'a=1')
  assert.equal(paramsKey({ a: ['2', '1'] }, ['a']), 'a=1,2')
  assert.equal(paramsKey({ a: ['1', '2'], b: '2' }, ['a', 'b', 'c']), 'a=1,2:b=2')
  assert.equal(paramsKey({ flag: true }, null), 'flag')
  assert.equal(paramsKey({ e: '' }, null), 'e=')
  assert.equal(requestUri('GET', '/A', null, false), 'GET /A HTTP/1.1')
  assert.equal(requestUri('GET', '/A', '', false), 'GET /A')
  assert.equal(requestUri('GET', '/A', 'x=1', true), 'get /a')
})

test('Cache-Control: directives, numbers, flags; resource TTL from s-maxage, max-age, Expires', () => {
  assert.deepEqual(parseDirectives('public, max-age=60, no-cache'), { public: true, 'max-age': 60, 'no-cache': true })
  assert.deepEqual(parseDirectives(['max-age=5', 'private="x"']), { 'max-age': 5, private: '"x"' })
  assert.deepEqual(parseDirectives('Max-Age=0x10'), { 'max-age': 16 })
  assert.equal(parseDirectives(undefined), null)
  const now = 1_700_000_000
  assert.equal(resourceTtl({ 's-maxage': 10, 'max-age': 60 }, undefined, now), 10)
  assert.equal(resourceTtl({ 'max-age': 60 }, undefined, now), 60)
  assert.equal(resourceTtl({ 'max-age': -5 }, undefined, now), 0)
  assert.equal(resourceTtl(null, new Date((now + 100) * 1000).toUTCString(), now), 100)
  assert.equal(resourceTtl(null, 'garbage', now), 0)
  assert.equal(resourceTtl(null, undefined, now), 0)
})

test('media types: parsing, wildcards, parameters', () => {
  assert.deepEqual(parseMime('Application/JSON; Charset=utf-8'), { type: 'application', subtype: 'json', params: { charset: 'utf-8' }, paramCount: 1 })
  assert.equal(parseMime('application/xml;'), null)
  assert.equal(parseMime('text'), null)
  assert.deepEqual(parseMime('*'), { type: '*', subtype: '*', params: {}, paramCount: 0 })
  const m = (a: string, e: string): boolean => mimeMatches(parseMime(a)!, parseMime(e)!)
  assert.ok(m('application/xml', '*/*'))
  assert.ok(m('text/plain', 'text/*'))
  assert.ok(!m('text/plain; charset=utf-8', 'text/plain'))
  assert.ok(m('text/html; charset=utf-8', 'text/html; charset=utf-8'))
  assert.ok(!m('application/xml; charset=utf-8', 'application/xml; charset=UTF-8'))
  assert.ok(m('application/json; q="1"', 'application/json; q=1'))
})
