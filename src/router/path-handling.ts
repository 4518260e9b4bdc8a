/**
 * Upstream path composition: strip_path and path_handling v0/v1.
 *
 * v0 follows `get_upstream_uri_v0` in `kong/router/utils.lua` (the only mode the ATC flavors use);
 * v1 follows the `path_handling == "v1"` branch of `kong/router/traditional.lua`. The expected
 * results are the rows of `spec/fixtures/router_path_handling_tests.lua`.
 *
 * Inputs: `base` is the service path (`/` when the service has none), `reqPath` the normalised
 * request path, `postfix` what is left of it after the stripped prefix, already sanitised.
 */

const SLASH = 47

/** `sanitize_uri_postfix`: drop a leading `./` or `../`; `.` and `..` alone become empty. */
export function sanitizePostfix (postfix: string): string {
  const n = postfix.length
  if (n === 0 || postfix.charCodeAt(0) !== 46) return postfix
  if (n === 1 || postfix === '..') return ''
  if (postfix.charCodeAt(1) === SLASH) return postfix.slice(2)
  if (n > 2 && postfix.charCodeAt(1) === 46 && postfix.charCodeAt(2) === SLASH) return postfix.slice(3)
  return postfix
}

function endsWithSlash (s: string): boolean {
  return s.length > 0 && s.charCodeAt(s.length - 1) === SLASH
}

/** path_handling v0 (the default, and the only behaviour of traditional_compatible). */
export function upstreamPathV0 (strip: boolean, postfix: string, reqPath: string, base: string): string {
  if (endsWithSlash(base)) {
    if (!strip) return base === '/' && reqPath.charCodeAt(0) === SLASH ? reqPath : base + reqPath.slice(1)
    if (postfix === '') {
      if (base === '/') return '/'
      return endsWithSlash(reqPath) ? base : base.slice(0, -1)
    }
    // avoid a double slash between the base and the remainder
    return postfix.charCodeAt(0) === SLASH ? base.slice(0, -1) + postfix : base + postfix
  }
  if (!strip) return reqPath === '/' ? base : base + reqPath
  if (postfix === '') return reqPath.length > 1 && endsWithSlash(reqPath) ? base + '/' : base
  return postfix.charCodeAt(0) === SLASH ? base + postfix : base + '/' + postfix
}

/** path_handling v1 (deprecated; Kong honours it only with `router_flavor = traditional`). */
export function upstreamPathV1 (strip: boolean, postfix: string, reqPath: string, base: string): string {
  if (!strip) return base + reqPath.slice(1)
  if (endsWithSlash(base) && postfix.charCodeAt(0) === SLASH) return base.slice(0, -1) + postfix
  return base + postfix
}

/**
 * Compose the (not yet escaped) upstream path for a match.
 * `matched` is the matched route path (the prefix, or the whole regex match), null when the
 * route has no paths.
 */
export function composeUpstreamPath (
  v1: boolean, strip: boolean, matched: string | null, reqPath: string, base: string
): string {
  if (v1) {
    // traditional.lua: the postfix is the sanitised rest after the matched path, or the request
    // path without its first slash when the route has no paths
    const postfix = matched !== null ? sanitizePostfix(reqPath.slice(matched.length)) : reqPath.slice(1)
    return upstreamPathV1(strip, postfix, reqPath, base)
  }
  // atc.lua set_upstream_uri: the prefix is the matched path when stripping, else "/"
  const prefixLength = strip && matched !== null ? matched.length : 1
  const postfix = strip ? sanitizePostfix(reqPath.slice(prefixLength)) : ''
  return upstreamPathV0(strip, postfix, reqPath, base)
}
