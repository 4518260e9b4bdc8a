/** A small argv parser: `-c FILE`, `--conf FILE`, `--flag`, `--key=value`, positionals. */
export interface Parsed { positionals: string[]; flags: Map<string, string | true> }

const WITH_VALUE = new Set(['c', 'conf', 'p', 'prefix', 't', 'timeout', 'w', 'wait'])

export function parseArgs (argv: string[]): Parsed {
  const positionals: string[] = []
  const flags = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      if (eq > 0) { flags.set(a.slice(2, eq), a.slice(eq + 1)); continue }
      const name = a.slice(2)
      if (WITH_VALUE.has(name)) {
        const v = argv[++i]
        if (v === undefined) throw new Error(`option --${name} needs a value`)
        flags.set(name, v)
      } else flags.set(name, true)
    } else if (a.startsWith('-') && a.length > 1) {
      const name = a.slice(1)
      if (WITH_VALUE.has(name)) {
        const v = argv[++i]
        if (v === undefined) throw new Error(`option -${name} needs a value`)
        flags.set(name, v)
      } else for (const ch of name) flags.set(ch, true)
    } else positionals.push(a)
  }
  return { positionals, flags }
}

export function flag (p: Parsed, ...names: string[]): string | true | undefined {
  for (const n of names) { const v = p.flags.get(n); if (v !== undefined) return v }
  return undefined
}
