import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { compareRanked, computePriority, uuidSortKey, type PriorityFields } from './priority.ts'

// [match_weight, plain_host_only, regex, header count, regex_priority, prefix length, priority]:
// the priority is what Kong 3.10's get_priority bit operations (kong/router/transform.lua)
// produce on LuaJIT 2.1 x86-64, converted to the uint64 the ATC engine receives.
const LUAJIT_VECTORS: Array<[number, boolean, boolean, number, number, number, string]> = [
  [1, false, false, 0, 0, 5, '536870917'],
  [2, false, false, 0, 0, 5, '1073741829'],
  [3, false, false, 0, 0, 9, '1610612745'],
  [4, false, false, 0, 0, 5, '9223372036854775808'],
  [5, false, false, 1, 0, 3, '9223372036854775808'],
  [2, true, false, 0, 0, 5, '1152921505680588805'],
  [1, true, false, 0, 0, 0, '1152921505143717888'],
  [1, false, true, 0, 3, 0, '2251800352129024'],
  [2, false, false, 1, 0, 5, '1074790405'],
  [1, false, true, 0, -1, 0, '9225623837205331968'],
  [5, true, false, 2, 0, 7, '10376293541463719943'],
  [3, true, true, 1, 4, 0, '1155173306034290688'],
  [2, false, true, 0, 4096, 0, '9225623837742202880'],
  [2, false, true, 0, 5000, 0, '9225623837742202880'],
  [4, true, true, 1, 2, 0, '10378545341276356608'],
  [7, true, false, 255, 0, 524287, '10376293541729533951'],
  [3, false, false, 255, 0, 600000, '1878075328'],
  [2, true, true, 3, -5, 0, '10378545342352195584'],
  [1, false, false, 0, 0, 0, '536870912'],
  [6, false, true, 2, 100, 0, '9225623836720889856'],
]

function fields (v: (typeof LUAJIT_VECTORS)[number]): PriorityFields {
  return { matchWeight: v[0], plainHostOnly: v[1], regex: v[2], headerCount: v[3], regexPriority: v[4], prefixLength: v[5] }
}

describe('priority', () => {
  it('original: reproduces get_priority as LuaJIT computes it', () => {
    for (const v of LUAJIT_VECTORS) assert.equal(computePriority(fields(v), 'original').toString(), v[6], JSON.stringify(v))
  })

  it('strict: the documented bit layout (kong.md 2.2)', () => {
    const p = (f: Partial<PriorityFields>): bigint => computePriority({
      matchWeight: 1, plainHostOnly: false, regex: false, headerCount: 0, regexPriority: 0, prefixLength: 0, ...f,
    }, 'strict')
    assert.equal(p({ matchWeight: 2, prefixLength: 5 }), (2n << 61n) | 5n)
    assert.equal(p({ plainHostOnly: true }), (1n << 61n) | (1n << 60n))
    assert.equal(p({ headerCount: 300 }), (1n << 61n) | (255n << 52n))
    assert.ok(p({ matchWeight: 2 }) > p({ plainHostOnly: true, headerCount: 9, regex: true }))
    assert.ok(p({ regex: true, regexPriority: 1 }) > p({ regex: true, regexPriority: 0 }))
    assert.ok(p({ regex: true, regexPriority: 0 }) > p({ regex: true, regexPriority: -1 }))
    assert.ok(p({ regex: true, regexPriority: -5 }) > p({ prefixLength: 500 }))
  })

  it('ties go to the greater UUID (atc-router: BTreeMap<(priority, uuid)> iterated in reverse)', () => {
    const a = { priority: 5n, uuidKey: uuidSortKey('e8fb37f1-102d-461e-9c51-6608a6bb8101') }
    const b = { priority: 5n, uuidKey: uuidSortKey('E8FB37F1-102D-461E-9C51-6608A6BB8102') }
    const c = { priority: 6n, uuidKey: uuidSortKey('00000000-0000-0000-0000-000000000000') }
    assert.deepEqual([a, b, c].sort(compareRanked), [c, b, a])
  })
})
