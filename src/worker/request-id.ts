/**
 * Request ids: 32 lowercase hex characters, as Kong's `X-Kong-Request-Id`. A random 64-bit prefix
 * drawn once per worker plus a 64-bit counter: unique per node without a syscall or a random draw
 * per request (Kong draws 16 random bytes each time; only the format is part of the contract).
 */
import { randomBytes } from 'node:crypto'

const PREFIX = randomBytes(8).toString('hex')
const ZEROS = '0000000000000000'
let counter = 0

export function nextRequestId (): string {
  counter++
  const c = counter.toString(16)
  return PREFIX + ZEROS.slice(c.length) + c
}
