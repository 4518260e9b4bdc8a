/**
 * Prefetch across a window boundary. A new window is a new counter, and a node holds no quota for
 * a counter it has never asked about: without help, the first requests of every busy key would
 * wait one flush at each rollover. In the last ticks of a window the writer creates the busy
 * counter's next-window slot itself (the same hash the workers compute) and asks for its quota
 * with the rate it has seen, so AVAIL is there when the workers roll over.
 */
import { counterHashFinish, identifierHash, kongRedisKey, scopeSeed, type CounterKey } from '../../common/ratelimit/keys.ts'
import { computeWindows, windowId } from '../../common/ratelimit/windows.ts'
import { lanes } from '../../common/ratelimit/hash.ts'

const SPAN_S = [1, 60, 3600, 86400]

/** The same counter in the window after `k`'s. */
export function nextWindowKey (k: CounterKey): CounterKey {
  const start = k.windowEnd
  const p = k.periodIndex
  const end = p < SPAN_S.length ? start + SPAN_S[p]! : computeWindows(start * 1000).end[p]! / 1000
  const basePeriod = k.table === 'rl' ? k.period : k.period.slice(k.period.lastIndexOf('_') + 1)
  return {
    ...k,
    windowStart: start,
    windowEnd: end,
    prevStart: k.prevStart === null ? null : k.windowStart,
    redisKey: kongRedisKey(k.table, k.routeId, k.serviceId, k.identifier, start * 1000, basePeriod, null),
    redisPrevKey: k.prevStart === null ? null : k.redisKey,
  }
}

const seeds = new Map<string, readonly [number, number]>()

/** Leaves in `lanes` the slot hash the workers compute for `k` (rate-limiting counters). */
export function slotHash (k: CounterKey): void {
  const scope = `${k.routeId}:${k.serviceId}`
  let seed = seeds.get(scope)
  if (seed === undefined) {
    if (seeds.size > 10_000) seeds.clear()
    seed = scopeSeed('rl', k.routeId, k.serviceId)
    seeds.set(scope, seed)
  }
  identifierHash(seed, k.identifier)
  counterHashFinish(lanes[0]!, lanes[1]!, k.periodIndex, windowId(k.windowStart * 1000))
}
