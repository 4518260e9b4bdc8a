/**
 * How ai-prompt-decorator reads the request, as Kong's shared parse-request filter
 * (kong/llm/plugin/shared-filters/parse-request.lua) and decorate-prompt.lua do: the body is
 * decoded by its Content-Type (JSON when there is none), a body past nginx's 8 KiB buffer is read
 * only up to `max_request_body_size`, a form body is read as its fields (and goes upstream as
 * JSON once decorated), `messages` that Lua cannot walk is a runtime error (500), and
 * `llm_format = gemini | bedrock` bodies are read through Kong's adapters (kong/llm/adapters/*),
 * so the decorated request that goes upstream is in the OpenAI shape.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin, pluginGateway } from '../../helpers/kong-rows.ts'

interface Echoed { method: string; url: string; headers: Record<string, string>; body: string }
const PREPEND = { prompts: { prepend: [{ role: 'system', content: 'Be brief.' }] } }
const SYSTEM = { role: 'system', content: 'Be brief.' }
const CHAT = { messages: [{ role: 'user', content: 'hi' }] }

test('ai-prompt-decorator: request bodies (parse-request)', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [
      { hosts: ['plain.test'] }, { hosts: ['big.test'] }, { hosts: ['gemini.test'] },
      { hosts: ['bedrock.test'], paths: ['~/model/(?<model>[^/]+)/(?<operation>[^/]+)$'] },
    ],
    plugins: ([plain, big, gemini, bedrock]) => [
      plugin('ai-prompt-decorator', PREPEND, { route: plain }),
      plugin('ai-prompt-decorator', { ...PREPEND, max_request_body_size: 64 * 1024 }, { route: big }),
      plugin('ai-prompt-decorator', { ...PREPEND, llm_format: 'gemini' }, { route: gemini }),
      plugin('ai-prompt-decorator', { ...PREPEND, llm_format: 'bedrock' }, { route: bedrock }),
    ],
  })

  const send = async (host: string, body: string | undefined, headers: Record<string, string> = { 'content-type': 'application/json' }, path = '/chat'): Promise<{ status: number; text: string; e: Echoed | null }> => {
    const res = await request(`${url}${path}`, { method: 'POST', headers: { host, ...headers }, body })
    const text = await res.body.text()
    return { status: res.statusCode, text, e: res.statusCode === 200 ? JSON.parse(text) as Echoed : null }
  }
  const NOT_CHAT = { error: { message: 'this LLM route only supports llm/chat type requests' } }

  await t.test('no Content-Type: the body is read as JSON', async () => {
    const r = await send('plain.test', JSON.stringify(CHAT), {})
    assert.equal(r.status, 200)
    assert.deepEqual(JSON.parse(r.e!.body), { messages: [SYSTEM, ...CHAT.messages] })
    assert.equal(r.e!.headers['content-type'], 'application/json')
  })

  await t.test('not a chat request: 400', async () => {
    for (const [body, headers] of [
      [JSON.stringify(CHAT), { 'content-type': 'text/plain' }],
      ['{"messages":', { 'content-type': 'application/json' }],
      [JSON.stringify({ messages: [] }), { 'content-type': 'application/json' }],
      [JSON.stringify({ messages: { role: 'user' } }), { 'content-type': 'application/json' }],
      [JSON.stringify({ messages: '' }), { 'content-type': 'application/json' }],
      [JSON.stringify({ prompt: 'hi' }), { 'content-type': 'application/json' }],
      [JSON.stringify([CHAT]), { 'content-type': 'application/json' }],
      [undefined, { 'content-type': 'application/json' }],
    ] as const) {
      const r = await send('plain.test', body, headers)
      assert.equal(r.status, 400, `${String(body)}`)
      assert.deepEqual(JSON.parse(r.text), NOT_CHAT)
    }
  })

  await t.test('messages Lua cannot walk: a runtime error, 500', async () => {
    for (const messages of ['{template://x}', 5, true, null]) {
      const r = await send('plain.test', JSON.stringify({ messages }))
      assert.equal(r.status, 500, JSON.stringify(messages))
      assert.deepEqual(JSON.parse(r.text), { message: 'An unexpected error occurred' })
    }
  })

  await t.test('past the 8 KiB body buffer, max_request_body_size decides', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(10_000) }] })
    let r = await send('plain.test', body)
    assert.equal(r.status, 400)
    assert.deepEqual(JSON.parse(r.text), NOT_CHAT)
    r = await send('big.test', body)
    assert.equal(r.status, 200)
    assert.equal((JSON.parse(r.e!.body) as typeof CHAT).messages.length, 2)
    const small = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(8000) }] })
    assert.ok(Buffer.byteLength(small) <= 8192)
    assert.equal((await send('plain.test', small)).status, 200, 'within the buffer, whatever max_request_body_size says')
  })

  await t.test('a form body is read as its fields and goes upstream as JSON', async () => {
    const r = await send('plain.test', 'messages=one&messages=two&model=m', { 'content-type': 'application/x-www-form-urlencoded' })
    assert.equal(r.status, 200)
    assert.equal(r.e!.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(r.e!.body), { messages: [SYSTEM, 'one', 'two'], model: 'm' })
  })

  await t.test('llm_format gemini: the request is read in the OpenAI shape', async () => {
    const r = await send('gemini.test', JSON.stringify({
      contents: [{ role: 'user', parts: [{ text: 'What is Kong?' }] }, { role: 'model', parts: [{ text: 'A gateway.' }] }],
      system_instruction: { parts: [{ text: 'You know gateways.' }] },
      generationConfig: { temperature: 0.2, maxOutputTokens: 50, topK: 3 },
      tools: [{ function_declarations: [{ name: 'lookup', parameters: { type: 'object' } }] }],
    }), { 'content-type': 'application/json' }, '/v1beta/models/gemini-1.5-pro:streamGenerateContent')
    assert.equal(r.status, 200)
    assert.deepEqual(JSON.parse(r.e!.body), {
      model: 'gemini-1.5-pro',
      stream: true,
      messages: [
        SYSTEM,
        { role: 'system', content: [{ type: 'text', text: 'You know gateways.' }] },
        { role: 'user', content: [{ type: 'text', text: 'What is Kong?' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'A gateway.' }] },
      ],
      temperature: 0.2,
      max_tokens: 50,
      top_k: 3,
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
    })
  })

  await t.test('llm_format bedrock: model and operation from the named captures', async () => {
    const r = await send('bedrock.test', JSON.stringify({
      messages: [
        { role: 'user', content: [{ text: 'Look it up.' }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'lookup', input: { q: 'a/b' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ json: { found: true } }] } }] },
      ],
      system: [{ text: 'You look things up.' }],
      inferenceConfig: { maxTokens: 10, stopSequences: ['END'] },
      toolConfig: { tools: [{ toolSpec: { name: 'lookup', description: 'd', inputSchema: { json: { type: 'object' } } } }] },
    }), { 'content-type': 'application/json' }, '/model/anthropic.claude-3%3A0/converse')
    assert.equal(r.status, 200)
    assert.deepEqual(JSON.parse(r.e!.body), {
      model: 'anthropic.claude-3:0',
      stream: false,
      messages: [
        SYSTEM,
        { role: 'system', content: [{ type: 'text', text: 'You look things up.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Look it up.' }] },
        { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'lookup', arguments: '{"q":"a\\/b"}' } }] },
        { role: 'tool', content: '{"found":true}', tool_call_id: 't1' },
      ],
      max_tokens: 10,
      stop: ['END'],
      tools: [{ type: 'function', function: { name: 'lookup', description: 'd', parameters: { type: 'object' } } }],
    })
  })
})
