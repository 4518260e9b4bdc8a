import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PendingCalls, type Answer } from './primary-calls.ts'

interface Reply extends Answer { value?: number }

test('primary calls: answers settle their own call by seq; an error rejects; unknown and late answers are dropped', async () => {
  const calls = new PendingCalls<Reply>('test')
  const sent: number[] = []
  const a = calls.call((seq) => { sent.push(seq) })
  const b = calls.call((seq) => { sent.push(seq) })
  assert.deepEqual(sent, [1, 2])
  calls.settle({ seq: 99, value: 0 })
  calls.settle({ seq: 2, value: 20 })
  calls.settle({ seq: 1, error: 'no such row' })
  assert.deepEqual(await b, { seq: 2, value: 20 })
  await assert.rejects(a, /no such row/)
  calls.settle({ seq: 2, value: 21 }) // already settled: nothing happens
})

test('primary calls: no answer within the deadline rejects, naming the caller; a send that throws rejects at once', async () => {
  const calls = new PendingCalls<Reply>('oauth2', 30)
  await assert.rejects(calls.call(() => {}), /^Error: oauth2: the primary did not answer$/)
  await assert.rejects(calls.call(() => { throw new Error('port closed') }), /port closed/)
  // The table holds nothing after either: a late answer to them settles no call.
  calls.settle({ seq: 1, value: 1 })
  calls.settle({ seq: 2, value: 2 })
})
