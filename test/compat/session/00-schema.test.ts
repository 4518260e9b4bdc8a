/**
 * The session plugin's schema (kong/plugins/session/schema.lua) as the Admin API validates it:
 * Kong's defaults (a random 44-character secret drawn once per process), the one_of checks, the
 * consumer scope refused, and the deprecated 2.x names mapped by their shorthands.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { getSchema } from '../../../src/db/schema/registry.ts'
import { processAutoFields } from '../../../src/db/schema/process.ts'
import { validateEntity } from '../../../src/db/schema/validate.ts'
import { randomSecret } from '../../../src/plugins/session/schema.ts'

const plugins = getSchema('plugins')!
type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any

function v (config: unknown, extra: Record<string, unknown> = {}): { ok: true; config: Json } | { ok: false; err: Json } {
  const p = processAutoFields(plugins, { name: 'session', config, ...extra }, 'insert')
  if ('errors' in p) return { ok: false, err: JSON.parse(JSON.stringify(p.errors)) }
  const errors = validateEntity(plugins, p.entity, true)
  return errors === undefined ? { ok: true, config: p.entity.config } : { ok: false, err: JSON.parse(JSON.stringify(errors)) }
}
const ok = (config: unknown): Json => { const r = v(config); assert.ok(r.ok, JSON.stringify(r)); return r.config }
const err = (config: unknown, extra: Record<string, unknown> = {}): Json => { const r = v(config, extra); assert.ok(!r.ok, `${JSON.stringify(config)} should fail`); return r.err }

test('defaults: Kong\'s values and a random secret, the same for every instance of this process', () => {
  const a = ok({})
  const b = ok({})
  assert.match(a.secret, /^[A-Za-z0-9]{44}$/)
  assert.equal(a.secret, b.secret)
  assert.notEqual(randomSecret(), randomSecret())
  assert.equal(a.storage, 'cookie')
  assert.equal(a.cookie_same_site, 'Strict')
  assert.deepEqual(a.logout_methods, ['POST', 'DELETE'])
  assert.equal(a.idling_timeout, 900)
  assert.equal(a.rolling_timeout, 3600)
  assert.equal(a.absolute_timeout, 86400)
  assert.equal(ok({ secret: 'mine' }).secret, 'mine')
})

test('checks: storage, SameSite, logout methods, header names, scope', () => {
  assert.deepEqual(err({ storage: 'redis' }), { config: { storage: 'expected one of: cookie, kong' } })
  assert.deepEqual(err({ cookie_same_site: 'off' }), { config: { cookie_same_site: 'expected one of: Strict, Lax, None, Default' } })
  assert.match(JSON.stringify(err({ logout_methods: ['PUT'] }).config.logout_methods), /expected one of: GET, POST, DELETE/)
  assert.match(JSON.stringify(err({ response_headers: ['id', 'nope'] }).config.response_headers), /expected one of: id, audience, subject, timeout, idling-timeout, rolling-timeout, absolute-timeout/)
  assert.deepEqual(err({ idling_timeout: 'x' }), { config: { idling_timeout: 'expected a number' } })
  assert.ok(err({}, { consumer: { id: randomUUID() } }).consumer !== undefined, 'no consumer scope')
  const c = ok({ response_headers: ['id', 'timeout'], request_headers: ['subject'], logout_methods: ['GET'], storage: 'kong' })
  assert.deepEqual(c.response_headers, ['id', 'timeout'])
  assert.equal(c.storage, 'kong')
})

test('the deprecated 2.x names map to their 3.x fields', () => {
  const c = ok({ cookie_lifetime: 100, cookie_idletime: 50, cookie_renew: 600, cookie_discard: 5, cookie_samesite: 'off', cookie_httponly: false, cookie_persistent: true })
  assert.equal(c.rolling_timeout, 100)
  assert.equal(c.idling_timeout, 50)
  assert.equal(c.stale_ttl, 5)
  assert.equal(c.cookie_same_site, 'Lax')
  assert.equal(c.cookie_http_only, false)
  assert.equal(c.remember, true)
  for (const k of ['cookie_lifetime', 'cookie_idletime', 'cookie_renew', 'cookie_discard', 'cookie_samesite', 'cookie_httponly', 'cookie_persistent']) assert.equal(c[k], undefined, k)
  assert.equal(ok({ cookie_samesite: 'None' }).cookie_same_site, 'None')
})
