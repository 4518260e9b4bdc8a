/**
 * Port of Kong's spec/03-plugins/43-ai-prompt-template/02-integration_spec.lua: a real gateway
 * (worker threads) in front of the echo upstream; templated chat and completions requests become
 * the rendered template upstream, and Kong's 400 bodies for every refusal.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin, pluginGateway } from '../../helpers/kong-rows.ts'

interface Echoed { method: string; url: string; headers: Record<string, string>; body: string }

const TEMPLATES = [
  {
    name: 'developer-chat',
    template: `
                {
                  "messages": [
                    {
                      "role": "system",
                      "content": "You are a {{program}} expert, in {{language}} programming language."
                    },
                    {
                      "role": "user",
                      "content": "Write me a {{program}} program."
                    }
                  ]
                }
              `,
  },
  {
    name: 'developer-completions',
    template: `
                {
                  "prompt": "You are a {{language}} programming expert. Make me a {{program}} program."
                }
              `,
  },
]

test('ai-prompt-template 02-integration', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [{ hosts: ['test1.com'] }, { hosts: ['test2.com'] }],
    plugins: ([r1, r2]) => [
      plugin('ai-prompt-template', { templates: TEMPLATES }, { route: r1 }),
      plugin('ai-prompt-template', { allow_untemplated_requests: false, templates: TEMPLATES }, { route: r2 }),
    ],
  })

  const send = async (host: string, body: string, contentType = 'application/json'): Promise<{ status: number; json: any }> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await request(`${url}/request`, { method: 'POST', headers: { host, 'content-type': contentType }, body })
    return { status: res.statusCode, json: await res.body.json() }
  }
  const upstreamBody = (e: Echoed): unknown => JSON.parse(e.body)
  const error = (message: string): unknown => ({ error: { message } })

  await t.test('templates a chat message', async () => {
    const r = await send('test1.com', JSON.stringify({ messages: '{template://developer-chat}', properties: { language: 'python', program: 'flask web server' } }))
    assert.equal(r.status, 200)
    assert.deepEqual(upstreamBody(r.json), {
      messages: [
        { role: 'system', content: 'You are a flask web server expert, in python programming language.' },
        { role: 'user', content: 'Write me a flask web server program.' },
      ],
    })
    assert.equal(r.json.headers['content-type'], 'application/json')
  })

  await t.test('templates a completions message', async () => {
    const r = await send('test1.com', JSON.stringify({ messages: '{template://developer-completions}', properties: { language: 'python', program: 'flask web server' } }))
    assert.equal(r.status, 200)
    assert.deepEqual(upstreamBody(r.json), { prompt: 'You are a python programming expert. Make me a flask web server program.' })
  })

  await t.test("blocks when 'allow_untemplated_requests' is OFF", async () => {
    const r = await send('test2.com', JSON.stringify({ messages: [{ role: 'system', content: 'Arbitrary content' }] }))
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, error('this LLM route only supports templated requests'))
  })

  await t.test("doesn't block when 'allow_untemplated_requests' is ON", async () => {
    const body = '{ "messages": [ { "role": "system", "content": "Arbitrary content" } ] }'
    const r = await send('test1.com', body)
    assert.equal(r.status, 200)
    assert.equal(r.json.body, body, 'the body goes upstream untouched')
  })

  await t.test('errors with a not found template', async () => {
    const r = await send('test2.com', JSON.stringify({ messages: '{template://developer-doesnt-exist}', properties: { language: 'python', program: 'flask web server' } }))
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, error('could not find template name [developer-doesnt-exist]'))
  })

  await t.test("still errors with a not found template when 'allow_untemplated_requests' is ON", async () => {
    const r = await send('test1.com', JSON.stringify({ messages: '{template://not_found}' }))
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, error('could not find template name [not_found]'))
  })

  await t.test('errors with missing template parameter', async () => {
    const r = await send('test1.com', JSON.stringify({ messages: '{template://developer-chat}', properties: { language: 'python' } }))
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, error('missing template parameters: [program]'))
  })

  await t.test('errors with multiple missing template parameters', async () => {
    const r = await send('test1.com', JSON.stringify({ messages: '{template://developer-chat}', properties: { nothing: 'no' } }))
    assert.equal(r.status, 400)
    assert.match(r.json.error.message, /^missing template parameters: \[.*\], \[.*\]/)
  })

  await t.test('fails with non-json request', async () => {
    const r = await send('test1.com', 'template: programmer, property: hi', 'text/plain')
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, error('this LLM route only supports application/json requests'))
  })

  await t.test('fails with non llm/v1/chat or llm/v1/completions request', async () => {
    const r = await send('test1.com', '{ "programmer": "hi" }')
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, error("only 'llm/v1/chat' and 'llm/v1/completions' formats are supported for templating"))
  })

  await t.test('fails with multiple types of prompt', async () => {
    const r = await send('test1.com', JSON.stringify({ messages: '{template://developer-chat}', prompt: '{template://developer-prompt}', properties: { nothing: 'no' } }))
    assert.equal(r.status, 400)
    assert.deepEqual(r.json, error("cannot run 'messages' and 'prompt' templates at the same time"))
  })
})
