/**
 * The Standard Webhooks signature as Kong's standard-webhooks plugin computes it
 * (kong/plugins/standard-webhooks/internal.lua sign): `v1,` + base64(HMAC-SHA256(secret,
 * `<id>.<timestamp>.<body>`)), the secret used as given (no `whsec_` prefix or base64 decoding).
 *
 * Kong reads the timestamp header with Lua's `tonumber` (0 when that fails) and signs the number
 * as Lua prints it (`%.14g`), not the header text: `1700000000.0` is signed as `1700000000`,
 * ` 17 ` as `17`. `luaToNumber` and `luaNumberString` reproduce those two conversions (LuaJIT's
 * lj_strscan for decimal numbers, `0x` integers, inf and nan; hexadecimal fractions are not
 * read and count as a failed conversion).
 */
import { createHmac } from 'node:crypto'

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]+)$/
const SPECIAL = /^([+-]?)(inf|infinity|nan)$/i
/** Lua's isspace: space, \t, \n, \v, \f, \r. */
const LUA_SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g

/** Lua's `tonumber(s)` for a string; null where Lua gives nil. */
export function luaToNumber (raw: string): number | null {
  const s = raw.replace(LUA_SPACE, '')
  if (DECIMAL.test(s)) return Number(s)
  let m = HEX.exec(s)
  if (m !== null) {
    const v = parseInt(m[2]!, 16)
    return m[1] === '-' ? -v : v
  }
  m = SPECIAL.exec(s)
  if (m !== null) {
    if (m[2]!.toLowerCase() === 'nan') return NaN
    return m[1] === '-' ? -Infinity : Infinity
  }
  return null
}

function trimFraction (s: string): string {
  if (s.indexOf('.') < 0) return s
  let end = s.length
  while (s.charCodeAt(end - 1) === 48) end--
  if (s.charCodeAt(end - 1) === 46) end--
  return s.slice(0, end)
}

/**
 * |n| rounded to 14 significant digits as C's printf rounds: on the exact binary value, ties to
 * even (JavaScript's toExponential breaks ties upwards). 99 fraction digits show the exact value
 * of any double this is used for (a tie needs all of them after the 15th to be zero).
 */
function round14 (n: number): { digits: string; exp: number } {
  const [m, e] = Math.abs(n).toExponential(99).split('e') as [string, string]
  const all = m.replace('.', '')
  let exp = Number(e)
  let head = all.slice(0, 14)
  const next = all.charCodeAt(14) - 48
  const up = next > 5 || (next === 5 && (/[1-9]/.test(all.slice(15)) || (head.charCodeAt(13) - 48) % 2 === 1))
  if (up) {
    const bumped = (BigInt(head) + 1n).toString()
    if (bumped.length > 14) { head = bumped.slice(0, 14); exp++ } else head = bumped
  }
  return { digits: head, exp }
}

/** A number as Lua 5.1 / LuaJIT turns it into a string (C's `%.14g`). */
export function luaNumberString (n: number): string {
  if (Number.isNaN(n)) return 'nan'
  if (n === Infinity) return 'inf'
  if (n === -Infinity) return '-inf'
  if (n === 0) return Object.is(n, -0) ? '-0' : '0'
  if (Number.isSafeInteger(n) && Math.abs(n) < 1e14) return String(n)
  const sign = n < 0 ? '-' : ''
  const { digits, exp } = round14(n)
  if (exp < -4 || exp >= 14) {
    const e = String(Math.abs(exp)).padStart(2, '0')
    return `${sign}${trimFraction(`${digits[0]}.${digits.slice(1)}`)}e${exp < 0 ? '-' : '+'}${e}`
  }
  if (exp < 0) return `${sign}${trimFraction(`0.${'0'.repeat(-exp - 1)}${digits}`)}`
  return `${sign}${trimFraction(`${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`)}`
}

/** Kong's `sign(secret, id, ts, payload)`, `ts` being the number the timestamp header gave. */
export function sign (secret: string, id: string, ts: number, payload: Buffer | string): string {
  const mac = createHmac('sha256', secret)
  mac.update(`${id}.${luaNumberString(ts)}.`)
  mac.update(payload)
  return `v1,${mac.digest('base64')}`
}
