/**
 * Port of Kong's spec/03-plugins/42-ai-prompt-guard/00-config_spec.lua: the plugin's config
 * validated as the Admin API does (the plugins entity, defaults filled), plus the defaults of
 * kong/plugins/ai-prompt-guard/schema.lua.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getSchema } from '../../../src/db/schema/registry.ts'
import { processAutoFields } from '../../../src/db/schema/process.ts'
import { validateEntity } from '../../../src/db/schema/validate.ts'

const plugins = getSchema('plugins')!
type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any

function v (config: unknown): { ok: true; config: Json } | { ok: false; err: Json } {
  const p = processAutoFields(plugins, { name: 'ai-prompt-guard', config }, 'insert')
  if ('errors' in p) return { ok: false, err: JSON.parse(JSON.stringify(p.errors)) }
  const errors = validateEntity(plugins, p.entity, true)
  return errors === undefined ? { ok: true, config: p.entity.config } : { ok: false, err: JSON.parse(JSON.stringify(errors)) }
}
const ok = (config: unknown): Json => { const r = v(config); assert.ok(r.ok, JSON.stringify(r)); return r.config }
const err = (config: unknown): Json => { const r = v(config); assert.ok(!r.ok, `${JSON.stringify(config)} should fail`); return r.err }

const AT_LEAST_ONE = "at least one of these fields must be non-empty: 'config.allow_patterns', 'config.deny_patterns'"

test('ai-prompt-guard schema: won\'t allow both allow_patterns and deny_patterns to be unset', () => {
  assert.equal(err({ allow_all_conversation_history: true })['@entity'][0], AT_LEAST_ONE)
})

test('ai-prompt-guard schema: won\'t allow both allow_patterns and deny_patterns to be empty arrays', () => {
  assert.equal(err({ allow_all_conversation_history: true, allow_patterns: [], deny_patterns: [] })['@entity'][0], AT_LEAST_ONE)
})

test('ai-prompt-guard schema: won\'t allow patterns that are too long', () => {
  assert.deepEqual(err({ allow_all_conversation_history: true, allow_patterns: ['x'.repeat(501)] }), { config: { allow_patterns: ['length must be at most 500'] } })
})

test('ai-prompt-guard schema: won\'t allow too many array items', () => {
  assert.deepEqual(err({ allow_all_conversation_history: true, allow_patterns: Array.from({ length: 11 }, () => 'pattern') }), { config: { allow_patterns: 'length must be at most 10' } })
})

test('ai-prompt-guard schema: allow_all_conversation_history needs to be false if match_all_roles is set to true', () => {
  assert.deepEqual(err({ allow_patterns: ['wat'], allow_all_conversation_history: true, match_all_roles: true }), {
    '@entity': ["failed conditional validation given value of field 'config.match_all_roles'"],
    config: { allow_all_conversation_history: 'value must be false' },
  })
})

test('ai-prompt-guard schema: defaults; patterns are not compiled by the schema (Kong fails them per request)', () => {
  const c = ok({ deny_patterns: ['[]'] })
  assert.equal(c.allow_all_conversation_history, false)
  assert.equal(c.match_all_roles, false)
  assert.equal(c.max_request_body_size, 8192)
  assert.equal(c.llm_format, 'openai')
  assert.deepEqual([...c.deny_patterns], ['[]'])
  ok({ allow_patterns: ['a'], match_all_roles: true })
  assert.deepEqual(err({ deny_patterns: [''] }), { config: { deny_patterns: ['length must be at least 1'] } })
})
