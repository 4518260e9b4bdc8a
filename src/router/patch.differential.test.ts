/**
 * A patched router (traditional.ts patchRouter: base minus replaced routes plus an overlay) must
 * answer exactly what a full build of the same routes answers, through random sequences of
 * adds, updates and deletes (fixed seeds), including patches of patches and routes that come
 * back after a delete.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildRouter, patchRouter, type TraditionalRouter } from './traditional.ts'
import { prng, randomRequest, randomRoutes } from './random-routes.fixture.ts'
import type { RouterEntry } from './types.ts'

function same (full: TraditionalRouter<string>, patched: TraditionalRouter<string>, rnd: () => number, n: number, label: string): number {
  let matched = 0
  for (let i = 0; i < n; i++) {
    const input = randomRequest(rnd)
    const want = full.match(input)
    const got = patched.match(input)
    if (want !== null) matched++
    assert.deepEqual(got && { ...got, route: got.route.id }, want && { ...want, route: want.route.id }, `${label}: ${JSON.stringify(input)}`)
  }
  return matched
}

describe('patchRouter: base + overlay answers as a full build', () => {
  for (const seed of [1, 2, 3, 20240601]) {
    it(`seed ${seed}: 1500 routes, 25 patches of random adds/updates/deletes, 600 requests after each`, () => {
      const rnd = prng(seed)
      const current = new Map<string, RouterEntry<string>>()
      for (const e of randomRoutes(rnd, 1500)) current.set(e.route.id, e)
      const base = buildRouter([...current.values()])
      const replaced = new Set<string>()
      let router = base
      let older: Array<[TraditionalRouter<string>, TraditionalRouter<string>]> = []
      let matched = 0
      for (let step = 0; step < 25; step++) {
        const ids = [...current.keys()]
        const changes = 1 + Math.floor(rnd() * 6)
        for (let c = 0; c < changes; c++) {
          const r = rnd()
          if (r < 0.35) { // add
            const e = randomRoutes(rnd, 1)[0]!
            current.set(e.route.id, e)
            replaced.add(e.route.id)
          } else if (r < 0.7) { // update: new fields, same id (also a route that was deleted before)
            const id = ids[Math.floor(rnd() * ids.length)]!
            const fresh = randomRoutes(rnd, 1)[0]!
            const e = { ...fresh, route: { ...fresh.route, id }, payload: `${id}@${step}` }
            current.set(id, e)
            replaced.add(id)
          } else { // delete
            const id = ids[Math.floor(rnd() * ids.length)]!
            current.delete(id)
            replaced.add(id)
          }
        }
        const overlay = [...replaced].map((id) => current.get(id)).filter((e): e is RouterEntry<string> => e !== undefined)
        router = patchRouter(router, replaced, overlay)
        const full = buildRouter([...current.values()])
        assert.equal(router.patched, replaced.size)
        matched += same(full, router, rnd, 600, `seed ${seed} step ${step}`)
        // routers patched earlier still answer for their own configuration (requests in flight)
        for (const [f, p] of older) same(f, p, rnd, 20, `seed ${seed} step ${step} (older)`)
        older = [...older.slice(-3), [full, router]]
      }
      assert.ok(matched > 25 * 300, `only ${matched} requests matched: the generator is too sparse`)
      // the base itself is unaffected by patches
      same(buildRouter(randomRoutes(prng(seed), 1500)), base, rnd, 300, 'base')
    })
  }

  it('deleting every route of a base leaves nothing matching', () => {
    const rnd = prng(5)
    const entries = randomRoutes(rnd, 50)
    const router = patchRouter(buildRouter(entries), entries.map((e) => e.route.id), [])
    for (let i = 0; i < 500; i++) assert.equal(router.match(randomRequest(rnd)), null)
    assert.equal(router.size, 0)
  })
})
