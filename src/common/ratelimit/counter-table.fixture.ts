/**
 * Worker thread of counter-table.test.ts: hammers one counter of a shared table and reports how
 * many admissions it got. Not a test file itself.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { CounterTable } from './counter-table.ts'
import { hashFinish, hashString, lanes } from './hash.ts'

const { buffer, mode, attempts, limit, keys } = workerData as { buffer: SharedArrayBuffer; mode: 'local' | 'held'; attempts: number; limit: number; keys: number }
const table = new CounterTable(buffer)
let admitted = 0
let created = 0
for (let i = 0; i < attempts; i++) {
  hashString(`id-${i % keys}`)
  hashFinish(lanes[0]!, lanes[1]!, 1, 1000)
  const slot = table.findOrInsert(0, 2000, 1000, 1, limit)
  if (slot < 0) throw new Error('table full')
  if (table.created) created++
  const r = mode === 'local' ? table.acquire(slot, limit) : table.acquireHeld(slot)
  if (r > 0) admitted++
}
parentPort!.postMessage({ admitted, created })
