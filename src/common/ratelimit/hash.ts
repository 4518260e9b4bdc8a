/**
 * A 64-bit (two 32-bit lanes) string hash for counter keys, allocation-free: the lanes are left in
 * `lanes` for the caller to read. Multiply-xorshift per code unit on two lanes with different odd
 * multipliers, then a cross-lane avalanche (the construction of cyrb53, kept at 64 bits). A slot of
 * the counter table is identified by both lanes, so two live keys collide with probability ~2^-64.
 */

/** Result of the last call: [lane A, lane B]. Read it before the next call. */
export const lanes = new Int32Array(2)

const SEED_A = 0x2f6b_3a91
const SEED_B = 0x41c6_4e6d

/** Hashes `s`, continuing from `a`/`b` (pass SEED for a fresh hash); writes the unfinished lanes. */
export function hashString (s: string, a: number = SEED_A, b: number = SEED_B): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    a = Math.imul(a ^ c, 0x9e3779b1)
    b = Math.imul(b ^ c, 0x5f356495)
  }
  lanes[0] = a
  lanes[1] = b
}

/** Mixes two integers into the lanes left by hashString (or given), then finalises. */
export function hashFinish (a: number, b: number, x: number, y: number): void {
  a = Math.imul(a ^ x, 0x9e3779b1)
  b = Math.imul(b ^ x, 0x5f356495)
  a = Math.imul(a ^ y, 0x9e3779b1)
  b = Math.imul(b ^ y, 0x5f356495)
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b) ^ Math.imul(b ^ (b >>> 13), 0xc2b2ae35)
  b = Math.imul(b ^ (b >>> 16), 0x85ebca6b) ^ Math.imul(a ^ (a >>> 13), 0xc2b2ae35)
  a ^= a >>> 16
  b ^= b >>> 15
  // 0 in both lanes marks an empty slot: never produce it.
  if (a === 0 && b === 0) a = 1
  lanes[0] = a
  lanes[1] = b
}

export const HASH_SEED_A = SEED_A
export const HASH_SEED_B = SEED_B
