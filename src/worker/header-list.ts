/**
 * Operations on flat header lists `[name0, value0, name1, value1, ...]` with lowercase names:
 * the request headers a plugin reads and rewrites (Kong's ngx.req.set_header semantics: later
 * plugins and the upstream request see the change), and the response headers of the header
 * filter. Lists are short (tens of entries), so a linear scan beats any index; nothing here
 * allocates unless a value is repeated or the list grows.
 */

const CR_LF = /[\r\n]/

/**
 * A response field value as it may go on the wire: CR and LF escaped as %0D / %0A, as OpenResty's
 * header setters escape them, so that no value (a plugin's, an upstream's) can end its line early.
 */
export function wireValue (v: string): string {
  return CR_LF.test(v) ? v.replace(/\r/g, '%0D').replace(/\n/g, '%0A') : v
}

/** First value of `name`, or undefined. */
export function listGet (list: readonly string[], name: string): string | undefined {
  const n = name.length
  for (let i = 0; i < list.length; i += 2) {
    const k = list[i]!
    if (k.length === n && k === name) return list[i + 1]
  }
  return undefined
}

/** Every value of `name`: a string when once, an array when repeated, undefined when absent. */
export function listGetAll (list: readonly string[], name: string): string | string[] | undefined {
  const n = name.length
  let one: string | undefined
  let many: string[] | undefined
  for (let i = 0; i < list.length; i += 2) {
    const k = list[i]!
    if (k.length !== n || k !== name) continue
    const v = list[i + 1]!
    if (one === undefined) one = v
    else if (many === undefined) many = [one, v]
    else many.push(v)
  }
  return many ?? one
}

/** Removes every entry of `name`; true when one was there. */
export function listClear (list: string[], name: string): boolean {
  const n = name.length
  let w = 0
  let found = false
  for (let r = 0; r < list.length; r += 2) {
    const k = list[r]!
    if (k.length === n && k === name) { found = true; continue }
    if (w !== r) { list[w] = k; list[w + 1] = list[r + 1]! }
    w += 2
  }
  if (found) list.length = w
  return found
}

/** Sets `name` to one value: the first entry is replaced in place, the others removed. */
export function listSet (list: string[], name: string, value: string): void {
  const n = name.length
  for (let i = 0; i < list.length; i += 2) {
    const k = list[i]!
    if (k.length === n && k === name) {
      list[i + 1] = value
      // Drop later duplicates, if any (rare).
      for (let j = i + 2; j < list.length; j += 2) {
        if (list[j] === name) {
          listClearFrom(list, name, i + 2)
          break
        }
      }
      return
    }
  }
  list.push(name, value)
}

function listClearFrom (list: string[], name: string, from: number): void {
  let w = from
  for (let r = from; r < list.length; r += 2) {
    if (list[r] === name) continue
    if (w !== r) { list[w] = list[r]!; list[w + 1] = list[r + 1]! }
    w += 2
  }
  list.length = w
}

/** Lowercases a header name only when it has uppercase characters. */
export function lowerName (name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c >= 65 && c <= 90) return name.toLowerCase()
  }
  return name
}
