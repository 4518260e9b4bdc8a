/**
 * Unit tests of the compile-time plugin resolution: Kong's 8 scope levels
 * (plugins_iterator.lua lookup_cfg), priority order with name-descending ties, consumer chains,
 * disabled and stream-only instances, broken instances, chain sharing.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Snapshot } from '../common/snapshot.ts'
import type { AnyPluginHandler, PluginRow } from '../plugins/types.ts'
import { compilePlugins, sortHandlers } from './plugin-chains.ts'

const h = (name: string, priority: number): AnyPluginHandler => ({ name, priority, access () {}, headerFilter () {}, prepare: (c: { tag: string }) => c.tag })
const A = h('a-plugin', 100)
const B = h('b-plugin', 100)
const C = h('c-plugin', 50)

let n = 0
function row (name: string, tag: string, scope: { r?: string; s?: string; c?: string } = {}, extra: Partial<PluginRow> = {}): PluginRow {
  return {
    id: `p${++n}`, name, config: { tag }, enabled: true, protocols: ['http', 'https'],
    route: scope.r === undefined ? null : { id: scope.r },
    service: scope.s === undefined ? null : { id: scope.s },
    consumer: scope.c === undefined ? null : { id: scope.c },
    ...extra,
  }
}
function snap (plugins: PluginRow[]): Snapshot {
  return { version: 1, hash: 'x', services: [], routes: [], entities: { plugins: plugins as unknown as Snapshot['entities'][string] } }
}
const tags = (steps: ReadonlyArray<{ conf: unknown }> | null | undefined): unknown[] => (steps ?? []).map((s) => s.conf)

test('sortHandlers: priority descending, ties by name descending (Kong sort_by_handler_priority)', () => {
  assert.deepEqual(sortHandlers([C, A, B]).map((x) => x.name), ['b-plugin', 'a-plugin', 'c-plugin'])
})

test('the 8 levels, most specific first', () => {
  const levels = [
    row('a-plugin', 'rsc', { r: 'R', s: 'S', c: 'K' }),
    row('a-plugin', 'rc', { r: 'R', c: 'K' }),
    row('a-plugin', 'sc', { s: 'S', c: 'K' }),
    row('a-plugin', 'rs', { r: 'R', s: 'S' }),
    row('a-plugin', 'c', { c: 'K' }),
    row('a-plugin', 'r', { r: 'R' }),
    row('a-plugin', 's', { s: 'S' }),
    row('a-plugin', 'g'),
  ]
  for (let i = 0; i < levels.length; i++) {
    const p = compilePlugins(snap(levels.slice(i)), [A])
    const base = p.chainsFor('R', 'S')!
    const withConsumer = base.forConsumer?.('K') ?? base
    assert.deepEqual(tags(withConsumer.access), [levels[i]!.config.tag], `level ${i + 1}`)
  }
  // Without the consumer only levels 4, 6, 7, 8 apply.
  const p = compilePlugins(snap(levels), [A])
  assert.deepEqual(tags(p.chainsFor('R', 'S')!.access), ['rs'])
  assert.deepEqual(tags(p.chainsFor('R2', 'S')!.access), ['s'])
  assert.deepEqual(tags(p.chainsFor('R', null)!.access), ['r'])
  assert.deepEqual(tags(p.chainsFor('R9', null)!.access), ['g'])
  assert.deepEqual(tags(p.global!.access), ['g'])
  assert.equal(p.chainsFor('R', 'S')!.forConsumer!('other'), null)
})

test('chains hold one step per plugin in priority order; routes with the same instances share chains', () => {
  const p = compilePlugins(snap([row('c-plugin', 'c1'), row('a-plugin', 'a1'), row('b-plugin', 'b1', { r: 'R1' })]), [A, B, C])
  assert.deepEqual(tags(p.chainsFor('R1', null)!.access), ['b1', 'a1', 'c1'])
  assert.deepEqual(tags(p.chainsFor('R2', null)!.headerFilter), ['a1', 'c1'])
  assert.equal(p.chainsFor('R2', null), p.chainsFor('R3', 'S'))
  assert.equal(p.chainsFor('R2', null)!.forConsumer, null)
})

test('disabled, stream-only and unknown instances are left out; no plugins at all gives null chains', () => {
  const p = compilePlugins(snap([
    row('a-plugin', 'off', {}, { enabled: false }),
    row('b-plugin', 'tcp', {}, { protocols: ['tcp', 'tls'] }),
    row('zzz', 'unknown'),
  ]), [A, B])
  assert.equal(p.global, null)
  assert.equal(p.chainsFor('R', null), null)
  assert.equal(compilePlugins(snap([]), [A]).chainsFor('R', 'S'), null)
})

test('a broken instance keeps an access step that answers 500, in its priority slot', () => {
  const broken: AnyPluginHandler = { name: 'b-plugin', priority: 100, prepare () { throw new Error('bad regex') }, access () {} }
  const p = compilePlugins(snap([row('b-plugin', 'x'), row('a-plugin', 'a'), row('c-plugin', 'c')]), [A, broken, C])
  const steps = p.global!.access!
  assert.deepEqual(steps.map((s) => s.name), ['b-plugin', 'a-plugin', 'c-plugin'])
  const exits: unknown[] = []
  steps[0]!.fn({ exitJson: (...a: unknown[]) => exits.push(a) }, null)
  assert.deepEqual(exits, [[500, '{"message":"An unexpected error occurred"}']])
})

test('consumer chains are built once per (route, consumer) and include consumer-only plugins', () => {
  const p = compilePlugins(snap([row('a-plugin', 'a'), row('c-plugin', 'c-for-K', { c: 'K' })]), [A, C])
  const base = p.chainsFor('R', null)!
  assert.deepEqual(tags(base.access), ['a'])
  const k = base.forConsumer!('K')!
  assert.deepEqual(tags(k.access), ['a', 'c-for-K'])
  assert.equal(base.forConsumer!('K'), k)
  assert.deepEqual(k.access!.map((s) => s.order), [0, 1])
})
