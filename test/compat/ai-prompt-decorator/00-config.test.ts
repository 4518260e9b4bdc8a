/**
 * Port of Kong's spec/03-plugins/41-ai-prompt-decorator/00-config_spec.lua: the plugin's config
 * validated as the Admin API does (the plugins entity, defaults filled), plus the field checks of
 * kong/plugins/ai-prompt-decorator/schema.lua.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getSchema } from '../../../src/db/schema/registry.ts'
import { processAutoFields } from '../../../src/db/schema/process.ts'
import { validateEntity } from '../../../src/db/schema/validate.ts'

const plugins = getSchema('plugins')!
type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any

function v (config: unknown): { ok: true; config: Json } | { ok: false; err: Json } {
  const p = processAutoFields(plugins, { name: 'ai-prompt-decorator', config }, 'insert')
  if ('errors' in p) return { ok: false, err: JSON.parse(JSON.stringify(p.errors)) }
  const errors = validateEntity(plugins, p.entity, true)
  return errors === undefined ? { ok: true, config: p.entity.config } : { ok: false, err: JSON.parse(JSON.stringify(errors)) }
}
const ok = (config: unknown): Json => { const r = v(config); assert.ok(r.ok, JSON.stringify(r)); return r.config }
const err = (config: unknown): Json => { const r = v(config); assert.ok(!r.ok, `${JSON.stringify(config)} should fail`); return r.err }

const AT_LEAST_ONE = "at least one of these fields must be non-empty: 'config.prompts.prepend', 'config.prompts.append'"

test('ai-prompt-decorator schema: won\'t allow an empty config object', () => {
  assert.equal(err({})['@entity'][0], AT_LEAST_ONE)
})

test('ai-prompt-decorator schema: won\'t allow both head and tail to be unset', () => {
  assert.equal(err({ prompts: {} })['@entity'][0], AT_LEAST_ONE)
})

test('ai-prompt-decorator schema: won\'t allow both prepend and append to be empty arrays', () => {
  assert.equal(err({ prompts: { prepend: [], append: [] } })['@entity'][0], AT_LEAST_ONE)
})

test('ai-prompt-decorator schema: allows prepend only', () => {
  ok({ prompts: { prepend: [{ role: 'system', content: 'Prepend text 1 here.' }], append: [] } })
})

test('ai-prompt-decorator schema: allows append only', () => {
  ok({ prompts: { prepend: [], append: [{ role: 'system', content: 'Prepend text 1 here.' }] } })
})

test('ai-prompt-decorator schema: defaults and field checks (schema.lua)', () => {
  const c = ok({ prompts: { prepend: [{ content: 'x' }] } })
  assert.deepEqual({ ...c.prompts.prepend[0] }, { role: 'system', content: 'x' })
  assert.equal(c.max_request_body_size, 8192)
  assert.equal(c.llm_format, 'openai')
  assert.deepEqual(err({ prompts: { prepend: [{ role: 'tool', content: 'x' }] } }).config.prompts.prepend, [{ role: 'expected one of: system, assistant, user' }])
  assert.deepEqual(err({ prompts: { append: [{ role: 'user' }] } }).config.prompts.append, [{ content: 'required field missing' }])
  assert.deepEqual(err({ prompts: { append: [{ content: '' }] } }).config.prompts.append, [{ content: 'length must be at least 1' }])
  assert.deepEqual(err({ prompts: { append: [{ content: 'x'.repeat(501) }] } }).config.prompts.append, [{ content: 'length must be at most 500' }])
  const sixteen = Array.from({ length: 16 }, () => ({ content: 'x' }))
  assert.equal(err({ prompts: { prepend: sixteen } }).config.prompts.prepend, 'length must be at most 15')
  assert.equal(err({ prompts: { prepend: [{ content: 'x' }] }, llm_format: 'anthropic' }).config.llm_format, 'expected one of: openai, bedrock, gemini')
  assert.equal(err({ prompts: { prepend: [{ content: 'x' }] }, max_request_body_size: 0 }).config.max_request_body_size, 'value must be greater than 0')
  assert.equal(ok({ prompts: { append: [{ role: 'user', content: 'x' }] }, llm_format: 'gemini', max_request_body_size: 65536 }).llm_format, 'gemini')
})
