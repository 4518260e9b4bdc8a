/**
 * Per-router scratch state for one `match()` call, and the full test of one index candidate.
 *
 * The indexes hand candidates to `accept` in rank order within each bucket; `accept` keeps the
 * best (lowest rank) matcher seen so far, so that the overall winner is the first matcher in
 * evaluation order whose every predicate holds, exactly as a scan of all matchers would find.
 * One instance per router, reset at the start of each call: match() allocates nothing here.
 */
import type { MatchTarget } from './compile.ts'
import type { MatchInput } from './types.ts'
import { hashStep } from './index-build.ts'
import { headersMatch, hostMatches, methodMatches, sniMatches } from './predicates.ts'

/**
 * One way into a matcher: the literal text the path must start with, and what is left to test.
 * It carries a copy of its matcher's fields, so that a match reads one object, not two (at 10k
 * routes, dependent memory loads are what a match costs).
 */
export interface IndexEntry<T> extends MatchTarget<T> {
  rank: number
  /** The matcher's place in Kong's order (priority, then uuid): compares winners of two layers. */
  priority: bigint
  uuidKey: string
  /**
   * Generation of the first patched router (traditional.ts patchRouter) that no longer serves
   * this entry's route; NO_RANK while every router built on this index serves it. A router only
   * skips entries dead at or before its own generation, so routers patched earlier are unaffected.
   */
  dead: number
  /** Text the normalised path must start with ('' when none): the prefix path itself, or the
   *  literal prefix of a regex path. */
  key: string
  /** Index of the regex path this entry stands for, -1 for a prefix path or no path. */
  regexIdx: number
  /** Ports allowed by the host pattern(s) that led here, null for any. */
  ports: number[] | null
  /** Test the matcher's hosts here (hosts that could not be indexed). */
  hostCheck: boolean
}

const NO_HEADERS: readonly string[] = []
/** Worse than any rank; a small integer so that rank fields stay small integers. */
const NO_RANK = 0x3fffffff

/** First regex of the group, in route order, that matches (ATC evaluates `||` left to right). */
function firstRegexMatch<T> (e: IndexEntry<T>, path: string, upto: number): RegExpExecArray | null {
  const regexes = e.regexes!
  for (let j = 0; j <= upto; j++) {
    const r = regexes[j]!
    if (!path.startsWith(r.literalPrefix)) continue
    const exec = r.re.exec(path)
    if (exec !== null) return exec
  }
  return null
}

export class Search<T> {
  bestRank = NO_RANK
  best: IndexEntry<T> | null = null
  bestExec: RegExpExecArray | null = null
  path = ''
  method = ''
  headers: readonly string[] = NO_HEADERS
  scheme = ''
  sni: string | null = null
  /** Host header; its host part is `host[0, hostEnd)`. */
  host = ''
  hostEnd = 0
  /** Effective `net.dst.port`: the Host header's port, else the listener port. */
  port = 0
  /** `hashes[L]` is the hash of `path[0, L)`, for L up to `hashed`. */
  readonly hashes: Int32Array
  hashed = 0
  /** Entries with `dead <= gen` are skipped (patched routers; 0 for a full build). */
  gen = 0

  constructor (maxKeyLength: number) {
    this.hashes = new Int32Array(maxKeyLength + 1)
  }

  begin (input: MatchInput, path: string): void {
    this.bestRank = NO_RANK
    this.best = null
    this.bestExec = null
    this.path = path
    this.method = input.method
    this.headers = input.headers
    this.scheme = input.scheme
    this.sni = input.sni
    const host = input.host
    this.host = host
    this.hostEnd = host.length
    this.port = input.port
    // transform.lua split_host_port: a port only when all of the rest is a number
    const colon = host.indexOf(':')
    if (colon >= 0 && colon + 1 < host.length) {
      let port = 0
      let i = colon + 1
      for (; i < host.length; i++) {
        const c = host.charCodeAt(i)
        if (c < 48 || c > 57) break
        port = port * 10 + c - 48
      }
      if (i === host.length) { this.hostEnd = colon; this.port = port }
    }
    const hashes = this.hashes
    const n = Math.min(path.length, hashes.length - 1)
    let h = 0
    for (let i = 0; i < n; i++) {
      h = hashStep(h, path.charCodeAt(i))
      hashes[i + 1] = h
    }
    this.hashed = n
  }

  /** Drop references to request data once the call is over. */
  end (): void {
    this.headers = NO_HEADERS
    this.best = null
    this.bestExec = null
    this.sni = null
  }

  /** Test the rest of `e`'s matcher (the index has checked host and `key`); keep it if it wins. */
  accept (e: IndexEntry<T>): boolean {
    const ports = e.ports
    if (ports !== null) {
      let ok = false
      for (let i = 0; i < ports.length; i++) if (ports[i] === this.port) { ok = true; break }
      if (!ok) return false
    }
    if (e.hostCheck && !hostMatches(e.hosts!, this.host, this.hostEnd, this.port)) return false
    if (e.methods !== null && !methodMatches(e.methods, this.method)) return false
    if (e.snis !== null && !sniMatches(e.snis, this.scheme, this.sni)) return false
    if (e.headers !== null && !headersMatch(e.headers, this.headers)) return false
    let exec: RegExpExecArray | null = null
    if (e.regexIdx >= 0) {
      exec = firstRegexMatch(e, this.path, e.regexIdx)
      if (exec === null) return false
    }
    this.bestRank = e.rank
    this.best = e
    this.bestExec = exec
    return true
  }
}
