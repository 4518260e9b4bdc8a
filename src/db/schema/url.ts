/**
 * LuaSocket's `socket.url.parse`, which Kong's service `url` shorthand relies on. It is a
 * forgiving splitter, not a validator: `"localhost:8000"` has the scheme `localhost`, and an
 * unparseable string becomes a path. The schema then reports what is wrong (host missing,
 * path not starting with /), which is exactly what Kong users see.
 */

export interface ParsedUrl {
  scheme?: string
  authority?: string
  host?: string
  port?: string
  userinfo?: string
  path?: string
  query?: string
  fragment?: string
  params?: string
}

export function parseUrl (input: string): ParsedUrl | null {
  if (input === '') return null
  const parsed: ParsedUrl = {}
  let url = input
  const scheme = /^([A-Za-z0-9][A-Za-z0-9+\-.]*):/.exec(url)
  if (scheme !== null) { parsed.scheme = scheme[1]!; url = url.slice(scheme[0].length) }
  const auth = /^\/\/([^/?#]*)/.exec(url)
  if (auth !== null) { parsed.authority = auth[1]!; url = url.slice(auth[0].length) }
  const hash = url.indexOf('#')
  if (hash >= 0) { parsed.fragment = url.slice(hash + 1); url = url.slice(0, hash) }
  const q = url.indexOf('?')
  if (q >= 0) { parsed.query = url.slice(q + 1); url = url.slice(0, q) }
  const semi = url.indexOf(';')
  if (semi >= 0) { parsed.params = url.slice(semi + 1); url = url.slice(0, semi) }
  if (url !== '') parsed.path = url
  if (parsed.authority === undefined) return parsed
  let authority = parsed.authority
  const at = /^([^@]*)@/.exec(authority)
  if (at !== null) { parsed.userinfo = at[1]!; authority = authority.slice(at[0].length) }
  const port = /:([^:\]]*)$/.exec(authority)
  if (port !== null) { parsed.port = port[1]!; authority = authority.slice(0, port.index) }
  if (authority !== '') {
    const v6 = /^\[(.+)\]$/.exec(authority)
    parsed.host = v6 !== null ? v6[1]! : authority
  }
  return parsed
}

/** Lua's tonumber() on a string: decimal (with fraction/exponent) or hex, surrounding spaces ok. */
export function luaToNumber (s: string): number | null {
  const t = luaTrim(s)
  if (/^[-+]?0[xX][0-9a-fA-F]+$/.test(t)) {
    const neg = t.startsWith('-')
    const v = parseInt(t.replace(/^[-+]?0[xX]/, ''), 16)
    return neg ? -v : v
  }
  // one way to match each input: no quadratic backtracking on long digit runs
  if (!/^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/.test(t)) return null
  return Number(t)
}

function isSpace (c: number): boolean { return c === 32 || (c >= 9 && c <= 13) }

function luaTrim (s: string): string {
  let a = 0
  let b = s.length
  while (a < b && isSpace(s.charCodeAt(a))) a++
  while (b > a && isSpace(s.charCodeAt(b - 1))) b--
  return s.slice(a, b)
}
