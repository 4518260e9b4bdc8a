/**
 * The per-field tests of a matcher (the predicates of Kong's ATC expression), allocation-free.
 * The indexed router and the reference scan in the tests share them.
 */
import { HOST_EXACT, HOST_SUFFIX, type HeaderRule, type HostPattern } from './compile.ts'

/** `http.method == m` for one of the route's methods. */
export function methodMatches (methods: readonly string[], method: string): boolean {
  for (let i = 0; i < methods.length; i++) if (methods[i] === method) return true
  return false
}

/**
 * One host pattern against the request host `host[0, hostEnd)` and the effective port
 * (Host header port, else the listener port: fields.lua `net.dst.port`).
 */
export function hostPatternMatches (p: HostPattern, host: string, hostEnd: number, port: number): boolean {
  if (p.port >= 0 && p.port !== port) return false
  const v = p.value
  if (p.kind === HOST_EXACT) return v.length === hostEnd && host.startsWith(v)
  if (p.kind === HOST_SUFFIX) return v.length <= hostEnd && host.endsWith(v, hostEnd)
  return v.length <= hostEnd && host.startsWith(v)
}

export function hostMatches (patterns: readonly HostPattern[], host: string, hostEnd: number, port: number): boolean {
  for (let i = 0; i < patterns.length; i++) {
    if (hostPatternMatches(patterns[i]!, host, hostEnd, port)) return true
  }
  return false
}

/**
 * `(net.protocol != "https" || tls.sni == ...)`: SNIs only constrain requests that came over TLS
 * (#6425); over TLS without an SNI nothing matches.
 */
export function sniMatches (snis: readonly HostPattern[], scheme: string, sni: string | null): boolean {
  if (scheme !== 'https') return true
  if (sni === null) return false
  for (let i = 0; i < snis.length; i++) {
    const p = snis[i]!
    if (p.kind === HOST_EXACT ? sni === p.value : p.kind === HOST_SUFFIX ? sni.endsWith(p.value) : sni.startsWith(p.value)) {
      return true
    }
  }
  return false
}

/**
 * `lower(value) == expected`: the request value is lower-cased (Unicode, as Rust's to_lowercase);
 * `expected` was lower-cased at build time. ASCII values compare without allocating.
 */
export function equalsLowered (value: string, expected: string): boolean {
  const n = value.length
  for (let i = 0; i < n; i++) {
    let c = value.charCodeAt(i)
    if (c >= 128) return value.toLowerCase() === expected
    if (c >= 65 && c <= 90) c += 32
    if (c !== expected.charCodeAt(i)) return false
  }
  return n === expected.length
}

/** Does `value` satisfy one of the rule's values? */
export function headerValueMatches (rule: HeaderRule, value: string): boolean {
  const values = rule.values
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (v.re !== null ? v.re.test(value.toLowerCase()) : equalsLowered(value, v.exact!)) return true
  }
  return false
}

/** Every rule needs some request header of that name with an accepted value (`any(...)`). */
export function headersMatch (rules: readonly HeaderRule[], headers: readonly string[]): boolean {
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r]!
    let ok = false
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (headers[i] === rule.name && headerValueMatches(rule, headers[i + 1]!)) { ok = true; break }
    }
    if (!ok) return false
  }
  return true
}
