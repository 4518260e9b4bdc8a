/**
 * Port of Kong's spec/03-plugins/44-standard-webhooks/01-unit_spec.lua (the plugin's config
 * schema through the `plugins` entity, as validate_plugin_config_schema does), plus the signing
 * helper Kong's integration spec signs with (internal.lua `sign`) and the Lua number conversions
 * it rests on.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { getSchema } from '../../../src/db/schema/registry.ts'
import { processAutoFields } from '../../../src/db/schema/process.ts'
import { validateEntity } from '../../../src/db/schema/validate.ts'
import { luaNumberString, luaToNumber, sign } from '../../../src/plugins/standard-webhooks/signature.ts'

const plugins = getSchema('plugins')!

function validate (config: Record<string, unknown>): { config?: Record<string, unknown>; err?: unknown } {
  const p = processAutoFields(plugins, { name: 'standard-webhooks', config }, 'insert')
  if ('errors' in p) return { err: JSON.parse(JSON.stringify(p.errors)) }
  const errors = validateEntity(plugins, p.entity, true)
  if (errors !== undefined) return { err: JSON.parse(JSON.stringify(errors)) }
  return { config: JSON.parse(JSON.stringify(p.entity.config)) as Record<string, unknown> }
}

test('standard-webhooks (schema): accepts a valid config', () => {
  const r = validate({ secret_v1: 'abc123', tolerance_second: 5 * 60 })
  assert.equal(r.err, undefined)
  assert.ok(r.config !== undefined)
})

test('standard-webhooks (schema): secret must be set, is not nullable, must be a string', () => {
  assert.deepEqual(validate({ tolerance_second: 5 * 60 }).err, { config: { secret_v1: 'required field missing' } })
  assert.deepEqual(validate({ secret_v1: null, tolerance_second: 5 * 60 }).err, { config: { secret_v1: 'required field missing' } })
  assert.deepEqual(validate({ secret_v1: 123, tolerance_second: 5 * 60 }).err, { config: { secret_v1: 'expected a string' } })
})

test('standard-webhooks (schema): tolerance_second gets a default, is not nullable, is an integer >= 0', () => {
  assert.deepEqual(validate({ secret_v1: 'abc123' }).config, { secret_v1: 'abc123', tolerance_second: 5 * 60 })
  assert.deepEqual(validate({ secret_v1: 'abc123', tolerance_second: null }).err, { config: { tolerance_second: 'required field missing' } })
  assert.deepEqual(validate({ secret_v1: 'abc123', tolerance_second: 5.67 }).err, { config: { tolerance_second: 'expected an integer' } })
  assert.deepEqual(validate({ secret_v1: 'abc123', tolerance_second: -1 }).err, { config: { tolerance_second: 'value must be greater than -1' } })
  assert.deepEqual(validate({ secret_v1: 'abc123', tolerance_second: 0 }).config, { secret_v1: 'abc123', tolerance_second: 0 })
})

test('standard-webhooks (schema): no consumer scope, http protocols only', () => {
  const consumer = { id: '6c1c0d1a-8c42-4c0c-9a3b-5b2a3b9c2f10' }
  const p = processAutoFields(plugins, { name: 'standard-webhooks', config: { secret_v1: 's' }, consumer }, 'insert')
  assert.ok(!('errors' in p))
  assert.deepEqual(JSON.parse(JSON.stringify(validateEntity(plugins, p.entity, true))), { consumer: 'value must be null' })
  const q = processAutoFields(plugins, { name: 'standard-webhooks', config: { secret_v1: 's' }, protocols: ['tcp'] }, 'insert')
  assert.ok(!('errors' in q))
  assert.deepEqual(JSON.parse(JSON.stringify(validateEntity(plugins, q.entity, true))), { protocols: ['expected one of: grpc, grpcs, http, https'] })
})

test('standard-webhooks: sign is v1, + base64 HMAC-SHA256 of id.timestamp.body with the secret as given', () => {
  const secret = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek'
  const expected = createHmac('sha256', secret).update(`${id}.1614265330.{"test": 2432232314}`).digest('base64')
  assert.equal(sign(secret, id, 1614265330, '{"test": 2432232314}'), `v1,${expected}`)
  assert.equal(sign(secret, id, 1614265330, Buffer.from('{"test": 2432232314}')), `v1,${expected}`)
})

test('standard-webhooks: the timestamp is read with Lua tonumber and signed as Lua prints it', () => {
  assert.equal(luaToNumber('1700000000'), 1700000000)
  assert.equal(luaToNumber('  1700000000\t'), 1700000000)
  assert.equal(luaToNumber('1700000000.0'), 1700000000)
  assert.equal(luaToNumber('+17'), 17)
  assert.equal(luaToNumber('0x10'), 16)
  assert.equal(luaToNumber('1e3'), 1000)
  assert.equal(luaToNumber('-inf'), -Infinity)
  assert.ok(Number.isNaN(luaToNumber('NaN')))
  for (const bad of ['XYZ', '', ' ', '12abc', '0b1', '1_000', '.', '1e']) assert.equal(luaToNumber(bad), null, bad)
  assert.equal(luaNumberString(1700000000), '1700000000')
  assert.equal(luaNumberString(1700000000.5), '1700000000.5')
  assert.equal(luaNumberString(0.1 + 0.2), '0.3')
  assert.equal(luaNumberString(1e15), '1e+15')
  assert.equal(luaNumberString(123456789012345), '1.2345678901234e+14')
  assert.equal(luaNumberString(0.00001), '1e-05')
  assert.equal(luaNumberString(0.0001), '0.0001')
  assert.equal(luaNumberString(-2.5), '-2.5')
  assert.equal(luaNumberString(0), '0')
  assert.equal(luaNumberString(Infinity), 'inf')
})

test('standard-webhooks: %.14g rounds ties on the exact binary value to even, as C does', () => {
  assert.equal(luaNumberString(123456789012346), '1.2345678901235e+14')
  assert.equal(luaNumberString(0.5), '0.5')
  assert.equal(luaNumberString(99999999999999.5), '1e+14')
  assert.equal(luaNumberString(-1700000000.25), '-1700000000.25')
  assert.equal(luaNumberString(1 / 3), '0.33333333333333')
  assert.equal(luaNumberString(2 / 3), '0.66666666666667')
  assert.equal(luaNumberString(2 ** 53), '9.007199254741e+15')
})
