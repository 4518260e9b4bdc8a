/**
 * Port of Kong's spec/03-plugins/42-ai-prompt-guard/02-integration_spec.lua: a real gateway
 * (worker threads) in front of the echo upstream; allow and deny patterns with and without the
 * conversation history, and a pattern PCRE refuses (500).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { plugin, pluginGateway } from '../../helpers/kong-rows.ts'

const ALLOW = ['.*cheddar.*', '.*brie.*']
const DENY = ['.*leicester.*', '.*edam.*']

const chat = (...turns: string[]): string => JSON.stringify({
  messages: [
    { role: 'system', content: 'You run a cheese shop.' },
    ...turns.map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content })),
  ],
})

test('ai-prompt-guard 02-integration', async (t) => {
  const { url } = await pluginGateway(t, {
    routes: [
      { paths: ['~/permit-history$'] }, { paths: ['~/block-history$'] },
      { paths: ['~/allow-only-permit-history$'] }, { paths: ['~/allow-only-block-history$'] },
      { paths: ['~/deny-only-permit-history$'] }, { paths: ['~/deny-only-block-history$'] },
      { paths: ['~/bad-regex-allow$'] }, { paths: ['~/bad-regex-deny$'] },
    ],
    plugins: ([permit, block, allowPermit, allowBlock, denyPermit, denyBlock, badAllow, badDeny]) => [
      plugin('ai-prompt-guard', { allow_patterns: ALLOW, deny_patterns: DENY, allow_all_conversation_history: true }, { route: permit }),
      plugin('ai-prompt-guard', { allow_patterns: ALLOW, deny_patterns: DENY, allow_all_conversation_history: false }, { route: block }),
      plugin('ai-prompt-guard', { allow_patterns: ALLOW, allow_all_conversation_history: true }, { route: allowPermit }),
      plugin('ai-prompt-guard', { allow_patterns: ALLOW, allow_all_conversation_history: false }, { route: allowBlock }),
      plugin('ai-prompt-guard', { deny_patterns: DENY, allow_all_conversation_history: true }, { route: denyPermit }),
      plugin('ai-prompt-guard', { deny_patterns: DENY, allow_all_conversation_history: false }, { route: denyBlock }),
      plugin('ai-prompt-guard', { deny_patterns: ['[]'], allow_all_conversation_history: false }, { route: badAllow }),
      plugin('ai-prompt-guard', { deny_patterns: ['[]'], allow_all_conversation_history: false }, { route: badDeny }),
    ],
  })

  const send = async (path: string, body: string): Promise<{ status: number; body: string }> => {
    const res = await request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    return { status: res.statusCode, body: await res.body.text() }
  }
  const BAD_REQUEST = JSON.stringify({ error: { message: 'bad request' } })

  // both
  await t.test("allows message with 'allow' and 'deny' set, with history", async () => {
    const r = await send('/permit-history', chat('I think that cheddar is the best cheese.', 'No, brie is the best cheese.', 'Why brie?'))
    assert.equal(r.status, 200)
  })

  await t.test("allows message with 'allow' and 'deny' set, without history", async () => {
    const r = await send('/block-history', chat('I think that cheddar is the best cheese.', 'No, brie is the best cheese.', 'Why brie?'))
    assert.equal(r.status, 200)
  })

  await t.test("blocks message with 'allow' and 'deny' set, with history", async () => {
    const r = await send('/permit-history', chat('I think that cheddar or edam are the best cheeses.', 'No, brie is the best cheese.', 'Why?'))
    assert.equal(r.status, 400)
    assert.deepEqual(JSON.parse(r.body), JSON.parse(BAD_REQUEST))
  })

  // allows only
  await t.test("allows message with 'allow' only set, with history", async () => {
    const r = await send('/allow-only-permit-history', chat('I think that brie is the best cheese.', 'No, cheddar is the best cheese.', 'Why cheddar?'))
    assert.equal(r.status, 200)
  })

  await t.test("allows message with 'allow' only set, without history", async () => {
    const r = await send('/allow-only-block-history', chat('I think that brie is the best cheese.', 'No, cheddar is the best cheese.', 'Why cheddar?'))
    assert.equal(r.status, 200)
  })

  // denies only
  await t.test("allows message with 'deny' only set, permit history", async () => {
    // permitted: the bad phrase is only in the history, which the developer controls
    const r = await send('/deny-only-permit-history', chat('I think that leicester is the best cheese.', 'No, cheddar is the best cheese.', 'Why cheddar?'))
    assert.equal(r.status, 200)
  })

  await t.test("blocks message with 'deny' only set, permit history", async () => {
    // blocked: the bad phrase is in the latest message, which the user controls
    const r = await send('/deny-only-permit-history', chat('I think that leicester is the best cheese.', 'No, edam is the best cheese.', 'Why edam?'))
    assert.equal(r.status, 400)
    assert.deepEqual(JSON.parse(r.body), JSON.parse(BAD_REQUEST))
  })

  await t.test("blocks message with 'deny' only set, scan history", async () => {
    const r = await send('/deny-only-block-history', chat('I think that leicester is the best cheese.', 'No, cheddar is the best cheese.', 'Why cheddar?'))
    assert.equal(r.status, 400)
  })

  await t.test('returns a 500 on a bad regex in allow list', async () => {
    const r = await send('/bad-regex-allow', chat())
    assert.equal(r.status, 500)
    assert.equal(r.body, '')
  })

  await t.test('returns a 500 on a bad regex in deny list', async () => {
    const r = await send('/bad-regex-deny', chat())
    assert.equal(r.status, 500)
  })
})
