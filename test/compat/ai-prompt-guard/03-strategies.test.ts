/**
 * The AI prompt plugins through a whole gateway in Kong's two strategies of the 02-integration
 * specs: postgres (plugins created with the Admin API, Kong's schema-violation body for a bad
 * config, /schemas/plugins and /plugins/enabled) and off (a kong.yml declarative configuration).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startDblessGateway } from '../../helpers/dbless.ts'
import { adminCall, until } from '../../helpers/admin-api.ts'
import { startEcho, type Upstream } from '../../helpers/upstream.ts'

let db: TestDb
let g: Gateway
let echo: Upstream

before(async () => {
  echo = await startEcho()
  db = await createTestDb()
  g = await startGateway(db.settings)
})

after(async () => {
  await g?.stop()
  await db?.drop()
  await echo?.close()
})

async function post (proxy: string, path: string, body: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await request(proxy + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const text = await r.body.text()
  return { status: r.statusCode, json: text === '' ? null : JSON.parse(text) }
}

test('postgres: Admin API and proxy', async () => {
  const enabled = (await adminCall(g.admin, 'GET', '/plugins/enabled')).json.enabled_plugins as string[]
  for (const name of ['ai-prompt-decorator', 'ai-prompt-guard', 'ai-prompt-template']) assert.ok(enabled.includes(name), name)

  const schema = await adminCall(g.admin, 'GET', '/schemas/plugins/ai-prompt-guard')
  assert.equal(schema.status, 200)
  assert.deepEqual(schema.json.entity_checks[0], { at_least_one_of: ['config.allow_patterns', 'config.deny_patterns'] })

  const svc = await adminCall(g.admin, 'POST', '/services', { name: 'llm', url: echo.url })
  assert.equal(svc.status, 201)
  const route = await adminCall(g.admin, 'POST', '/services/llm/routes', { name: 'chat', paths: ['/chat'] })
  assert.equal(route.status, 201)

  const bad = await adminCall(g.admin, 'POST', '/routes/chat/plugins', { name: 'ai-prompt-guard', config: { allow_patterns: ['x'], allow_all_conversation_history: true, match_all_roles: true } })
  assert.equal(bad.status, 400)
  assert.equal(bad.json.name, 'schema violation')
  assert.deepEqual(bad.json.fields, {
    '@entity': ["failed conditional validation given value of field 'config.match_all_roles'"],
    config: { allow_all_conversation_history: 'value must be false' },
  })
  assert.equal((await adminCall(g.admin, 'GET', '/plugins')).json.data.length, 0, 'nothing half-written')

  for (const p of [
    { name: 'ai-prompt-template', config: { templates: [{ name: 'ask', template: '{"messages":[{"role":"user","content":"About {{topic}}"}]}' }] } },
    { name: 'ai-prompt-decorator', config: { prompts: { append: [{ role: 'system', content: 'Be brief.' }] } } },
    { name: 'ai-prompt-guard', config: { deny_patterns: ['(?i)password'] } },
  ]) {
    const r = await adminCall(g.admin, 'POST', '/routes/chat/plugins', p)
    assert.equal(r.status, 201, JSON.stringify(r.json))
  }

  const ok = await until('the AI plugins on the route', async () => {
    const r = await post(g.proxy, '/chat', { messages: '{template://ask}', properties: { topic: 'gateways' } })
    return r.status === 200 && JSON.parse(r.json.body as string).messages?.length === 2 ? r : undefined
  })
  assert.deepEqual(JSON.parse(ok.json.body as string), { messages: [{ role: 'user', content: 'About gateways' }, { role: 'system', content: 'Be brief.' }] })
  const refused = await post(g.proxy, '/chat', { messages: '{template://ask}', properties: { topic: 'my PASSWORD' } })
  assert.equal(refused.status, 400)
  assert.deepEqual(refused.json, { error: { message: 'bad request' } })
})

test('off: a declarative configuration', async (t) => {
  const d = await startDblessGateway({
    declarative: [
      '_format_version: "3.0"',
      'services:',
      '- name: llm',
      `  url: ${echo.url}`,
      '  routes:',
      '  - name: chat',
      '    paths: [/chat]',
      '    plugins:',
      '    - name: ai-prompt-guard',
      '      config:',
      '        allow_patterns: ["cheese"]',
      '    - name: ai-prompt-decorator',
      '      config:',
      '        prompts:',
      '          prepend:',
      '          - content: You run a cheese shop.',
    ].join('\n'),
  })
  t.after(() => d.stop())
  const served = await post(d.proxy, '/chat', { messages: [{ role: 'user', content: 'Any cheese today?' }] })
  assert.equal(served.status, 200)
  assert.deepEqual(JSON.parse(served.json.body as string).messages[0], { role: 'system', content: 'You run a cheese shop.' })
  const refused = await post(d.proxy, '/chat', { messages: [{ role: 'user', content: 'Any wine?' }] })
  assert.equal(refused.status, 400)
  assert.deepEqual(refused.json, { error: { message: 'bad request' } })
})
