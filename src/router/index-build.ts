/**
 * Building the router's indexes (read by index-probe.ts) into one Int32Array "arena" and one flat
 * entry list, so that a lookup follows few pointers (memory latency, not instructions, is what a
 * match costs once 10k routes no longer fit in cache).
 *
 * Arena layouts (all offsets are arena indexes):
 * - hash table at t:  [shift, mask, then (mask + 1) slots of (hash, a + 1, b)]; a == 0 marks an
 *   empty slot; open addressing, Fibonacci hashing (`imul(hash, 0x9e3779b1) >>> shift`), linear
 *   probing. Several slots may hold the same hash (different strings).
 * - path index at o:  [minRank, alwaysStart, alwaysCount, n, bloomShift, n key lengths ascending,
 *   bloom words, table] whose slots are (hash of key, first entry, entry count): every entry of a
 *   key hash sits contiguously in `entries`, in rank order; "always" entries (empty key)
 *   likewise. Large indexes carry a one-hash Bloom filter of their key hashes (~16 bits per key,
 *   a few KiB that stay in cache) so that most lengths are rejected without touching the table;
 *   bloomShift 0 means none.
 * - host tables: slots (hash of host pattern, path index offset, host value id); the host
 *   pattern strings live in `hostValues` for the exact comparison.
 */
import { HOST_EXACT, HOST_PREFIX, HOST_SUFFIX, type Matcher } from './compile.ts'
import type { IndexEntry } from './search.ts'

/** `dead` of an entry every router serves (search.ts NO_RANK: a small integer, never a generation). */
const NEVER_DEAD = 0x3fffffff

/** One step of the rolling string hash, `h * 31 + c` in int32 (also used at match time). */
export function hashStep (h: number, c: number): number {
  return (Math.imul(h, 31) + c) | 0
}

export function hashForward (s: string): number {
  let h = 0
  for (let i = 0; i < s.length; i++) h = hashStep(h, s.charCodeAt(i))
  return h
}

/** Hash of `s` read backwards, for suffix lookups that walk the host from its end. */
export function hashBackward (s: string): number {
  let h = 0
  for (let i = s.length - 1; i >= 0; i--) h = hashStep(h, s.charCodeAt(i))
  return h
}

export const HASH_MULTIPLIER = 0x9e3779b1
export const BLOOM_MULTIPLIER = 0x85ebca77
/** Indexes with fewer distinct keys than this have no Bloom filter (their table is small). */
const BLOOM_MIN_KEYS = 64

export interface BuiltIndex<T> {
  arena: Int32Array
  entries: IndexEntry<T>[]
  hostValues: string[]
  /** Offsets of the host tables, -1 when empty. */
  exact: number
  suffix: number
  prefix: number
  /** Path index offsets: matchers whose hosts could not be indexed, and host-less matchers. */
  odd: number
  any: number
  maxKeyLength: number
}

/** An entry: the matcher's fields, then how it is reached (one shape for all entries). */
function entry<T> (m: Matcher<T>, key: string, regexIdx: number, ports: number[] | null, hostCheck: boolean): IndexEntry<T> {
  return {
    payload: m.payload,
    route: m.route,
    methods: m.methods,
    hosts: m.hosts,
    prefixes: m.prefixes,
    regexes: m.regexes,
    headers: m.headers,
    headerRegex: m.headerRegex,
    snis: m.snis,
    stripPath: m.stripPath,
    pathHandlingV1: m.pathHandlingV1,
    servicePath: m.servicePath,
    servicePathSafe: m.servicePathSafe,
    rank: m.rank,
    priority: m.priority,
    uuidKey: m.uuidKey,
    dead: NEVER_DEAD,
    key,
    regexIdx,
    ports,
    hostCheck,
  }
}

/** The entries through which a request can reach `m`, one per path (or one for no path). */
function pathEntries<T> (m: Matcher<T>, ports: number[] | null, hostCheck: boolean): IndexEntry<T>[] {
  // plain loops: no closure per matcher (router build at 10k routes)
  const out: IndexEntry<T>[] = []
  if (m.regexes !== null) for (let j = 0; j < m.regexes.length; j++) out.push(entry(m, m.regexes[j]!.literalPrefix, j, ports, hostCheck))
  else if (m.prefixes !== null) for (const p of m.prefixes) out.push(entry(m, p, -1, ports, hostCheck))
  else out.push(entry(m, '', -1, ports, hostCheck))
  return out
}

/** value -> matcher -> allowed ports (null: any port). */
type PatternMap<T> = Map<string, Map<Matcher<T>, number[] | null>>

function addPattern<T> (map: PatternMap<T>, value: string, m: Matcher<T>, port: number): void {
  let byMatcher = map.get(value)
  if (byMatcher === undefined) { byMatcher = new Map(); map.set(value, byMatcher) }
  const ports = byMatcher.get(m)
  if (port < 0) byMatcher.set(m, null)
  else if (ports === undefined) byMatcher.set(m, [port])
  else if (ports !== null && !ports.includes(port)) ports.push(port)
}

