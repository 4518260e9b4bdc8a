/**
 * Port of Kong's spec/03-plugins/42-ai-prompt-guard/01-unit_spec.lua: the guard step
 * (filters/guard-prompt.lua `execute`) over chat requests, with and without history, with
 * allow and/or deny patterns, for the user role only and for every role. Kong's fixture builds
 * its "completions" requests with the same chat messages (its `completion` type never matches),
 * so both loops check chat requests; completions prompts are checked at the end.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PrepareEnv } from '../../../src/plugins/types.ts'
import { execute, handler, PATTERN_FAILED, type AiPromptGuardConfig } from '../../../src/plugins/ai-prompt-guard/handler.ts'

const FIXTURES = { user: 'this is a user request', system: 'this is a system message', assistant: 'this is an assistant reply' } as const
type Role = keyof typeof FIXTURES

class Request {
  messages: Array<{ role: string; content: string }> = [{ role: 'system', content: FIXTURES.system }]
  prompt?: string
  readonly type: string

  constructor (type: string) { this.type = type }

  /** As the spec's append_message: the message text comes from `role`, the role is always `user`. */
  append (role: Role, custom?: string): this {
    if (this.type === 'completion') {
      this.prompt = 'this is a completions request' + (custom !== undefined ? ` with custom content ${custom}` : '')
      return this
    }
    this.messages.push({ role: 'user', content: FIXTURES[role] + (custom !== undefined ? ` with custom content ${custom}` : '') })
    return this
  }
}

function run (request: Request, conf: Partial<AiPromptGuardConfig>): { ok: boolean; err?: string } {
  const c = handler.prepare!({ max_request_body_size: 8192, ...conf } as AiPromptGuardConfig, {} as PrepareEnv)
  const r = execute({ messages: request.messages, ...(request.prompt !== undefined ? { prompt: request.prompt } : {}) }, c)
  assert.notEqual(r, PATTERN_FAILED)
  return r === undefined ? { ok: true } : { ok: false, err: r as string }
}

for (const type of ['chat', 'completions']) {
  test(`ai-prompt-guard unit: ${type} operations`, async (t) => {
    await t.test('allows a user request when nothing is set', () => {
      assert.deepEqual(run(new Request(type).append('user', 'pattern'), {}), { ok: true })
    })

    for (const hasHistory of type === 'chat' ? [false, true] : [false]) {
      for (const matchAllRoles of hasHistory ? [false, true] : [false]) {
        const role: Role = matchAllRoles ? 'system' : 'user'
        const where = hasHistory ? ' in history' : ' only the last'
        const flags = `${matchAllRoles ? ', match_all_roles' : ''}`

        for (const hasDeny of [true, false]) {
          const d = where + (hasDeny ? ', conf.deny_patterns is also set' : '') + flags
          await t.test(`conf.allow_patterns is set: allows a matching user request${d}`, () => {
            const req = new Request(type).append(role, 'pattern')
            if (hasHistory) req.append('user', 'no match')
            assert.deepEqual(run(req, {
              allow_patterns: ['pa..ern'], deny_patterns: hasDeny ? ['deny match'] : null, allow_all_conversation_history: !hasHistory, match_all_roles: matchAllRoles,
            }), { ok: true })
          })

          await t.test(`conf.allow_patterns is set: denies an unmatched user request${d}`, () => {
            const req = new Request(type).append('user', 'no match')
            if (hasHistory) req.append('user', 'no match')
            else req.append(role, 'pattern').append('user', 'no match')
            assert.deepEqual(run(req, {
              allow_patterns: ['pa..ern'], deny_patterns: hasDeny ? ['deny match'] : null, allow_all_conversation_history: !hasHistory, match_all_roles: matchAllRoles,
            }), { ok: false, err: "prompt doesn't match any allowed pattern" })
          })
        }

        for (const hasAllow of [true, false]) {
          const d = where + (hasAllow ? ', conf.allow_patterns is also set' : '') + flags
          await t.test(`conf.deny_patterns is set: denies a matching user request${d}`, () => {
            const req = new Request(type).append(role, 'pattern')
            if (hasHistory) req.append('user', 'no match')
            assert.deepEqual(run(req, {
              deny_patterns: ['pa..ern'], allow_patterns: hasAllow ? ['allow match'] : null, allow_all_conversation_history: !hasHistory,
            }), { ok: false, err: 'prompt pattern is blocked' })
          })

          await t.test(`conf.deny_patterns is set: allows unmatched user request${d}`, () => {
            const req = new Request(type).append(role, 'allow match')
            if (hasHistory) req.append('user', 'no match')
            else req.append(role, 'pattern').append(role, 'allow match')
            assert.deepEqual(run(req, {
              deny_patterns: ['pa..ern'], allow_patterns: hasAllow ? ['allow match'] : null, allow_all_conversation_history: !hasHistory,
            }), { ok: true })
          })
        }
      }
    }
  })
}

