/**
 * Port of Kong's spec/03-plugins/41-ai-prompt-decorator/01-unit_spec.lua: the decorate step
 * (filters/decorate-prompt.lua `execute`) on a chat request, with prepended, appended and both.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PrepareEnv } from '../../../src/plugins/types.ts'
import { decorate, handler, type AiPromptDecoratorConfig } from '../../../src/plugins/ai-prompt-decorator/handler.ts'

type Msg = { role: string; content: string }
const GENERAL_CHAT: { messages: Msg[] } = {
  messages: [
    { role: 'system', content: 'You are a mathematician.' },
    { role: 'user', content: 'What is 1 + 1?' },
    { role: 'assistant', content: 'The answer is 2?' },
    { role: 'user', content: 'Now double it.' },
  ],
}
const PREPEND: Msg[] = [
  { role: 'system', content: 'Give me answers in French language.' },
  { role: 'user', content: 'Consider you are a mathematician.' },
  { role: 'assistant', content: 'Okay I am a mathematician. What is your maths question?' },
]
const APPEND: Msg[] = [
  { role: 'system', content: 'Give me answers in French language.' },
  { role: 'system', content: 'Give me the answer in JSON format.' },
]

const prepared = (prompts: { prepend?: Msg[]; append?: Msg[] }): ReturnType<NonNullable<typeof handler.prepare>> =>
  handler.prepare!({ prompts, max_request_body_size: 8192, llm_format: 'openai' } as AiPromptDecoratorConfig, {} as PrepareEnv)
const copy = <T>(v: T): T => structuredClone(v)

test('ai-prompt-decorator unit: adds messages to the start of the array', () => {
  const request = copy(GENERAL_CHAT)
  const decorated = decorate(request, prepared({ prepend: PREPEND }))
  assert.deepEqual(decorated, { messages: [...PREPEND, ...GENERAL_CHAT.messages] })
  assert.deepEqual(request, GENERAL_CHAT, 'the request it was given is left as it was')
})

test('ai-prompt-decorator unit: adds messages to the end of the array', () => {
  assert.deepEqual(decorate(copy(GENERAL_CHAT), prepared({ append: APPEND })), { messages: [...GENERAL_CHAT.messages, ...APPEND] })
})

test('ai-prompt-decorator unit: adds messages to the start and the end of the array', () => {
  assert.deepEqual(decorate(copy(GENERAL_CHAT), prepared({ prepend: PREPEND, append: APPEND })), { messages: [...PREPEND, ...GENERAL_CHAT.messages, ...APPEND] })
})

test('ai-prompt-decorator unit: other fields of the request stay', () => {
  const decorated = decorate({ ...copy(GENERAL_CHAT), model: 'gpt-4', temperature: 0.5 }, prepared({ append: APPEND }))
  assert.equal(decorated.model, 'gpt-4')
  assert.equal(decorated.temperature, 0.5)
})
