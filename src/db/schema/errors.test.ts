/**
 * Kong's error objects and their pretty-printed messages (kong/db/errors.lua with pl.pretty),
 * and the Lua pattern translation schema files rely on.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  foreignKeyViolationInvalidReference, foreignKeyViolationRestricted, foreignKeysUnresolved, invalidOptions,
  primaryKeyViolation, schemaViolation, uniqueViolation,
} from './db-errors.ts'
import { plPretty } from './pretty.ts'
import { luaMatches } from './lua-pattern.ts'
import { invalidUtf8At } from './utf8.ts'

test('schema violations: one error, several sorted with @entity first, nested and element paths', () => {
  assert.equal(schemaViolation({ name: 'required field missing' }).errT.message, 'schema violation (name: required field missing)')
  const m = schemaViolation({
    protocols: ['expected one of: http'],
    service: { protocol: 'bad' },
    '@entity': ['entity error'],
    a: 'first',
  }).errT
  assert.equal(m.message, '4 schema violations (entity error; a: first; protocols.1: expected one of: http; service.protocol: bad)')
  assert.equal(m.code, 2)
  assert.equal(m.name, 'schema violation')
  const sparse: string[] = []
  sparse[2] = 'third'
  assert.equal(schemaViolation({ paths: sparse }).errT.message, 'schema violation (paths.3: third)')
  assert.equal(JSON.stringify(schemaViolation({ paths: sparse }).errT.fields), '{"paths":[null,null,"third"]}')
  assert.equal(schemaViolation({ sources: [{ ip: 'bad' }] }).errT.message, 'schema violation (sources.1: {\n  ip = "bad"\n})')
})

test('unique, primary and foreign key errors use pl.pretty renderings of the keys', () => {
  const u = uniqueViolation({ name: 'svc' }).errT
  assert.deepEqual(u, { code: 5, name: 'unique constraint violation', message: 'UNIQUE violation detected on \'{name="svc"}\'', fields: { name: 'svc' } })
  assert.equal(uniqueViolation({ consumer: null, name: 'basic-auth', route: null, service: { id: 'x' } }).errT.message,
    'UNIQUE violation detected on \'{consumer=null,name="basic-auth",route=null,service={id="x"}}\'')
  assert.equal(primaryKeyViolation({ id: 'x' }).errT.message, 'primary key violation on key \'{id="x"}\'')
  assert.deepEqual(foreignKeyViolationInvalidReference({ id: 'x' }, 'service', 'services').errT, {
    code: 4,
    name: 'foreign key violation',
    message: 'the foreign key \'{id="x"}\' does not reference an existing \'services\' entity.',
    fields: { service: { id: 'x' } },
  })
  assert.deepEqual(foreignKeyViolationRestricted('services', 'routes').errT, {
    code: 4,
    name: 'foreign key violation',
    message: "an existing 'routes' entity references this 'services' entity",
    fields: { '@referenced_by': 'routes' },
  })
  assert.deepEqual(foreignKeysUnresolved({ service: { name: { name: 'name', value: 'non-existing', parent: 'services' } } }).errT, {
    code: 13,
    name: 'foreign keys unresolved',
    message: 'foreign key unresolved (service.name: the foreign key cannot be resolved with \'{name="non-existing"}\' for an existing \'services\' entity)',
    fields: { service: { name: 'the foreign key cannot be resolved with \'{name="non-existing"}\' for an existing \'services\' entity' } },
  })
  assert.deepEqual(invalidOptions({ tags: 'cannot be null' }).errT, {
    code: 11, name: 'invalid options', message: 'invalid option (tags: cannot be null)', options: { tags: 'cannot be null' },
  })
})

test('pl.pretty: quoting, identifiers, arrays and nesting', () => {
  assert.equal(plPretty({ 'a-b': 1, b: true, c: 'x"y' }, ''), '{["a-b"]=1,b=true,c="x\\"y"}')
  assert.equal(plPretty(['a', 'b'], ''), '{"a","b"}')
  assert.equal(plPretty({ a: { b: 1 } }), '{\n  a = {\n    b = 1\n  }\n}')
  assert.equal(plPretty('multi\nline'), '[[multi\nline]]')
  assert.equal(plPretty({ end: 1 }, ''), '{["end"]=1}')
})

test('lua patterns: classes, sets, anchors and lazy quantifiers', () => {
  assert.ok(luaMatches('GET', '^%u+$'))
  assert.ok(!luaMatches('get', '^%u+$'))
  assert.ok(luaMatches('a*', '^[^*]*%*?[^*]*$'))
  assert.ok(!luaMatches('*a*', '^[^*]*%*?[^*]*$'))
  assert.ok(luaMatches('HoSt', '^[Hh][Oo][Ss][Tt]$'))
  assert.ok(luaMatches('x.y', '%.'))
  assert.ok(luaMatches('a-b_c', '^[%w%-_]+$'))
  assert.ok(luaMatches('<x>', '^<.->$'))
})

test('utf-8: the first invalid sequence position is reported 1-based', () => {
  assert.equal(invalidUtf8At(Buffer.from('abc')), 0)
  assert.equal(invalidUtf8At(Buffer.from('円')), 0)
  assert.equal(invalidUtf8At(Buffer.from([0x61, 0xff])), 2)
  assert.equal(invalidUtf8At(Buffer.from([0x61, 0xe5, 0x86])), 2)
  assert.equal(invalidUtf8At(Buffer.from([0xed, 0xa0, 0x80])), 1) // an encoded surrogate
  assert.equal(invalidUtf8At(Buffer.from([0xf0, 0x9f, 0xa6, 0x8d])), 0)
})