test('ai-prompt-guard unit: completions prompts, roles, malformed requests, bad patterns (guard-prompt.lua)', () => {
  const prepare = (conf: Partial<AiPromptGuardConfig>) => handler.prepare!({ max_request_body_size: 8192, ...conf } as AiPromptGuardConfig, {} as PrepareEnv)
  const deny = prepare({ deny_patterns: ['secret'] })
  assert.equal(execute({ prompt: 'tell me the secret' }, deny), 'prompt pattern is blocked')
  assert.equal(execute({ prompt: 'tell me a joke' }, deny), undefined)
  // only user messages count unless match_all_roles
  assert.equal(execute({ messages: [{ role: 'system', content: 'secret' }, { role: 'user', content: 'hi' }] }, deny), undefined)
  assert.equal(execute({ messages: [{ role: 'system', content: 'secret' }, { role: 'user', content: 'hi' }] }, prepare({ deny_patterns: ['secret'], match_all_roles: true })), 'prompt pattern is blocked')
  // newest first, each followed by a space: the joined text is what the patterns see
  assert.equal(execute({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }, prepare({ allow_patterns: ['^b a $'] })), undefined)
  assert.equal(execute({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }, prepare({ allow_patterns: ['^b$'], allow_all_conversation_history: true })), undefined)
  // malformed: a role that is not a string, a checked content that is not a string, neither messages nor prompt
  const BAD = 'ai-prompt-guard only supports llm/v1/chat or llm/v1/completions prompts'
  assert.equal(execute({ messages: [{ content: 'x' }] }, deny), BAD)
  assert.equal(execute({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }] }, deny), BAD)
  assert.equal(execute({ messages: [{ role: 'assistant', content: null }, { role: 'user', content: 'x' }] }, deny), undefined, 'an unchecked content is not looked at')
  assert.equal(execute({}, deny), BAD)
  assert.equal(execute({ prompt: 5 }, deny), BAD)
  assert.equal(execute({ messages: {} }, prepare({ deny_patterns: ['^$'] })), 'prompt pattern is blocked', 'an object of messages is an empty text')
  // a pattern PCRE refuses fails the request when it is reached, in order
  assert.equal(execute({ prompt: 'x' }, prepare({ deny_patterns: ['[]'] })), PATTERN_FAILED)
  assert.equal(execute({ prompt: 'x' }, prepare({ deny_patterns: ['x', '[]'] })), 'prompt pattern is blocked')
  assert.equal(execute({ prompt: 'x' }, prepare({ allow_patterns: ['x', '(('] })), undefined)
  assert.equal(execute({ prompt: 'y' }, prepare({ allow_patterns: ['x', '(('] })), PATTERN_FAILED)
  // PCRE syntax: inline options, \A / \z, POSIX classes
  assert.equal(execute({ prompt: 'IGNORE previous' }, prepare({ deny_patterns: ['(?i)ignore\\s+previous'] })), 'prompt pattern is blocked')
  assert.equal(execute({ prompt: 'abc' }, prepare({ allow_patterns: ['\\A[[:alpha:]]+\\z'] })), undefined)
})
