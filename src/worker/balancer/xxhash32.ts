/**
 * xxHash32 (seed 0) of a string's UTF-8 bytes: the hash Kong's consistent-hashing balancer uses
 * (luaxxhash) to place addresses on its continuum and to map a request's hash input onto it, so
 * the same input lands on the same address as in Kong. Written from the published algorithm
 * (Cyan4973/xxHash, XXH32).
 */
const P1 = 2654435761
const P2 = 2246822519
const P3 = 3266489917
const P4 = 668265263
const P5 = 374761393

function rotl (x: number, r: number): number {
  return (x << r) | (x >>> (32 - r))
}

function round (acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1)
}

const encoder = new TextEncoder()
/** Reused UTF-8 scratch: hashing allocates nothing (grown for long inputs). */
let scratch = new Uint8Array(256)

function u32 (b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0
}

export function xxhash32 (s: string): number {
  if (s.length * 3 > scratch.length) scratch = new Uint8Array(s.length * 3)
  const b = scratch
  const len = encoder.encodeInto(s, b).written
  let i = 0
  let h: number
  if (len >= 16) {
    let v1 = (P1 + P2) | 0
    let v2 = P2 | 0
    let v3 = 0
    let v4 = (0 - P1) | 0
    const limit = len - 16
    while (i <= limit) {
      v1 = round(v1, u32(b, i)); i += 4
      v2 = round(v2, u32(b, i)); i += 4
      v3 = round(v3, u32(b, i)); i += 4
      v4 = round(v4, u32(b, i)); i += 4
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0
  } else {
    h = P5 | 0
  }
  h = (h + len) | 0
  while (i + 4 <= len) {
    h = Math.imul(rotl((h + Math.imul(u32(b, i), P3)) | 0, 17), P4)
    i += 4
  }
  while (i < len) {
    h = Math.imul(rotl((h + Math.imul(b[i]!, P5)) | 0, 11), P1)
    i++
  }
  h ^= h >>> 15
  h = Math.imul(h, P2)
  h ^= h >>> 13
  h = Math.imul(h, P3)
  h ^= h >>> 16
  return h >>> 0
}
