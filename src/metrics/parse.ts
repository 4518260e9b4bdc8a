/**
 * A strict reader of the Prometheus text format, enough to check what /metrics serves (tests,
 * tooling): every line is a comment, HELP, TYPE or a well-formed sample; samples of a family
 * appear after its TYPE and together; histogram buckets are cumulative and end with +Inf equal
 * to _count. Throws on the first violation, naming the line.
 */

export interface Sample { name: string; labels: Record<string, string>; value: number }
export interface Family { name: string; type: string; help: string; samples: Sample[] }

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y

function parseLabels (text: string, where: string): Record<string, string> {
  const out: Record<string, string> = {}
  LABEL.lastIndex = 0
  let pos = 0
  while (pos < text.length) {
    LABEL.lastIndex = pos
    const m = LABEL.exec(text)
    if (m === null) throw new Error(`${where}: bad labels '${text}'`)
    if (Object.hasOwn(out, m[1]!)) throw new Error(`${where}: label ${m[1]} twice`)
    out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    pos = LABEL.lastIndex
  }
  return out
}

function familyOf (sample: string, families: Map<string, Family>): Family | undefined {
  const f = families.get(sample)
  if (f !== undefined) return f
  for (const suffix of ['_bucket', '_count', '_sum']) {
    if (sample.endsWith(suffix)) {
      const g = families.get(sample.slice(0, -suffix.length))
      if (g !== undefined && (g.type === 'histogram' || g.type === 'summary')) return g
    }
  }
  return undefined
}

export function parseMetrics (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const closed = new Set<string>()
  let current: Family | null = null
  const lines = text.split('\n')
  if (lines[lines.length - 1] !== '') throw new Error('the exposition must end with a newline')
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i]!
    const where = `line ${i + 1}`
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const rest = line.slice(7)
      const sp = rest.indexOf(' ')
      const name = sp < 0 ? rest : rest.slice(0, sp)
      const arg = sp < 0 ? '' : rest.slice(sp + 1)
      let f = families.get(name)
      if (f === undefined) {
        if (current !== null) closed.add(current.name)
        f = { name, type: 'untyped', help: '', samples: [] }
        families.set(name, f)
        current = f
      } else if (f !== current) {
        throw new Error(`${where}: ${name} described again after other families`)
      }
      if (line.startsWith('# HELP ')) f.help = arg
      else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(arg)) throw new Error(`${where}: bad type ${arg}`)
        if (f.samples.length > 0) throw new Error(`${where}: TYPE after samples`)
        f.type = arg
      }
      continue
    }
    if (line.startsWith('#') || line === '') continue
    const m = SAMPLE.exec(line)
    if (m === null) throw new Error(`${where}: not a sample: ${line}`)
    const f = familyOf(m[1]!, families)
    if (f === undefined) throw new Error(`${where}: sample ${m[1]} before its TYPE`)
    if (f !== current || closed.has(f.name)) throw new Error(`${where}: samples of ${f.name} are not together`)
    const v = m[4]!
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v === 'NaN' ? NaN : Number(v)
    if (Number.isNaN(value) && v !== 'NaN') throw new Error(`${where}: bad value ${v}`)
    f.samples.push({ name: m[1]!, labels: m[3] === undefined ? {} : parseLabels(m[3], where), value })
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f)
  return families
}

function seriesKey (labels: Record<string, string>): string {
  return Object.entries(labels).filter(([k]) => k !== 'le').sort().map(([k, v]) => `${k}=${v}`).join(',')
}

function checkHistogram (f: Family): void {
  const buckets = new Map<string, Array<[number, number]>>()
  const counts = new Map<string, number>()
  for (const s of f.samples) {
    const key = seriesKey(s.labels)
    if (s.name === `${f.name}_bucket`) {
      const le = s.labels.le
      if (le === undefined) throw new Error(`${f.name}: bucket without le`)
      const arr = buckets.get(key) ?? []
      arr.push([le === '+Inf' ? Infinity : Number(le), s.value])
      buckets.set(key, arr)
    } else if (s.name === `${f.name}_count`) counts.set(key, s.value)
  }
  for (const [key, arr] of buckets) {
    for (let i = 1; i < arr.length; i++) {
      if (arr[i]![0] <= arr[i - 1]![0]) throw new Error(`${f.name}{${key}}: le not increasing`)
      if (arr[i]![1] < arr[i - 1]![1]) throw new Error(`${f.name}{${key}}: buckets not cumulative`)
    }
    const last = arr[arr.length - 1]!
    if (last[0] !== Infinity) throw new Error(`${f.name}{${key}}: no +Inf bucket`)
    if (counts.get(key) !== last[1]) throw new Error(`${f.name}{${key}}: _count ${counts.get(key)} != +Inf bucket ${last[1]}`)
  }
}

/** Sum of the samples named `name` whose labels include `match`. */
export function sumOf (families: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  let total = 0
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value
    }
  }
  return total
}
