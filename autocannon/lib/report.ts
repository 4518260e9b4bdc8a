/**
 * Several scripts write one markdown file (BENCHMARKS.md): each owns a marked section and replaces
 * only that section, so a run of one script keeps the others' latest results.
 *
 *   <!-- bench:begin native-bench/wrk -->
 *   ## ...whatever the owner writes...
 *   <!-- bench:end native-bench/wrk -->
 *
 * A section not in the file yet is appended at its end; a file that does not exist is created with
 * `header` first. Text outside the markers (a title, notes by hand) is kept as it is.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

const begin = (id: string): string => `<!-- bench:begin ${id} -->`
const end = (id: string): string => `<!-- bench:end ${id} -->`

export function replaceSection (text: string, id: string, body: string): string {
  const block = `${begin(id)}\n${body.trim()}\n${end(id)}`
  const b = text.indexOf(begin(id))
  const e = text.indexOf(end(id))
  if (b >= 0 && e > b) return text.slice(0, b) + block + text.slice(e + end(id).length)
  return `${text.trimEnd()}\n\n${block}\n`
}

export function writeSection (file: string, id: string, body: string, header: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : header.trimEnd() + '\n'
  writeFileSync(file, replaceSection(text, id, body))
}

/** The body of a marked section (without the markers), or null when the text has none. */
export function readSection (text: string, id: string): string | null {
  const b = text.indexOf(begin(id))
  const e = text.indexOf(end(id))
  if (b < 0 || e <= b) return null
  return text.slice(b + begin(id).length, e).trim()
}

/** Splits a section body at its `### ` headings: the intro (before the first) and each subsection with its heading line. */
function subsections (body: string): { intro: string; parts: string[] } {
  const intro: string[] = []
  const parts: string[][] = []
  for (const l of body.split('\n')) {
    if (l.startsWith('### ')) parts.push([l])
    else if (parts.length === 0) intro.push(l)
    else parts[parts.length - 1]!.push(l)
  }
  return { intro: intro.join('\n').trim(), parts: parts.map((p) => p.join('\n').trim()) }
}

/**
 * A partial re-run (`--only`): the new body's subsections whose heading `wanted` accepts replace the
 * old body's subsections of the same key (`keyOf` of the heading line); the old body's other subsections stay as they were, a subsection that is new is added
 * at the end, and `note` becomes one more line of the old intro. Without an old body the new one is
 * taken whole.
 */
export function mergeSubsections (oldBody: string | null, newBody: string, wanted: (heading: string) => boolean, keyOf: (heading: string) => string, note: string): string {
  if (oldBody === null) return newBody
  const o = subsections(oldBody)
  const n = subsections(newBody)
  const head = (p: string): string => p.slice(0, p.indexOf('\n') >= 0 ? p.indexOf('\n') : p.length)
  const fresh = new Map(n.parts.filter((p) => wanted(head(p))).map((p) => [keyOf(head(p)), p]))
  const parts = o.parts.map((p) => {
    const k = keyOf(head(p))
    const f = fresh.get(k)
    if (f === undefined) return p
    fresh.delete(k)
    return f
  })
  parts.push(...fresh.values())
  return [`${o.intro}\n${note}`, ...parts].join('\n\n')
}
