/**
 * Admin argument handling: Kong's form decoding (arguments_decoder.lua), type inference
 * (arguments.lua infer_value), urlencoded and multipart parsing, and list options.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeArgs } from './args.ts'
import { BodyError, parseArgs } from './body.ts'
import { inferArgs, inferValue } from './infer.ts'
import { MultipartError, boundaryOf, parseMultipart } from './multipart.ts'
import { listArgs } from './list-options.ts'
import { routes } from '../db/schema/entities/routes.ts'
import { services } from '../db/schema/entities/services.ts'
import { InvalidUtf8 } from '../db/schema/types.ts'
import { DbError } from '../db/schema/db-errors.ts'

const form = (s: string, method = 'POST'): unknown => JSON.parse(JSON.stringify(decodeArgs(parseArgs(Buffer.from(s)), method)))

test('form decoding: arrays from [], [n] and repeated keys', () => {
  assert.deepEqual(form('paths[]=/a&paths[]=/b'), { paths: ['/a', '/b'] })
  assert.deepEqual(form('paths[1]=/a&paths[2]=/b'), { paths: ['/a', '/b'] })
  assert.deepEqual(form('paths=/a&paths=/b'), { paths: ['/a', '/b'] })
  assert.deepEqual(form('paths=/a'), { paths: '/a' })
  assert.deepEqual(form('x[2]=a'), { x: { 2: 'a' } })
  assert.deepEqual(form('x[1][1]=a'), { x: [['a']] })
})

test('form decoding: dotted and bracketed keys nest', () => {
  assert.deepEqual(form('config.key_names[1]=apikey&config.key_names[2]=key'), { config: { key_names: ['apikey', 'key'] } })
  assert.deepEqual(form('headers.x-foo[]=bar&headers.x-foo[]=baz'), { headers: { 'x-foo': ['bar', 'baz'] } })
  assert.deepEqual(form('service.id=abc&service.name=x'), { service: { id: 'abc', name: 'x' } })
  assert.deepEqual(form('a[b]=1'), { a: { b: '1' } })
  assert.deepEqual(form('a[b]=1', 'GET'), { 'a[b]': '1' })
  assert.deepEqual(form('a%5Bb%5D=1'), { a: { b: '1' } })
  assert.deepEqual(form('x[1].a=1&x[1].b=2'), { x: [{ a: '1', b: '2' }] })
})

test('form decoding keeps Kong\'s quirks: a leading or trailing dot names the field "name"', () => {
  assert.deepEqual(form('.x=1'), { name: '1' })
  assert.deepEqual(form('x.=1'), { name: '1' })
})

test('form decoding: prototype keys are plain data', () => {
  const v = decodeArgs(parseArgs(Buffer.from('__proto__[polluted]=1&constructor=2&a[__proto__]=3')), 'POST')
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
  assert.deepEqual(Object.keys(v).sort(), ['__proto__', 'a', 'constructor'])
  assert.equal(Object.getPrototypeOf(v), null)
})

test('urlencoded parsing: + and %XX decoding, bare keys, bad escapes, invalid UTF-8, argument limit', () => {
  const a = parseArgs(Buffer.from('d=%41+b&b&c=%zz&e=%ff&f='))
  assert.deepEqual(a.slice(0, 3), [{ name: 'd', value: 'A b' }, { name: 'b', value: true }, { name: 'c', value: '%zz' }])
  assert.ok(a[3]!.value instanceof InvalidUtf8)
  assert.equal((a[3]!.value as InvalidUtf8).position, 1)
  assert.deepEqual(a[4], { name: 'f', value: '' })
  assert.equal(parseArgs(Buffer.from(Array.from({ length: 1000 }, (_, i) => `a=${i}`).join('&'))).length, 1)
  assert.throws(() => parseArgs(Buffer.from(Array.from({ length: 1001 }, (_, i) => `a=${i}`).join('&'))),
    (e: unknown) => e instanceof BodyError && e.status === 400 && (e.payload as { message: string }).message === 'Too many arguments')
})

test('inference: numbers, booleans, lists, nulls and foreign keys follow the schema', () => {
  const args = inferArgs(decodeArgs(parseArgs(Buffer.from('paths=/a&strip_path=false&regex_priority=5&tags=&service.id=&name=r&methods=GET')), 'POST'), routes)
  assert.deepEqual(JSON.parse(JSON.stringify(args)), {
    paths: ['/a'], strip_path: false, regex_priority: 5, tags: null, service: { id: null }, name: 'r', methods: ['GET'],
  })
  assert.equal(inferValue('x', { type: 'integer' }), 'x')
  assert.equal(inferValue('0x10', { type: 'integer' }), 16)
  assert.equal(inferValue('yes', { type: 'boolean' }), 'yes')
  const s = inferArgs(decodeArgs(parseArgs(Buffer.from('url=&port=80')), 'POST'), services)
  assert.deepEqual(JSON.parse(JSON.stringify(s)), { url: null, port: 80 })
})

test('multipart: fields, repeated names, quoted names and file parts', () => {
  const b = 'XyZ'
  const body = Buffer.from([
    'preamble', `--${b}`, 'Content-Disposition: form-data; name="name"', '', 'svc', `--${b}`,
    'Content-Disposition: form-data; name="paths[]"', '', '/a', `--${b}`,
    'content-disposition: form-data; name="file"; filename="x.txt"', 'Content-Type: text/plain', '', 'line1\r\nline2', `--${b}`,
    'Content-Disposition: form-data; name="empty"', '', '', `--${b}--`, 'epilogue',
  ].join('\r\n'))
  assert.deepEqual(parseMultipart(body, b, 10), [
    { name: 'name', value: 'svc' }, { name: 'paths[]', value: '/a' }, { name: 'file', value: 'line1\r\nline2' }, { name: 'empty', value: '' },
  ])
  assert.equal(boundaryOf('multipart/form-data; boundary="a b"'), 'a b')
  assert.equal(boundaryOf('multipart/form-data'), null)
})

test('multipart: malformed bodies are refused', () => {
  const bad = [
    'no boundary at all',
    '--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue',
    '--B\r\nContent-Type: text/plain\r\n\r\nv\r\n--B--',
    '--B\r\nContent-Disposition: form-data\r\n\r\nv\r\n--B--',
    '--Bgarbage\r\n',
  ]
  for (const s of bad) assert.throws(() => parseMultipart(Buffer.from(s), 'B', 10), MultipartError, s)
  const many = Array.from({ length: 3 }, () => '--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n').join('') + '--B--'
  assert.throws(() => parseMultipart(Buffer.from(many), 'B', 2), /too many parts/)
})

test('list options: tags and/or, Kong\'s errors and the next-link suffix', () => {
  assert.deepEqual(listArgs({ tags: ['a,b'], size: '3' }, true), { options: { tags: ['a', 'b'], tagsCond: 'and', size: 3 }, nextSuffix: '&tags=a%2Cb&size=3' })
  assert.deepEqual(listArgs({ tags: ['a/b'] }, true).options, { tags: ['a', 'b'], tagsCond: 'or' })
  const err = (q: Record<string, unknown>): unknown => {
    try { listArgs(q, true) } catch (e) { return (e as DbError).errT }
    return null
  }
  assert.deepEqual(err({ tags: null }), { code: 11, name: 'invalid options', message: 'invalid option (tags: cannot be null)', options: { tags: 'cannot be null' } })
  assert.equal((err({ tags: ['a,b/c'] }) as DbError['errT']).message, 'invalid option (tags: invalid filter syntax)')
  assert.equal((err({ tags: ['a,b,c,d,e,f'] }) as DbError['errT']).message, 'invalid option (tags: cannot query more than 5 tags)')
  assert.deepEqual(err({ size: 'x' }), { code: 9, name: 'invalid size', message: 'size must be a number' })
  assert.deepEqual(err({ size: ['1', '2'] }), { code: 9, name: 'invalid size', message: 'size must be a number' })
  assert.deepEqual(listArgs({ tags: ['a'] }, false).options, {})
})
