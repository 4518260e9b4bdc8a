/**
 * SnapshotBuilder: a delta gives the hash a full build of the same rows gives (whatever the order
 * of the changes), and the lazily encoded full snapshot of a delta's version holds exactly the
 * rows of that version, even when the cache changes before its bytes are read.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { ConfigCache, type Row } from './config-cache.ts'
import { SnapshotBuilder } from './snapshot.ts'
import { decodeSnapshot, decodeDelta } from '../common/codec.ts'
import type { EntityChange } from '../common/snapshot.ts'

const route = (id: string, path: string): Row => ({ id, paths: [path], service: null, protocols: ['http'] })

test('snapshot: delta hashes equal full-build hashes; lazy bytes capture their version', () => {
  const cache = new ConfigCache()
  const ids = Array.from({ length: 50 }, () => randomUUID())
  cache.replace({ routes: ids.map((id, i) => route(id, `/r${i}`)) })
  const builder = new SnapshotBuilder()
  const first = builder.full(cache, 1)
  assert.match(first.hash, /^[0-9a-f]{32}$/)
  let version = 1
  const lazies: Array<{ version: number; bytes: () => Uint8Array; paths: string[] }> = []
  for (let step = 0; step < 30; step++) {
    const changes: EntityChange[] = []
    const m = cache.tables.get('routes')!
    const id = step % 3 === 0 ? randomUUID() : ids[step]!
    if (step % 5 === 4) m.delete(id)
    else m.set(id, route(id, `/s${step}`))
    changes.push({ table: 'routes', id, row: m.get(id) ?? null })
    cache.generation++
    const d = builder.delta(cache, version, version + 1, changes)
    version++
    assert.equal(d.snapshot.hash, new SnapshotBuilder().full(cache, 0).hash, `step ${step}`)
    const delta = decodeDelta(d.bytes)
    assert.deepEqual({ base: delta.base, version: delta.version, hash: delta.hash }, { base: version - 1, version, hash: d.snapshot.hash })
    lazies.push({ version, bytes: () => d.snapshot.bytes, paths: [...m.values()].map((r) => (r.paths as string[])[0]!).sort() })
  }
  // read the older lazy snapshots only now, after later changes
  for (const l of lazies) {
    const s = decodeSnapshot(l.bytes())
    assert.equal(s.version, l.version)
    assert.deepEqual(s.routes.map((r) => r.paths![0]!).sort(), l.paths)
  }
  // the same content reached in another order hashes the same
  const other = new ConfigCache()
  other.replace({ routes: [...cache.tables.get('routes')!.values()].reverse() })
  assert.equal(new SnapshotBuilder().full(other, 9).hash, lazies.at(-1) && new SnapshotBuilder().full(cache, 0).hash)
})
