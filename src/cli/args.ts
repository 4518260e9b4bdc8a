/**
 * Command-line parsing as Kong's (Penlight lapp) does it, per command: `-c FILE`, `--conf FILE`,
 * `--conf=FILE`, `-cFILE`, bundled short flags (`-yq`), positionals, `--` ends the options. An
 * option the command does not declare is an error (Kong: "unrecognized parameter"), never ignored.
 */
export interface Parsed {
  positionals: string[]
  flags: Map<string, string | true>
  /** The arguments as given (the daemonised child of `start` gets them again). */
  argv: string[]
}

export interface OptionSpec {
  /** Short (one letter) and long names, without dashes: ['c', 'conf']. */
  names: readonly string[]
  /** Takes a value (`-c FILE`). */
  value?: string
  help: string
}

export class UsageError extends Error {
  constructor (message: string) { super(message); this.name = 'UsageError' }
}

/** Options every command takes (bin/kong's universal options, plus help). */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { names: ['v'], help: 'verbose: where each setting came from; stack traces on errors' },
  { names: ['vv'], help: 'debug: --v and more' },
  { names: ['h', 'help'], help: 'this help' },
]

export function parseArgs (argv: string[], options: readonly OptionSpec[] = [], strict = false): Parsed {
  const all = [...options, ...GLOBAL_OPTIONS]
  const byName = new Map<string, OptionSpec>()
  for (const o of all) for (const n of o.names) byName.set(n, o)
  const positionals: string[] = []
  const flags = new Map<string, string | true>()
  const set = (o: OptionSpec, v: string | true): void => { for (const n of o.names) flags.set(n, v) }
  const dash = (n: string): string => (n.length === 1 ? `-${n}` : `--${n}`)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break }
    if (a.startsWith('--') || (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a))) {
      const long = a.startsWith('--')
      let name = a.slice(long ? 2 : 1)
      let inline: string | undefined
      const eq = name.indexOf('=')
      if (eq > 0) { inline = name.slice(eq + 1); name = name.slice(0, eq) }
      if (!long && name.length > 1 && inline === undefined) {
        // -cFILE (a short option that takes a value) or bundled flags -yq
        const first = byName.get(name[0]!)
        if (first?.value !== undefined) { inline = name.slice(1); name = name[0]! } else {
          for (const ch of name) {
            const o = byName.get(ch)
            if (o === undefined || o.value !== undefined) {
              if (strict) throw new UsageError(`unrecognized option: -${ch}`)
              flags.set(ch, true)
            } else set(o, true)
          }
          continue
        }
      }
      const o = byName.get(name)
      if (o === undefined) {
        if (strict) throw new UsageError(`unrecognized option: ${long ? '--' : '-'}${name}`)
        flags.set(name, inline ?? true)
        continue
      }
      if (o.value === undefined) {
        if (inline !== undefined) throw new UsageError(`option ${dash(name)} takes no value`)
        set(o, true)
        continue
      }
      const v = inline ?? argv[++i]
      if (v === undefined) throw new UsageError(`option ${dash(name)} needs a value (${o.value})`)
      set(o, v)
    } else positionals.push(a)
  }
  return { positionals, flags, argv }
}

export function flag (p: Parsed, ...names: string[]): string | true | undefined {
  for (const n of names) { const v = p.flags.get(n); if (v !== undefined) return v }
  return undefined
}

/** A number of seconds given to an option, or the fallback; a clear error otherwise. */
export function seconds (p: Parsed, names: readonly string[], fallback: number): number {
  const v = flag(p, ...names)
  if (v === undefined) return fallback
  const n = typeof v === 'string' ? Number(v) : NaN
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`${names.map((x) => (x.length === 1 ? `-${x}` : `--${x}`)).join('/')} expects a number of seconds; got '${String(v)}'`)
  }
  return n
}

/** Usage text: a heading, then the options in two columns. */
export function usage (head: string, options: readonly OptionSpec[]): string {
  const rows = [...options, ...GLOBAL_OPTIONS].map((o) => {
    // --v / --vv are spelt long, as Kong's universal options.
    const names = o.names.map((n) => (n.length === 1 && n !== 'v' ? `-${n}` : `--${n}`)).join(', ')
    return [`${names}${o.value !== undefined ? ` ${o.value}` : ''}`, o.help] as const
  })
  const w = Math.max(...rows.map(([l]) => l.length)) + 2
  return `${head.trimEnd()}\n\nOptions:\n${rows.map(([l, h]) => ` ${l.padEnd(w)}${h.replace(/\n/g, `\n ${' '.repeat(w)}`)}`).join('\n')}\n`
}
