/**
 * Match-time lookups in the indexes built by index-build.ts (layouts documented there).
 *
 * `probe` feeds `Search.accept` every entry that can still win: entries of the request host's
 * exact pattern, of each `.`-started suffix and each `.`-ended prefix of the host, of hosts that
 * could not be indexed, then of host-less matchers. Inside a path index, the candidates are the
 * entries whose key hash equals the hash of the path's first L characters, for each key length
 * L the index holds. Entry runs are rank-ordered, so each scan stops at the first entry that
 * cannot beat the best match so far. Nothing here allocates or builds a string.
 */
import { BLOOM_MULTIPLIER, HASH_MULTIPLIER, hashStep, type BuiltIndex } from './index-build.ts'
import type { IndexEntry, Search } from './search.ts'

const DOT = 46

export class RouterIndex<T> {
  readonly arena: Int32Array
  readonly entries: IndexEntry<T>[]
  readonly hostValues: string[]
  readonly exact: number
  readonly suffix: number
  readonly prefix: number
  readonly odd: number
  readonly any: number
  readonly maxKeyLength: number

  constructor (b: BuiltIndex<T>) {
    this.arena = b.arena
    this.entries = b.entries
    this.hostValues = b.hostValues
    this.exact = b.exact
    this.suffix = b.suffix
    this.prefix = b.prefix
    this.odd = b.odd
    this.any = b.any
    this.maxKeyLength = b.maxKeyLength
  }

  /** Scan `count` rank-ordered entries from `start` whose key is `len` long (-1: any). */
  private scan (start: number, count: number, len: number, s: Search<T>): void {
    const E = this.entries
    const path = s.path
    for (let i = start; i < start + count; i++) {
      const e = E[i]!
      if (e.rank >= s.bestRank) return
      if (e.dead <= s.gen) continue
      if (len >= 0 && (e.key.length !== len || !path.startsWith(e.key))) continue
      if (s.accept(e)) return
    }
  }

  probePath (o: number, s: Search<T>): void {
    const A = this.arena
    if (A[o]! >= s.bestRank) return
    const alwaysCount = A[o + 2]!
    if (alwaysCount > 0) this.scan(A[o + 1]!, alwaysCount, -1, s)
    const n = A[o + 3]!
    const bloomShift = A[o + 4]!
    const bloom = o + 5 + n
    const t = bloomShift === 0 ? bloom : bloom + (1 << (27 - bloomShift))
    const shift = A[t]!
    const mask = A[t + 1]!
    const H = s.hashes
    const hashed = s.hashed
    for (let li = 0; li < n; li++) {
      const len = A[o + 5 + li]!
      if (len > hashed) return
      const h = H[len]!
      if (bloomShift !== 0) {
        const bit = Math.imul(h, BLOOM_MULTIPLIER) >>> bloomShift
        if ((A[bloom + (bit >>> 5)]! & (1 << (bit & 31))) === 0) continue
      }
      let slot = Math.imul(h, HASH_MULTIPLIER) >>> shift
      for (;;) {
        const p = t + 2 + 3 * slot
        const first = A[p + 1]!
        if (first === 0) break
        if (A[p] === h) { this.scan(first - 1, A[p + 2]!, len, s); break }
        slot = (slot + 1) & mask
      }
    }
  }

  /** Probe every slot of host table `t` holding hash `h` whose host value is `host[from, end)`. */
  private probeHost (t: number, h: number, host: string, from: number, end: number, s: Search<T>): void {
    const A = this.arena
    const shift = A[t]!
    const mask = A[t + 1]!
    let slot = Math.imul(h, HASH_MULTIPLIER) >>> shift
    for (;;) {
      const p = t + 2 + 3 * slot
      const index = A[p + 1]!
      if (index === 0) return
      if (A[p] === h) {
        const v = this.hostValues[A[p + 2]!]!
        if (v.length === end - from && host.startsWith(v, from)) this.probePath(index - 1, s)
      }
      slot = (slot + 1) & mask
    }
  }

  probe (s: Search<T>): void {
    const host = s.host
    const end = s.hostEnd
    // without a Host header (HTTP/1.0) http.host is unset and no host pattern can match
    if (end > 0) {
      if (this.exact >= 0) {
        let h = 0
        for (let i = 0; i < end; i++) h = hashStep(h, host.charCodeAt(i))
        this.probeHost(this.exact, h, host, 0, end, s)
      }
      if (this.suffix >= 0) {
        let h = 0
        for (let i = end - 1; i >= 0; i--) {
          const c = host.charCodeAt(i)
          h = hashStep(h, c)
          if (c === DOT) this.probeHost(this.suffix, h, host, i, end, s)
        }
      }
      if (this.prefix >= 0) {
        let h = 0
        for (let i = 0; i < end; i++) {
          const c = host.charCodeAt(i)
          h = hashStep(h, c)
          if (c === DOT) this.probeHost(this.prefix, h, host, 0, i + 1, s)
        }
      }
      if (this.odd >= 0) this.probePath(this.odd, s)
    }
    this.probePath(this.any, s)
  }
}
