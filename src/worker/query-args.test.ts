/** Unit tests: Kong/nginx query argument parsing, removal and encoding. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeQuery, parseQuery, removeQueryArg } from './query-args.ts'

test('parseQuery: bare keys are true, empty values are "", repeats are arrays, + is a space', () => {
  assert.deepEqual({ ...parseQuery('a&b=&c=1&c=2&d=x+y%21&=skip&e[]=1') }, { a: true, b: '', c: ['1', '2'], d: 'x y!', 'e[]': '1' })
  assert.deepEqual({ ...parseQuery(null) }, {})
  assert.deepEqual({ ...parseQuery('bad=%zz') }, { bad: '%zz' })
})

test('removeQueryArg keeps the others in order and turns + into %20', () => {
  assert.equal(removeQueryArg('a=1&apikey=k&b=x+y', 'apikey'), 'a=1&b=x%20y')
  assert.equal(removeQueryArg('api%6Bey=k&a=1', 'apikey'), 'a=1')
  assert.equal(removeQueryArg('apikey=k', 'apikey'), '')
})

test('encodeQuery sorts keys, repeats arrays, writes true as a bare key', () => {
  assert.equal(encodeQuery({ b: '2 3', a: ['x', 'y'], c: true, d: false }), 'a=x&a=y&b=2%203&c')
})

test('parseQuery stops after max arguments (lua_max_uri_args / lua_max_post_args), 100 by default', () => {
  assert.deepEqual({ ...parseQuery('a=1&b=2&c=3', 2) }, { a: '1', b: '2' })
  assert.deepEqual({ ...parseQuery('a=1&a=2&c=3', 2) }, { a: ['1', '2'] })
  const many = Array.from({ length: 101 }, (_, i) => `k${i}=${i}`).join('&')
  assert.equal(Object.keys(parseQuery(many)).length, 100)
  assert.equal(Object.keys(parseQuery(many, 1000)).length, 101)
})
