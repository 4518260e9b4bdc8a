/**
 * Port of Kong's spec/03-plugins/41-ai-prompt-decorator/02-integration_spec.lua: a real gateway
 * (worker threads) in front of the echo upstream, which answers the request it received; the
 * body that left the gateway must carry the prepended / appended messages. Kong's spec also reads
 * ngx.ctx through its `ctx-checker-last` test plugin, which Sluice does not have; the shared state
 * is checked through ai-prompt-guard in 03-chain instead.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const OPENAI_FLAT_CHAT = {
  messages: [
    { role: 'user', content: 'I think that cheddar is the best cheese.' },
    { role: 'assistant', content: 'No, brie is the best cheese.' },
    { role: 'user', content: 'Why brie?' },
  ],
}

interface Echoed { method: string; url: string; headers: Record<string, string>; body: string }

test('ai-prompt-decorator 02-integration', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ hosts: ['prepend.decorate.local'] }, { hosts: ['append.decorate.local'] }, { hosts: ['both.decorate.local'] }],
    plugins: ([prepend, append, both]) => [
      plugin('ai-prompt-decorator', {
        prompts: { prepend: [{ role: 'system', content: 'Prepend text 1 here.' }, { role: 'system', content: 'Prepend text 2 here.' }] },
      }, { route: prepend }),
      plugin('ai-prompt-decorator', {
        prompts: { append: [{ role: 'assistant', content: 'Append text 1 here.' }, { role: 'user', content: 'Append text 2 here.' }] },
      }, { route: append }),
      plugin('ai-prompt-decorator', {
        prompts: {
          prepend: [{ role: 'system', content: 'Prepend text 1 here.' }, { role: 'assistant', content: 'Prepend text 2 here.' }],
          append: [{ role: 'assistant', content: 'Append text 3 here.' }, { role: 'user', content: 'Append text 4 here.' }],
        },
      }, { route: both }),
    ],
  })

  const send = async (host: string): Promise<{ messages: Array<{ role: string; content: string }> }> => {
    const res = await request(`${url}/`, { method: 'GET', headers: { host, 'content-type': 'application/json' }, body: JSON.stringify(OPENAI_FLAT_CHAT) })
    assert.equal(res.statusCode, 200)
    const e = await res.body.json() as Echoed
    assert.equal(e.headers['content-type'], 'application/json')
    return JSON.parse(e.body) as { messages: Array<{ role: string; content: string }> }
  }

  await t.test('modifies the LLM chat request - prepend', async () => {
    const r = await send('prepend.decorate.local')
    assert.deepEqual(r.messages[0], { content: 'Prepend text 1 here.', role: 'system' })
    assert.deepEqual(r.messages[1], { content: 'Prepend text 2 here.', role: 'system' })
    assert.deepEqual(r.messages.slice(2), OPENAI_FLAT_CHAT.messages)
  })

  await t.test('modifies the LLM chat request - append', async () => {
    const r = await send('append.decorate.local')
    assert.deepEqual(r.messages.at(-2), { content: 'Append text 1 here.', role: 'assistant' })
    assert.deepEqual(r.messages.at(-1), { content: 'Append text 2 here.', role: 'user' })
    assert.deepEqual(r.messages.slice(0, 3), OPENAI_FLAT_CHAT.messages)
  })

  await t.test('modifies the LLM chat request - both', async () => {
    const r = await send('both.decorate.local')
    assert.deepEqual(r.messages[0], { content: 'Prepend text 1 here.', role: 'system' })
    assert.deepEqual(r.messages[1], { content: 'Prepend text 2 here.', role: 'assistant' })
    assert.deepEqual(r.messages.at(-2), { content: 'Append text 3 here.', role: 'assistant' })
    assert.deepEqual(r.messages.at(-1), { content: 'Append text 4 here.', role: 'user' })
    assert.equal(r.messages.length, 7)
  })
})
