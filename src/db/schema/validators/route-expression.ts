/**
 * The traditional_compatible router's own check of a route (routes.lua `validate_route`): Kong
 * turns the route's fields into an ATC expression and compiles it, so a regex path or a `~*`
 * header value that Rust's `regex` crate refuses (look-around, back-references, what the
 * translator cannot express) is a schema violation at `@entity`, even though it passed the
 * field's PCRE check. Sluice runs the same translation its router uses (router/regex.ts), so a
 * route the Admin API accepts is one the router can build.
 */
import { compileHeaderRegex, translateRegex } from '../../../router/regex.ts'

const PREFIX = 'Router Expression failed validation: '

export function validateRouteExpression (entity: Record<string, unknown>): true | string {
  const paths = entity.paths
  if (Array.isArray(paths)) {
    for (const p of paths) {
      if (typeof p !== 'string' || !p.startsWith('~')) continue
      const t = translateRegex(p.slice(1))
      if (typeof t === 'string') return `${PREFIX}regex parse error in path '${p}': ${t}`
    }
  }
  const headers = entity.headers
  if (headers !== null && typeof headers === 'object' && !Array.isArray(headers)) {
    for (const [name, values] of Object.entries(headers as Record<string, unknown>)) {
      if (!Array.isArray(values)) continue
      for (const v of values) {
        if (typeof v !== 'string' || !v.startsWith('~*')) continue
        const re = compileHeaderRegex(v.slice(2))
        if (typeof re === 'string') return `${PREFIX}regex parse error in header '${name}' value '${v}': ${re}`
      }
    }
  }
  return true
}