class Builder<T> {
  readonly data: number[] = []
  readonly entries: IndexEntry<T>[] = []
  readonly hostValues: string[] = []
  maxKeyLength = 0

  table (items: ReadonlyArray<readonly [number, number, number]>): number {
    let cap = 8
    let bits = 3
    while (cap < items.length * 2) { cap *= 2; bits++ }
    const t = this.data.length
    const d = this.data
    d.push(32 - bits, cap - 1)
    for (let i = 0; i < cap * 3; i++) d.push(0)
    for (const [hash, a, b] of items) {
      let slot = Math.imul(hash, HASH_MULTIPLIER) >>> (32 - bits)
      while (d[t + 2 + 3 * slot + 1] !== 0) slot = (slot + 1) & (cap - 1)
      const p = t + 2 + 3 * slot
      d[p] = hash
      d[p + 1] = a + 1
      d[p + 2] = b
    }
    return t
  }

  pathIndex (list: IndexEntry<T>[]): number {
    const sorted = [...list].sort((x, y) => x.rank - y.rank)
    const always = sorted.filter((e) => e.key.length === 0)
    const byHash = new Map<number, IndexEntry<T>[]>()
    const lengths = new Set<number>()
    for (const e of sorted) {
      if (e.key.length === 0) continue
      const h = hashForward(e.key)
      const bucket = byHash.get(h)
      if (bucket === undefined) byHash.set(h, [e])
      else bucket.push(e)
      lengths.add(e.key.length)
      if (e.key.length > this.maxKeyLength) this.maxKeyLength = e.key.length
    }
    const alwaysStart = this.entries.length
    this.entries.push(...always)
    const items: Array<[number, number, number]> = []
    for (const [h, bucket] of byHash) {
      items.push([h, this.entries.length, bucket.length])
      this.entries.push(...bucket)
    }
    const o = this.data.length
    const lens = [...lengths].sort((a, b) => a - b)
    let bloomBits = 0
    if (items.length >= BLOOM_MIN_KEYS) {
      bloomBits = 10
      while ((1 << bloomBits) < items.length * 16) bloomBits++
    }
    const minRank = sorted.length > 0 ? sorted[0]!.rank : 0x3fffffff
    this.data.push(minRank, alwaysStart, always.length, lens.length, bloomBits === 0 ? 0 : 32 - bloomBits, ...lens)
    if (bloomBits > 0) {
      const words = new Array<number>(1 << (bloomBits - 5)).fill(0)
      for (const [h] of items) {
        const bit = Math.imul(h, BLOOM_MULTIPLIER) >>> (32 - bloomBits)
        words[bit >>> 5] = (words[bit >>> 5] ?? 0) | (1 << (bit & 31))
      }
      this.data.push(...words)
    }
    this.table(items)
    return o
  }

  hostTable (map: PatternMap<T>, hash: (s: string) => number): number {
    if (map.size === 0) return -1
    const items: Array<[number, number, number]> = []
    for (const [value, byMatcher] of map) {
      const list: IndexEntry<T>[] = []
      for (const [m, ports] of byMatcher) list.push(...pathEntries(m, ports, false))
      items.push([hash(value), this.pathIndex(list), this.hostValues.length])
      this.hostValues.push(value)
    }
    return this.table(items)
  }
}

/** Index matchers (in rank order) by host pattern, then by the literal start of their paths. */
export function buildIndex<T> (matchers: readonly Matcher<T>[]): BuiltIndex<T> {
  const b = new Builder<T>()
  const exact: PatternMap<T> = new Map()
  const suffix: PatternMap<T> = new Map()
  const prefix: PatternMap<T> = new Map()
  const odd: IndexEntry<T>[] = []
  const any: IndexEntry<T>[] = []
  for (const m of matchers) {
    if (m.hosts === null) { any.push(...pathEntries(m, null, false)); continue }
    let hasOdd = false
    for (const p of m.hosts) {
      if (p.kind === HOST_EXACT) addPattern(exact, p.value, m, p.port)
      else if (p.kind === HOST_SUFFIX && p.value.startsWith('.')) addPattern(suffix, p.value, m, p.port)
      else if (p.kind === HOST_PREFIX && p.value.endsWith('.') && p.value.length > 1) addPattern(prefix, p.value, m, p.port)
      else hasOdd = true // a wildcard shape Kong's schema does not produce: test hosts per entry
    }
    if (hasOdd) odd.push(...pathEntries(m, null, true))
  }
  const exactT = b.hostTable(exact, hashForward)
  const suffixT = b.hostTable(suffix, hashBackward)
  const prefixT = b.hostTable(prefix, hashForward)
  const oddI = odd.length > 0 ? b.pathIndex(odd) : -1
  const anyI = b.pathIndex(any)
  return {
    arena: Int32Array.from(b.data),
    entries: b.entries,
    hostValues: b.hostValues,
    exact: exactT,
    suffix: suffixT,
    prefix: prefixT,
    odd: oddI,
    any: anyI,
    maxKeyLength: b.maxKeyLength,
  }
}
