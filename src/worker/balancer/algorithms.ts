/**
 * Kong's four balancing algorithms over a balancer's addresses (kong/runloop/balancer/
 * round_robin.lua, consistent_hashing.lua, least_connections.lua, latency.lua; behaviour, not
 * code). `rebuild` runs when the address set or its health changes (snapshot compile, DNS
 * answer, health message), never per request; `pick` is the hot path.
 *
 * - round-robin: a wheel holding each address weight/gcd times, shuffled; a pointer walks it and
 *   skips unavailable entries. A retry skips the address that just failed when another is up.
 * - consistent-hashing: a continuum of `slots` points (at least 1000, Kong's minimum); each
 *   address takes floor(weight / total * targets * 160) points (at least 1), placed at
 *   xxhash32("<ip>::<port> <i>") % points, collisions moved on. A request maps xxhash32(input)
 *   onto it and walks down to the first available address. As in Kong, a retry walks from the
 *   same point, so it reaches the same address unless health took it out.
 * - least-connections: the available address with the lowest (tries in flight + 1) / weight; a
 *   retry avoids the addresses that failed for this request while any other is available.
 * - latency: the lowest peak-EWMA (10 s decay) / weight among available addresses not yet tried
 *   by this request; a new address starts at the average of the others (slow start).
 */
import { Address } from './address.ts'
import { xxhash32 } from './xxhash32.ts'

export interface Algorithm {
  rebuild (addresses: readonly Address[], targetCount: number): void
  /** `hash`: the request's continuum input (consistent-hashing only); `tried`: addresses that failed for this request. */
  pick (hash: number, tried: readonly Address[] | null): Address | null
}

function gcd (a: number, b: number): number {
  while (b !== 0) { const t = a % b; a = b; b = t }
  return a
}

export class RoundRobin implements Algorithm {
  #wheel: Address[] = []
  #pointer = 0

  rebuild (addresses: readonly Address[]): void {
    let divisor = 0
    for (const a of addresses) divisor = gcd(divisor, a.weight)
    const wheel: Address[] = []
    if (divisor > 0) {
      for (const a of addresses) for (let i = a.weight / divisor; i > 0; i--) wheel.push(a)
    }
    for (let i = wheel.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      const t = wheel[i]!; wheel[i] = wheel[j]!; wheel[j] = t
    }
    this.#wheel = wheel
    this.#pointer = wheel.length > 0 ? Math.floor(Math.random() * wheel.length) : 0
  }

  pick (_hash: number, tried: readonly Address[] | null): Address | null {
    const wheel = this.#wheel
    const n = wheel.length
    const avoid = tried === null ? null : tried[tried.length - 1]!
    let fallback: Address | null = null
    for (let k = 0; k < n; k++) {
      let p = this.#pointer + 1
      if (p >= n) p = 0
      this.#pointer = p
      const a = wheel[p]!
      if (!a.available) continue
      if (a === avoid) { fallback = a; continue }
      return a
    }
    return fallback
  }
}

const SERVER_POINTS = 160
const MIN_CONTINUUM = 1000

export class ConsistentHashing implements Algorithm {
  readonly points: number
  #continuum: Array<Address | undefined> = []

  constructor (slots: number) {
    this.points = slots >= MIN_CONTINUUM ? slots : MIN_CONTINUUM
  }

  /** The continuum index of a request's hash input. */
  index (value: string): number {
    return xxhash32(value) % this.points
  }

  rebuild (addresses: readonly Address[], targetCount: number): void {
    const points = this.points
    const c = new Array<Address | undefined>(points)
    let total = 0
    for (const a of addresses) total += a.weight
    // Kong sorts by target name and port, then addresses by "ip:port", before placing them.
    const sorted = [...addresses].sort((x, y) => (x.target < y.target ? -1 : x.target > y.target ? 1 : (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)))
    for (const a of sorted) {
      let entries = total === 0 ? 0 : Math.floor(a.weight / total * targetCount * SERVER_POINTS)
      if (a.weight > 0 && entries === 0) entries = 1
      for (let i = 1; i <= entries; i++) {
        if (i > points) break
        const at = xxhash32(`${a.ip}::${a.port} ${i}`) % points
        if (c[at] === undefined) c[at] = a
        else entries++
      }
    }
    this.#continuum = c
  }

  pick (hash: number): Address | null {
    const c = this.#continuum
    const points = this.points
    let i = hash
    for (let k = 0; k < points; k++) {
      const a = c[i]
      if (a !== undefined && a.available) return a
      i = i === 0 ? points - 1 : i - 1
    }
    return null
  }
}

export class LeastConnections implements Algorithm {
  #addresses: readonly Address[] = []
  #start = 0

  rebuild (addresses: readonly Address[]): void {
    this.#addresses = addresses
  }

  pick (_hash: number, tried: readonly Address[] | null): Address | null {
    const list = this.#addresses
    const n = list.length
    let best: Address | null = null
    let bestScore = Infinity
    let bestTried: Address | null = null
    let bestTriedScore = Infinity
    // Ties go round: the scan starts one further each time.
    const start = this.#start = n === 0 ? 0 : (this.#start + 1) % n
    for (let k = 0; k < n; k++) {
      const a = list[(start + k) % n]!
      if (!a.available) continue
      const score = (a.connections + 1) / a.weight
      if (tried !== null && tried.includes(a)) {
        if (score < bestTriedScore) { bestTried = a; bestTriedScore = score }
        continue
      }
      if (score < bestScore) { best = a; bestScore = score }
    }
    return best ?? bestTried
  }
}

const DECAY_MS = 10_000

export class Latency implements Algorithm {
  #addresses: readonly Address[] = []

  rebuild (addresses: readonly Address[]): void {
    this.#addresses = addresses
    // Slow start: an address without a measure starts at the average of those that have one.
    let sum = 0
    let n = 0
    for (const a of addresses) if (a.available && a.ewmaAt > 0) { sum += a.ewma; n++ }
    const now = performance.now()
    for (const a of addresses) {
      if (a.ewmaAt === 0 && n > 0) { a.ewma = sum / n; a.ewmaAt = now }
    }
  }

  pick (_hash: number, tried: readonly Address[] | null): Address | null {
    const now = performance.now()
    let best: Address | null = null
    let bestScore = Infinity
    for (const a of this.#addresses) {
      if (!a.available || (tried !== null && tried.includes(a))) continue
      const score = decayed(a, now) / a.weight
      if (score < bestScore) { best = a; bestScore = score }
    }
    return best
  }
}

function decayed (a: Address, now: number): number {
  if (a.ewmaAt === 0) return 0
  const td = now - a.ewmaAt
  return a.ewma * Math.exp(-(td > 0 ? td : 0) / DECAY_MS)
}

/** A finished try's round-trip (ms): the EWMA moves toward it (Kong's afterBalance). */
export function recordLatency (a: Address, rttMs: number): void {
  const now = performance.now()
  const td = a.ewmaAt === 0 ? Infinity : now - a.ewmaAt
  const w = Math.exp(-(td > 0 ? td : 0) / DECAY_MS)
  a.ewma = a.ewma * w + rttMs * (1 - w)
  a.ewmaAt = now
}
