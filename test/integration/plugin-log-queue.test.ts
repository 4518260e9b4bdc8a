/**
 * The log queue (src/plugins/shared/log-queue.ts, Kong's kong/tools/queue.lua) in process, with a
 * scripted handler: batch sizes and order, exponential backoff capped by max_retry_delay, oldest
 * entries dropped past max_entries and max_bytes (logged once per episode), concurrency_limit -1
 * bounded, Kong's legacy parameters, and flushing (shutdown) with and without a deadline.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { configureLog } from '../../src/common/log.ts'
import { LogQueue, acquireQueue, flushQueues, queueParams, type QueueParams } from '../../src/plugins/shared/log-queue.ts'

const lines: string[] = []
configureLog('info', 'test', (l) => { lines.push(l) })
// The queue's timers are unref'd (a worker's event loop is kept alive by its listener): keep this
// process alive while they run.
const alive = setInterval(() => {}, 60_000)
after(() => { clearInterval(alive) })

function params (p: Partial<QueueParams> = {}): QueueParams {
  return { ...queueParams({}), maxCoalescingDelay: 0, ...p }
}

/** A handler whose calls wait until released (or fail when told to). */
function scripted (): { calls: string[][]; times: number[]; release (): void; failNext: number; hold: boolean; handler (b: readonly string[]): Promise<void> } {
  const pending: Array<() => void> = []
  const s = {
    calls: [] as string[][],
    times: [] as number[],
    failNext: 0,
    hold: false,
    release () { for (const r of pending.splice(0)) r() },
    handler (b: readonly string[]): Promise<void> {
      s.calls.push([...b])
      s.times.push(performance.now())
      if (s.failNext > 0) { s.failNext--; return Promise.reject(new Error('down')) }
      if (s.hold) return new Promise<void>((resolve) => { pending.push(resolve) })
      return Promise.resolve()
    },
  }
  return s
}

async function idle (q: LogQueue): Promise<void> { await q.flush() }

test('queue: batches of at most max_batch_size, in order', async () => {
  const h = scripted()
  const q = new LogQueue('t1', 'test', params({ maxBatchSize: 2 }), (b) => h.handler(b))
  for (const e of ['a', 'b', 'c', 'd', 'e']) q.enqueue(e)
  await idle(q)
  assert.deepEqual(h.calls.flat(), ['a', 'b', 'c', 'd', 'e'])
  assert.ok(h.calls.every((c) => c.length <= 2))
})

test('queue: failed batches are retried with doubling delays capped by max_retry_delay', async () => {
  const h = scripted()
  h.failNext = 4
  const q = new LogQueue('t2', 'test', params({ initialRetryDelay: 20, maxRetryDelay: 50 }), (b) => h.handler(b))
  q.enqueue('x')
  await idle(q)
  assert.equal(h.calls.length, 5)
  const gaps = h.times.slice(1).map((t, i) => t - h.times[i]!)
  // 20, 40, 50 (capped), 50; timers fire no earlier than asked.
  assert.ok(gaps[0]! >= 19 && gaps[1]! >= 39 && gaps[2]! >= 49 && gaps[3]! >= 49, gaps.join(','))
  assert.ok(gaps[3]! < 200, 'capped')
})

test('queue: past max_entries the oldest waiting entries are dropped, logged once', async () => {
  const h = scripted()
  h.hold = true
  const q = new LogQueue('t3', 'tag3', params({ maxEntries: 3 }), (b) => h.handler(b))
  for (let i = 0; i < 10; i++) q.enqueue(String(i))
  assert.equal(q.count, 3)
  assert.equal(q.dropped, 6)
  assert.equal(lines.filter((l) => l.includes('[tag3] queue t3: queue full, dropping old entries')).length, 1)
  h.hold = false
  h.release()
  await idle(q)
  assert.deepEqual(h.calls.flat(), ['0', '7', '8', '9'])
  assert.ok(lines.some((l) => l.includes('[tag3] queue t3: queue resumed processing')))
})

test('queue: max_bytes keeps the waiting bytes under the limit and refuses an oversized entry', async () => {
  const h = scripted()
  h.hold = true
  const q = new LogQueue('t4', 'tag4', params({ maxBytes: 10 }), (b) => h.handler(b))
  q.enqueue('first') // taken at once
  for (const e of ['aaaa', 'bbbb', 'cccc']) q.enqueue(e)
  assert.equal(q.count, 2)
  assert.equal(q.enqueue('x'.repeat(11)), false)
  assert.ok(lines.some((l) => l.includes("string to be queued is longer (11 bytes) than the queue's max_bytes (10 bytes)")))
  assert.ok(lines.some((l) => l.includes('byte capacity exceeded, 1 queue entries were dropped')))
  h.hold = false
  h.release()
  await idle(q)
  assert.deepEqual(h.calls.flat(), ['first', 'bbbb', 'cccc'])
})

test('queue: concurrency_limit -1 sends each entry at once, at most max_entries in flight', async () => {
  const h = scripted()
  h.hold = true
  const q = new LogQueue('t5', 'test', params({ concurrencyLimit: -1, maxEntries: 2, maxBatchSize: 10 }), (b) => h.handler(b))
  assert.equal(q.enqueue('a'), true)
  assert.equal(q.enqueue('b'), true)
  assert.equal(q.enqueue('c'), false)
  assert.deepEqual(h.calls, [['a'], ['b']])
  h.release()
  await idle(q)
  assert.equal(q.enqueue('d'), true)
  h.release()
  await idle(q)
  assert.deepEqual(h.calls, [['a'], ['b'], ['d']])
})

test("queue: Kong's parameters in seconds and its legacy fields", () => {
  const p = queueParams({ queue: { max_batch_size: 5, max_coalescing_delay: 2, initial_retry_delay: 0.5 } })
  assert.equal(p.maxBatchSize, 5)
  assert.equal(p.maxCoalescingDelay, 2000)
  assert.equal(p.initialRetryDelay, 500)
  assert.equal(p.maxEntries, 10000)
  assert.equal(p.maxBytes, null)
  const legacy = queueParams({ queue_size: 7, flush_timeout: 3, queue: {} })
  assert.equal(legacy.maxBatchSize, 7)
  assert.equal(legacy.maxCoalescingDelay, 3000)
  const ignored = queueParams({ queue_size: 1, flush_timeout: 2, queue: { max_batch_size: 4 } })
  assert.equal(ignored.maxBatchSize, 4)
  assert.equal(ignored.maxCoalescingDelay, 1000)
})

test('queue: flush sends a coalescing batch at once; flushQueues gives up at its deadline', async () => {
  const h = scripted()
  const q = acquireQueue('k6', 't6', 'test', params({ maxBatchSize: 10, maxCoalescingDelay: 3_600_000 }), (b) => h.handler(b))
  q.enqueue('a')
  q.enqueue('b')
  assert.equal(h.calls.length, 0)
  await flushQueues(1000)
  assert.deepEqual(h.calls, [['a', 'b']])
  h.hold = true
  q.enqueue('stuck')
  const t0 = performance.now()
  await flushQueues(100)
  assert.ok(performance.now() - t0 < 1000)
  h.release()
})
