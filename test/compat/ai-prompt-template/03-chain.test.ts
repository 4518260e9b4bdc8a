/**
 * The three AI prompt plugins on one route, in Kong's order (ai-prompt-template 773, then
 * ai-prompt-decorator 772, then ai-prompt-guard 771): the decorator reads the body the template
 * rendered, and the guard checks the request the decorator produced (Kong's "request body table
 * in use", kong/llm/plugin/ctx.lua). Also `log_original_request`: the body as the client sent it
 * under `ai.payload.original_request` in the log entry (http-log to a collector).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin, pluginGateway } from '../../helpers/kong-rows.ts'
import { httpCollector } from '../../integration/plugin-log-harness.ts'

interface Echoed { method: string; url: string; headers: Record<string, string>; body: string }

const TEMPLATES = [{ name: 'ask', template: '{"messages":[{"role":"user","content":"Tell me about {{topic}}."}]}' }]

test('ai prompt plugins together', async (t) => {
  const col = await httpCollector(t)
  const { url } = await pluginGateway(t, {
    routes: [{ hosts: ['chain.test'] }, { hosts: ['latest.test'] }, { hosts: ['log.test'] }, { hosts: ['guard-only.test'] }],
    plugins: ([chain, latest, log, guardOnly]) => [
      plugin('ai-prompt-template', { templates: TEMPLATES }, { route: chain }),
      plugin('ai-prompt-decorator', { prompts: { prepend: [{ role: 'user', content: 'Never mention cheese.' }] } }, { route: chain }),
      plugin('ai-prompt-guard', { deny_patterns: ['weapons'], allow_patterns: ['Tell me about', 'Never mention'] }, { route: chain }),
      plugin('ai-prompt-decorator', { prompts: { append: [{ role: 'user', content: 'Answer in French.' }] } }, { route: latest }),
      plugin('ai-prompt-guard', { allow_patterns: ['^Answer in French\\.$'], allow_all_conversation_history: true }, { route: latest }),
      plugin('ai-prompt-template', { templates: TEMPLATES, log_original_request: true }, { route: log }),
      plugin('http-log', { http_endpoint: col.url }, { route: log }),
      plugin('ai-prompt-guard', { allow_patterns: ['^Answer in French\\.$'], allow_all_conversation_history: true }, { route: guardOnly }),
    ],
  })

  const send = async (host: string, body: unknown): Promise<{ status: number; text: string }> => {
    const res = await request(`${url}/chat`, { method: 'POST', headers: { host, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    return { status: res.statusCode, text: await res.body.text() }
  }

  await t.test('rendered, then decorated, then guarded', async () => {
    const r = await send('chain.test', { messages: '{template://ask}', properties: { topic: 'gateways' } })
    assert.equal(r.status, 200)
    const e = JSON.parse(r.text) as Echoed
    assert.deepEqual(JSON.parse(e.body), {
      messages: [{ role: 'user', content: 'Never mention cheese.' }, { role: 'user', content: 'Tell me about gateways.' }],
    })
    assert.equal(e.headers['content-type'], 'application/json')
  })

  await t.test('the guard sees the rendered template', async () => {
    const r = await send('chain.test', { messages: '{template://ask}', properties: { topic: 'weapons' } })
    assert.equal(r.status, 400)
    assert.deepEqual(JSON.parse(r.text), { error: { message: 'bad request' } })
  })

  await t.test('the guard sees the decorated messages', async () => {
    // allow_all_conversation_history: only the newest user message counts, and that is the appended one
    let r = await send('latest.test', { messages: [{ role: 'user', content: 'anything at all' }] })
    assert.equal(r.status, 200)
    r = await send('guard-only.test', { messages: [{ role: 'user', content: 'anything at all' }] })
    assert.equal(r.status, 400, 'the same guard without the decorator')
    r = await send('latest.test', { messages: [{ role: 'user', content: 'Answer in French.' }, { role: 'assistant', content: 'Oui.' }] })
    assert.equal(r.status, 200)
  })

  await t.test('an untemplated request runs through the decorator and the guard', async () => {
    const r = await send('chain.test', { messages: [{ role: 'user', content: 'Tell me about brie.' }] })
    assert.equal(r.status, 200)
    assert.equal((JSON.parse((JSON.parse(r.text) as Echoed).body) as { messages: unknown[] }).messages.length, 2)
  })

  await t.test('log_original_request: the body as received, in the log entry', async () => {
    const original = JSON.stringify({ messages: '{template://ask}', properties: { topic: 'logs' } })
    const res = await request(`${url}/chat`, { method: 'POST', headers: { host: 'log.test', 'content-type': 'application/json' }, body: original })
    const e = await res.body.json() as Echoed
    assert.equal(res.statusCode, 200)
    assert.deepEqual(JSON.parse(e.body), { messages: [{ role: 'user', content: 'Tell me about logs.' }] })
    const got = await col.accepted$(1)
    const entry = JSON.parse(got[0]!.body) as { ai?: { payload?: { original_request?: string } } }
    assert.equal(entry.ai?.payload?.original_request, original)
  })
})
