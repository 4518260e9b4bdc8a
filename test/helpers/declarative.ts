/**
 * Declarative-config test set-up: `flat()` parses and flattens a kong.yml text and fails the test
 * with the parser's or the schema's errors; `testDatabases()` gives a maker of fresh databases,
 * all dropped after the file's tests.
 */
import { after } from 'node:test'
import assert from 'node:assert/strict'
import { flatten, type Flattened } from '../../src/declarative/flatten.ts'
import { unserialize } from '../../src/declarative/parse.ts'
import { createTestDb, type TestDb } from './pg.ts'

export function flat (text: string): Flattened {
  const u = unserialize(text)
  assert.ok(u.ok, u.ok ? '' : u.error)
  const r = flatten(u.table)
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors))
  return r.value
}

/** Call at the top of a test file: the returned function makes a database dropped after the file's tests. */
export function testDatabases (): () => Promise<TestDb> {
  const dbs: TestDb[] = []
  after(async () => { for (const d of dbs) await d.drop() })
  return async () => {
    const d = await createTestDb()
    dbs.push(d)
    return d
  }
}
