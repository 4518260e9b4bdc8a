/**
 * Turning a chosen matcher into the `RouteMatch` handed to the worker: upstream path (composed,
 * then escaped), the stripped prefix for X-Forwarded-Prefix, and regex captures.
 *
 * Captures follow `atc.lua` / the ATC engine: index 0 is the whole match, unmatched groups are
 * absent (here: empty strings in `unnamed`, missing from `named`), and they are reported only
 * when there is more than the whole match. A `~*` header regex that matched also writes its
 * captures into the same table (headers are evaluated after the path), as Kong does.
 */
import type { RouteMatch } from './types.ts'
import type { MatchTarget } from './compile.ts'
import { composeUpstreamPath } from './path-handling.ts'
import { escapeUpstreamPath } from './uri.ts'

type Captures = NonNullable<RouteMatch<unknown>['captures']>

interface CaptureTable {
  unnamed: string[]
  /** Which indexes of `unnamed` hold a real capture (the rest are gap fillers). */
  present: boolean[]
  named: Record<string, string>
}

function addExec (exec: RegExpExecArray, t: CaptureTable): void {
  for (let i = 0; i < exec.length; i++) {
    const v = exec[i]
    if (v === undefined) continue
    while (t.unnamed.length <= i) { t.unnamed.push(''); t.present.push(false) }
    t.unnamed[i] = v
    t.present[i] = true
  }
  const groups = exec.groups
  if (groups !== undefined) {
    for (const k of Object.keys(groups)) {
      const v = groups[k]
      if (v !== undefined) setNamed(t.named, k, v)
    }
  }
}

/** Captures of the `~*` header values that decided the match, in route order (Kong: pairs()). */
function addHeaderCaptures<T> (m: MatchTarget<T>, headers: readonly string[], t: CaptureTable): void {
  for (const rule of m.headers!) {
    search: for (const v of rule.values) {
      for (let i = 0; i + 1 < headers.length; i += 2) {
        if (headers[i] !== rule.name) continue
        const value = headers[i + 1]!.toLowerCase()
        if (v.re === null) {
          if (value === v.exact) break search
          continue
        }
        const exec = v.re.exec(value)
        if (exec !== null) { addExec(exec, t); break search }
      }
    }
  }
}

function setNamed (named: Record<string, string>, k: string, v: string): void {
  if (k === '__proto__') Object.defineProperty(named, k, { value: v, enumerable: true, writable: true, configurable: true })
  else named[k] = v
}

/** The common case: path regex captures only. */
function pathCaptures (exec: RegExpExecArray): Captures | null {
  const n = exec.length
  if (n === 1) return null
  const unnamed = new Array<string>(n)
  unnamed[0] = exec[0]
  let keys = 1
  for (let i = 1; i < n; i++) {
    const v = exec[i]
    if (v === undefined) unnamed[i] = ''
    else { unnamed[i] = v; keys++ }
  }
  const named: Record<string, string> = {}
  const groups = exec.groups
  if (groups !== undefined) {
    for (const k in groups) {
      const v = groups[k]
      if (v !== undefined) { setNamed(named, k, v); keys++ }
    }
  }
  return keys >= 2 ? { unnamed, named } : null
}

function buildCaptures<T> (m: MatchTarget<T>, exec: RegExpExecArray | null, headers: readonly string[]): Captures | null {
  if (!m.headerRegex) return exec !== null ? pathCaptures(exec) : null
  const t: CaptureTable = { unnamed: [], present: [], named: {} }
  if (exec !== null) addExec(exec, t)
  if (m.headerRegex) addHeaderCaptures(m, headers, t)
  let keys = Object.keys(t.named).length
  for (let i = 0; i < t.present.length; i++) if (t.present[i] === true) keys++
  return keys >= 2 ? { unnamed: t.unnamed, named: t.named } : null
}

/**
 * @param matchedPrefix the prefix path that matched (prefix routes), else null
 * @param exec the winning path regex result (regex routes), else null
 * @param pathSafe the normalised path needs no escaping (a hint; false is always correct)
 */
export function buildMatch<T> (
  m: MatchTarget<T>, matchedPrefix: string | null, exec: RegExpExecArray | null, path: string,
  headers: readonly string[], pathSafe: boolean
): RouteMatch<T> {
  let matched = exec !== null ? exec[0] : matchedPrefix
  if (matched === '') matched = null
  const upstream = composeUpstreamPath(m.pathHandlingV1, m.stripPath, matched, path, m.servicePath)
  const stripped = m.stripPath ? matched : null
  return {
    payload: m.payload,
    route: m.route,
    upstreamPath: pathSafe && m.servicePathSafe ? upstream : escapeUpstreamPath(upstream),
    strippedPrefix: stripped !== null && stripped !== '/' ? stripped : null,
    captures: exec !== null || m.headerRegex ? buildCaptures(m, exec, headers) : null,
    normalizedPath: path,
  }
}
