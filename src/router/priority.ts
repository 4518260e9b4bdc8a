/**
 * Matcher priority for traditional_compatible (`kong/router/transform.lua` get_priority) and the
 * total order the ATC engine evaluates matchers in: highest priority first, ties to the greater
 * UUID (`atc-router/src/router.rs`: a BTreeMap keyed by (priority, uuid), iterated in reverse).
 *
 * Two calculations, after Kong Enterprise's `route_match_calculation` setting:
 *
 * - `strict`: the documented 64-bit layout (kong.md section 2.2), highest bits first:
 *   match_weight (61-63), plain_host_only (60), header count (52-59), regex flag (51),
 *   regex_priority (19-50, only for regex paths), prefix length (0-18).
 * - `original` (default; what Kong 3.x OSS actually computes, and EE's default): get_priority
 *   builds match_weight, header count and regex_priority with LuaJIT `bit.lshift` on plain Lua
 *   numbers, which is a 32-bit operation whose shift count is taken mod 32. So match_weight lands
 *   at bit 29, the header count at bit 20 and regex_priority at bit 19, all OR-ed (not added)
 *   inside 32 bits; only plain_host_only (bit 60) and the regex flag (bit 51) are real 64-bit
 *   constants and so outrank everything else. A 32-bit term that comes out negative (bit 31 set:
 *   match_weight >= 4, regex_priority < 0 or >= 4096) is converted to uint64 by LuaJIT on x86-64
 *   as 0x8000000000000000 (`lj_num2u64` on an out-of-range double). This module reproduces those
 *   bits exactly; `priority.test.ts` holds vectors computed with LuaJIT running Kong's operations.
 *
 * All of this runs at build time only; match time compares small integer ranks.
 */

export type MatchCalculation = 'original' | 'strict'

/** What get_priority reads from one (possibly split) route. */
export interface PriorityFields {
  /** Number of non-empty fields among methods, hosts, headers, snis, paths (sources/destinations). */
  matchWeight: number
  /** hosts is an array (even an empty one, as in Kong) and none contains `*`. */
  plainHostOnly: boolean
  /** Number of header names (capped at 255). */
  headerCount: number
  /** The path group is made of regex paths. */
  regex: boolean
  regexPriority: number
  /** Length of the prefix paths of the group (0 for regex or no paths). */
  prefixLength: number
}

const BIT63 = 1n << 63n
const PLAIN_HOST_ONLY_BIT = 1n << 60n
const REGEX_URL_BIT = 1n << 51n
const MAX_HEADER_COUNT = 255

/** A LuaJIT 32-bit bit-op result as it reaches a uint64 on x86-64. */
function luaNumberToU64 (int32: number): bigint {
  return int32 < 0 ? BIT63 : BigInt(int32)
}

function originalPriority (f: PriorityFields, headerCount: number): bigint {
  const weight = (f.matchWeight << 29) | 0 // lshift(n, 61): 61 mod 32 = 29
  const headers = (headerCount << 20) | 0 // lshift(n, 52): 52 mod 32 = 20
  const regexPriority = ((f.regex ? f.regexPriority : 0) << 19) | 0
  const length = f.prefixLength & 0x7ffff
  if (!f.plainHostOnly && !f.regex) {
    // every operand of bor() is a plain number: the whole OR stays 32-bit
    return luaNumberToU64(weight | headers | regexPriority | length)
  }
  // one 64-bit cdata operand makes bor() 64-bit; each number is converted on its own
  let p = luaNumberToU64(weight) | luaNumberToU64(headers) | luaNumberToU64(regexPriority) | BigInt(length)
  if (f.plainHostOnly) p |= PLAIN_HOST_ONLY_BIT
  if (f.regex) p |= REGEX_URL_BIT
  return p
}

function strictPriority (f: PriorityFields, headerCount: number): bigint {
  let p = BigInt(f.matchWeight & 7) << 61n
  if (f.plainHostOnly) p |= PLAIN_HOST_ONLY_BIT
  p |= BigInt(headerCount) << 52n
  if (f.regex) {
    p |= REGEX_URL_BIT
    // 32 bits for regex_priority; offset so that negative values order below zero
    p |= BigInt((f.regexPriority + 0x80000000) >>> 0) << 19n
  }
  return p | BigInt(f.prefixLength & 0x7ffff)
}

export function computePriority (f: PriorityFields, mode: MatchCalculation): bigint {
  const headerCount = f.headerCount > MAX_HEADER_COUNT ? MAX_HEADER_COUNT : f.headerCount
  return mode === 'strict' ? strictPriority(f, headerCount) : originalPriority(f, headerCount)
}

/** `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lowercase hex. */
function isCanonicalUuid (id: string): boolean {
  if (id.length !== 36) return false
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i)
    if (i === 8 || i === 13 || i === 18 || i === 23) { if (c !== 45) return false } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false
  }
  return true
}

/** UUID in canonical lowercase form, whose order is that of the 16 bytes the ATC engine compares. */
export function uuidSortKey (id: string): string {
  // A canonical lowercase UUID orders exactly as its hex digits do (the dashes sit at the same
  // places in every one), so it is its own key: no string is built for it (router build at 10k).
  // Other spellings of a UUID (upper case, braces, no dashes) take the same canonical form.
  if (isCanonicalUuid(id)) return id
  const h = id.toLowerCase().replace(/[-{}]/g, '')
  if (!/^[0-9a-f]{32}$/.test(h)) return id.toLowerCase()
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export interface Ranked {
  priority: bigint
  uuidKey: string
}

/** Evaluation order: negative when `a` is tried before `b`. */
export function compareRanked (a: Ranked, b: Ranked): number {
  if (a.priority !== b.priority) return a.priority > b.priority ? -1 : 1
  if (a.uuidKey === b.uuidKey) return 0
  return a.uuidKey > b.uuidKey ? -1 : 1
}
