import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { escapeUpstreamPath, normalizePath } from './uri.ts'

// Expected values were checked against kong/tools/uri.lua run under LuaJIT, with Rust's UTF-8
// validation of the result (null: the ATC engine rejects the path and Kong answers 404).
describe('uri: normalizePath (kong/tools/uri.lua normalize(uri, true))', () => {
  const cases: Array<[string, string | null]> = [
    ['', ''], ['/', '/'], ['/plain/path', '/plain/path'],
    ['/a/../b', '/b'], ['/a/./b', '/a/b'], ['/a//b', '/a/b'], ['//a///b//', '/a/b/'],
    ['/a/b/..', '/a/'], ['/a/b/.', '/a/b/'], ['/..', '/'], ['/../../a', '/a'], ['/a/..', '/'],
    ['/route./req', '/route./req'], ['/route../req', '/route../req'], ['/.a/..b', '/.a/..b'],
    ['/h%65llo', '/hello'], ['/route%2E/req', '/route./req'], ['/route%2e%2E/req', '/route../req'],
    ['/a/%2E%2E/b', '/b'], ['/a/%2e/b', '/a/b'],
    ['/endel%2fst', '/endel%2Fst'], ['/a%25b', '/a%25b'], ['/a%3fb%23c', '/a%3Fb%23c'],
    ['/cat%20and%20dog', '/cat and dog'], ['/%7e%5F%2D', '/~_-'], ['/caf%C3%A9', '/café'],
    ['/bad%zz%4', '/bad%zz%4'], ['/%FC%80%80%80%80%AF', null], ['/%C3x', null], ['/%FF%82%AC', null],
    ['/%ED%A0%80', null], ['/%E0%80%AF', null], ['/a/%C3/..', '/a/'], ['/%2F..%ba%41/..', '/'],
    ['/users/%6aohn%20doe/profile', '/users/john doe/profile'],
  ]
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () => assert.equal(normalizePath(input), expected))
  }
  it('returns the very same string when nothing changes', () => {
    const s = '/some/plain/path-that-needs-nothing'
    assert.equal(normalizePath(s), s)
  })
})

describe('uri: escapeUpstreamPath (kong/tools/uri.lua escape)', () => {
  const cases: Array<[string, string]> = [
    ['/plain/Path-1_2.3~', '/plain/Path-1_2.3~'],
    ["/!#$&'()*+,/:;=?@[]%", "/!#$&'()*+,/:;=?@[]%"],
    ['/cat and dog', '/cat%20and%20dog'], ['/\\d', '/%5Cd'], ['/123"', '/123%22'],
    ['/a<b>{c}|d^e`', '/a%3Cb%3E%7Bc%7D%7Cd%5Ee%60'], ['/café', '/caf%C3%A9'], ['/€/😀', '/%E2%82%AC/%F0%9F%98%80'],
    ['/\n', '/%0A'],
  ]
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(escapeUpstreamPath(input), expected))
  }
})
