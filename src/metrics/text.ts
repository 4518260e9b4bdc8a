/**
 * Prometheus text exposition (version 0.0.4) as Kong's prometheus.lua writes it: `# HELP` and
 * `# TYPE` once per family, label values escaped (backslash, double quote, newline), `le` last
 * and printed without padding, `+Inf` for the last bucket.
 */

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export function escapeLabel (v: string): string {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c === 92 || c === 34 || c === 10) return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
  }
  return v
}

/** `{a="x",b="y"}` from pairs (values escaped); '' for no labels. */
export function labels (pairs: ReadonlyArray<readonly [string, string | number]>): string {
  if (pairs.length === 0) return ''
  let s = '{'
  for (let i = 0; i < pairs.length; i++) {
    const [k, v] = pairs[i]!
    if (i > 0) s += ','
    s += `${k}="${escapeLabel(String(v))}"`
  }
  return s + '}'
}

export function formatValue (n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

/** Collects families; each sample is `name{labels} value`. */
export class TextWriter {
  private readonly out: string[] = []
  private readonly seen = new Set<string>()

  /** Starts a family (HELP and TYPE); a family may have no samples. */
  family (name: string, type: MetricType, help: string): this {
    if (this.seen.has(name)) throw new Error(`metric family ${name} written twice`)
    this.seen.add(name)
    this.out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`)
    return this
  }

  /** `labelText` is the output of labels() (already escaped). */
  sample (name: string, labelText: string, value: number): this {
    this.out.push(`${name}${labelText} ${formatValue(value)}\n`)
    return this
  }

  /**
   * A histogram series: `counts` are the non-cumulative bucket counts (+Inf last) and `labelText`
   * the series labels without braces' closing (`service="a",route="b"` style, already escaped).
   */
  histogram (name: string, labelInner: string, bounds: readonly number[], counts: ArrayLike<number>, offset: number, sum: number): this {
    const pre = labelInner === '' ? `${name}_bucket{` : `${name}_bucket{${labelInner},`
    let cum = 0
    for (let i = 0; i < bounds.length; i++) {
      cum += counts[offset + i]!
      this.out.push(`${pre}le="${bounds[i]}"} ${cum}\n`)
    }
    cum += counts[offset + bounds.length]!
    this.out.push(`${pre}le="+Inf"} ${cum}\n`)
    const l = labelInner === '' ? '' : `{${labelInner}}`
    this.out.push(`${name}_count${l} ${cum}\n${name}_sum${l} ${formatValue(sum)}\n`)
    return this
  }

  /** Appends another writer's families (a collector's, written apart so a failure leaves no half family). */
  append (other: TextWriter): this {
    for (const name of other.seen) {
      if (this.seen.has(name)) throw new Error(`metric family ${name} written twice`)
    }
    for (const name of other.seen) this.seen.add(name)
    for (const line of other.out) this.out.push(line)
    return this
  }

  toString (): string { return this.out.join('') }
}
