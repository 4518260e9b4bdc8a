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
