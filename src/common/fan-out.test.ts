import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FanOut, type FanOutAnswer } from './fan-out.ts'

interface Q { seq: number }
interface A extends FanOutAnswer { v: string }

test('fan-out: every serving worker answers; stray and late answers are dropped; a worker that cannot be posted to is not waited for', async () => {
  const posted: Array<[number, Q]> = []
  const f = new FanOut<Q, A>((id, m) => { if (id === 3) throw new Error('gone'); posted.push([id, m]) }, () => [1, 2, 3], 10_000)
  const p = f.ask((seq) => ({ seq }))
  assert.deepEqual(posted.map(([id]) => id), [1, 2])
  const seq = posted[0]![1].seq
  f.onResult({ seq, workerId: 9, v: 'not asked' })
  f.onResult({ seq: seq + 1, workerId: 1, v: 'other question' })
  f.onResult({ seq, workerId: 1, v: 'a' })
  f.onResult({ seq, workerId: 1, v: 'twice' })
  f.onResult({ seq, workerId: 2, v: 'b' })
  assert.deepEqual((await p).map((a) => a.v), ['a', 'b'])
  f.onResult({ seq, workerId: 2, v: 'late' })
})

test('fan-out: no serving worker answers at once; a silent worker is given up on after the time limit', async () => {
  const none = new FanOut<Q, A>(() => {}, () => [], 10)
  assert.deepEqual(await none.ask((seq) => ({ seq })), [])
  let seq = 0
  const f = new FanOut<Q, A>((_id, m) => { seq = m.seq }, () => [1, 2], 20)
  const p = f.ask((s) => ({ seq: s }))
  f.onResult({ seq, workerId: 1, v: 'a' })
  // The relay's timer is unref'd (it never holds a process open): keep this one alive meanwhile.
  const alive = setInterval(() => {}, 1000)
  try {
    assert.deepEqual((await p).map((a) => a.v), ['a'])
  } finally {
    clearInterval(alive)
  }
})
