/**
 * ngx.parse_http_time (nginx's ngx_parse_http_time), which hmac-auth's clock-skew check uses:
 * RFC 1123 `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT` and asctime
 * `Sun Nov  6 08:49:37 1994`, always as GMT (what follows the seconds or asctime's year is not
 * read). Anything else is null, where Date.parse would take ISO dates, local times and more.
 */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const MDAY = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function digit (s: string, i: number): number {
  const c = s.charCodeAt(i) - 48
  return c >= 0 && c <= 9 ? c : -1
}

function two (s: string, i: number): number {
  const a = digit(s, i)
  const b = digit(s, i + 1)
  return a < 0 || b < 0 ? -1 : a * 10 + b
}

/** Epoch seconds, or null when nginx refuses the value. */
export function parseHttpTime (s: string): number | null {
  const end = s.length
  let fmt: 'rfc822' | 'rfc850' | 'isoc' | null = null
  let p = 0
  for (; p < end; p++) {
    const c = s[p]
    if (c === ',') break
    if (c === ' ') { fmt = 'isoc'; break }
  }
  for (p++; p < end; p++) if (s[p] !== ' ') break
  if (end - p < 18) return null
  let day = 0
  if (fmt !== 'isoc') {
    day = two(s, p)
    if (day < 0) return null
    p += 2
    if (s[p] === ' ') {
      if (end - p < 18) return null
      fmt = 'rfc822'
    } else if (s[p] === '-') {
      fmt = 'rfc850'
    } else {
      return null
    }
    p++
  }
  const month = MONTHS.indexOf(s.slice(p, p + 3))
  if (month < 0) return null
  p += 3
  let year = 0
  if ((fmt === 'rfc822' && s[p] !== ' ') || (fmt === 'rfc850' && s[p] !== '-')) return null
  p++ // asctime: the space after the month, unchecked
  if (fmt === 'rfc822' || fmt === 'rfc850') {
    if (fmt === 'rfc822') {
      const hi = two(s, p)
      const lo = two(s, p + 2)
      if (hi < 0 || lo < 0) return null
      year = hi * 100 + lo
      p += 4
    } else {
      year = two(s, p)
      if (year < 0) return null
      year += year < 70 ? 2000 : 1900
      p += 2
    }
  } else {
    if (s[p] === ' ') p++
    let d = digit(s, p++)
    if (d < 0) return null
    if (s[p] !== ' ') {
      const d2 = digit(s, p++)
      if (d2 < 0) return null
      d = d * 10 + d2
    }
    day = d
    if (end - p < 14) return null
  }
  if (s[p++] !== ' ') return null
  const hour = two(s, p)
  if (hour < 0 || s[p + 2] !== ':') return null
  const min = two(s, p + 3)
  if (min < 0 || s[p + 5] !== ':') return null
  const sec = two(s, p + 6)
  if (sec < 0) return null
  p += 8
  if (fmt === 'isoc') {
    if (s[p++] !== ' ') return null
    const hi = two(s, p)
    const lo = two(s, p + 2)
    if (hi < 0 || lo < 0) return null
    year = hi * 100 + lo
  }
  if (hour > 23 || min > 59 || sec > 59) return null
  if (day === 29 && month === 1) {
    if ((year & 3) !== 0 || (year % 100 === 0 && year % 400 !== 0)) return null
  } else if (day > MDAY[month]!) {
    return null
  }
  return Date.UTC(year, month, day, hour, min, sec) / 1000
}
