/**
 * A big snapshot table (consumers, credentials) kept as columns instead of one object per row:
 * at 100,000 consumers + 100,000 key-auth credentials the row objects, their `{ id }` foreign-key
 * objects and the decoder's strings cost about 48 MiB of V8 heap per worker; as columns they cost
 * a few MiB, outside the V8 heap.
 *
 * Columns by kind, chosen per field from the values it holds:
 * - `uuid`: canonical lowercase UUIDs (no null): 16 bytes each;
 * - `fk`: null or `{ id: <uuid> }` (a foreign key): 16 bytes + a null flag;
 * - `int`: null or integers of 31 bits: an Int32Array (null: a sentinel);
 * - `num`: null or any number: a Float64Array (null: NaN, which JSON and msgpack rows never hold);
 * - `str`: null or strings: UTF-8 bytes in one buffer with end offsets (null: a flag);
 * - `null`: always null: nothing stored;
 * - `any`: everything else (tags arrays, nested objects): a plain array of the values.
 * A row whose fields are not the table's is kept as its object (the same fields in another order
 * are stored, and built back in the table's order).
 *
 * Rows are sorted by id (binary search). A table never changes once built: a delta builds the
 * next table (`with`), so whatever the compiled snapshot being served holds (row positions in its
 * auth indexes) stays valid until the swap. Rows are materialised on demand (`row(i)`: the rare
 * plugin that needs a whole row, the consumer and credential an authentication sets) and the last
 * few thousand are kept, so a busy consumer is one object, not one per request.
 */

type Kind = 'uuid' | 'fk' | 'int' | 'num' | 'str' | 'null' | 'any'

export type Row = { id: string } & Record<string, unknown>

const INT_NULL = -0x80000000
/** Materialised rows kept per table (cleared when full). */
const ROW_CACHE = 4096
const HEX = '0123456789abcdef'

function hexNibble (c: number): number {
  return c <= 57 ? c - 48 : c - 87
}

/** Writes the 16 bytes of a canonical UUID at `at`. */
function putUuid (out: Uint8Array, at: number, s: string): void {
  let j = 0
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue
    const b = (hexNibble(s.charCodeAt(i)) << 4) | hexNibble(s.charCodeAt(i + 1))
    out[at + j++] = b
    i++
  }
}

const HEX_CODES = Buffer.from(HEX, 'latin1')
const SCRATCH = Buffer.alloc(36, 45) // '-' at 8, 13, 18, 23 stays

function getUuid (b: Uint8Array, at: number): string {
  let o = 0
  for (let j = 0; j < 16; j++) {
    if (j === 4 || j === 6 || j === 8 || j === 10) o++
    const x = b[at + j]!
    SCRATCH[o++] = HEX_CODES[x >> 4]!
    SCRATCH[o++] = HEX_CODES[x & 15]!
  }
  return SCRATCH.toString('latin1', 0, 36)
}

/** -1, 0, 1: the UUID at `at` against the canonical UUID string `s` (same order as string comparison). */
function cmpUuid (b: Uint8Array, at: number, s: string): number {
  let j = 0
  for (let i = 0; i < 36; i += 2) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++
    const want = (hexNibble(s.charCodeAt(i)) << 4) | hexNibble(s.charCodeAt(i + 1))
    const have = b[at + j++]!
    if (have !== want) return have < want ? -1 : 1
  }
  return 0
}

/** A canonical lowercase UUID (no regex: it runs for every value of a column). */
function isUuid (s: string): boolean {
  if (s.length !== 36) return false
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i)
    if (i === 8 || i === 13 || i === 18 || i === 23) { if (c !== 45) return false } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false
  }
  return true
}

function isFk (v: unknown): v is { id: string } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  let n = 0
  for (const k in v) { if (k !== 'id' || ++n > 1) return false }
  const id = (v as { id?: unknown }).id
  return n === 1 && typeof id === 'string' && isUuid(id)
}

function kindOf (values: (i: number) => unknown, n: number, isId: boolean): Kind {
  let uuid = true; let fk = true; let int = true; let num = true; let str = true; let allNull = true; let anyNull = false
  for (let i = 0; i < n; i++) {
    const v = values(i)
    if (v === null) { anyNull = true; continue }
    allNull = false
    if (typeof v === 'string') {
      fk = false; int = false; num = false
      if (uuid && !isUuid(v)) uuid = false
    } else {
      uuid = false; str = false
      if (typeof v === 'number') {
        fk = false
        if (!(Number.isInteger(v) && v > INT_NULL && v <= 0x7fffffff && !Object.is(v, -0))) int = false
        if (Number.isNaN(v)) num = false
      } else {
        int = false; num = false
        if (fk && !isFk(v)) fk = false
      }
    }
    if (!uuid && !fk && !int && !num && !str) return 'any'
  }
  if (isId) return uuid && !anyNull && n > 0 ? 'uuid' : 'any'
  if (allNull) return n > 0 ? 'null' : 'any'
  if (uuid && !anyNull) return 'uuid'
  if (fk) return 'fk'
  if (int) return 'int'
  if (num) return 'num'
  if (str) return 'str'
  return 'any'
}

interface Column {
  readonly name: string
  readonly kind: Kind
  bytes?: Uint8Array
  nulls?: Uint8Array
  ints?: Int32Array
  nums?: Float64Array
  ends?: Uint32Array
  any?: unknown[]
}

function buildColumn (name: string, kind: Kind, n: number, values: (i: number) => unknown): Column {
  const c: Column = { name, kind }
  switch (kind) {
    case 'uuid': {
      const b = c.bytes = new Uint8Array(16 * n)
      for (let i = 0; i < n; i++) putUuid(b, 16 * i, values(i) as string)
      break
    }
    case 'fk': {
      const b = c.bytes = new Uint8Array(16 * n)
      const nulls = c.nulls = new Uint8Array(n)
      for (let i = 0; i < n; i++) {
        const v = values(i) as { id: string } | null
        if (v === null) nulls[i] = 1
        else putUuid(b, 16 * i, v.id)
      }
      break
    }
    case 'int': {
      const a = c.ints = new Int32Array(n)
      for (let i = 0; i < n; i++) { const v = values(i); a[i] = v === null ? INT_NULL : v as number }
      break
    }
    case 'num': {
      const a = c.nums = new Float64Array(n)
      for (let i = 0; i < n; i++) { const v = values(i); a[i] = v === null ? NaN : v as number }
      break
    }
    case 'str': {
      const ends = c.ends = new Uint32Array(n)
      const nulls = c.nulls = new Uint8Array(n)
      let at = 0
      for (let i = 0; i < n; i++) {
        const v = values(i)
        if (v === null) nulls[i] = 1
        else at += Buffer.byteLength(v as string, 'utf8')
        ends[i] = at
      }
      // An ArrayBuffer of its own (not a slice of Node's shared pool), written in place.
      const all = Buffer.from(new ArrayBuffer(at))
      for (let i = 0; i < n; i++) if (nulls[i] === 0) all.write(values(i) as string, i === 0 ? 0 : ends[i - 1]!, 'utf8')
      c.bytes = all
      break
    }
    case 'null': break
    case 'any': {
      const a = c.any = new Array<unknown>(n)
      for (let i = 0; i < n; i++) a[i] = values(i)
      break
    }
  }
  return c
}

function read (c: Column, i: number): unknown {
  switch (c.kind) {
    case 'uuid': return getUuid(c.bytes!, 16 * i)
    case 'fk': return c.nulls![i] === 1 ? null : { id: getUuid(c.bytes!, 16 * i) }
    case 'int': { const v = c.ints![i]!; return v === INT_NULL ? null : v }
    case 'num': { const v = c.nums![i]!; return Number.isNaN(v) ? null : v }
    case 'str': {
      if (c.nulls![i] === 1) return null
      return (c.bytes as Buffer).toString('utf8', i === 0 ? 0 : c.ends![i - 1]!, c.ends![i]!)
    }
    case 'null': return null
    case 'any': return c.any![i]
  }
}

/** FNV-1a over the UTF-8 bytes. */
function hashBytes (b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let k = start; k < end; k++) h = Math.imul(h ^ b[k]!, 0x01000193)
  return h >>> 0
}

/** A string -> row position lookup over one `str` column: open addressing, no per-row objects. */
class StrIndex {
  readonly #col: Column
  readonly #slots: Int32Array
  readonly #mask: number

  constructor (col: Column, n: number, extra: ReadonlyMap<number, Row>) {
    this.#col = col
    let cap = 16
    while (cap < n * 2) cap *= 2
    this.#mask = cap - 1
    this.#slots = new Int32Array(cap).fill(-1)
    const b = col.bytes!
    for (let i = 0; i < n; i++) {
      if (extra.has(i) || col.nulls![i] === 1) continue
      const start = i === 0 ? 0 : col.ends![i - 1]!
      let s = hashBytes(b, start, col.ends![i]!) & this.#mask
      // First row wins on duplicates (a unique field has none).
      while (this.#slots[s] !== -1) s = (s + 1) & this.#mask
      this.#slots[s] = i
    }
  }

  find (key: string): number {
    let bytes: Uint8Array | null = null
    let h = 0x811c9dc5
    for (let k = 0; k < key.length; k++) {
      const ch = key.charCodeAt(k)
      if (ch >= 0x80) { bytes = Buffer.from(key, 'utf8'); break }
      h = Math.imul(h ^ ch, 0x01000193)
    }
    if (bytes !== null) h = hashBytes(bytes, 0, bytes.length)
    const col = this.#col
    const b = col.bytes!
    const ends = col.ends!
    let s = (h >>> 0) & this.#mask
    for (;;) {
      const i = this.#slots[s]!
      if (i === -1) return -1
      const start = i === 0 ? 0 : ends[i - 1]!
      const len = ends[i]! - start
      if (bytes === null) {
        if (len === key.length) {
          let k = 0
          while (k < len && b[start + k] === key.charCodeAt(k)) k++
          if (k === len) return i
        }
      } else if (len === bytes.length) {
        let k = 0
        while (k < len && b[start + k] === bytes[k]) k++
        if (k === len) return i
      }
      s = (s + 1) & this.#mask
    }
  }
}

export class CompactTable {
  readonly size: number
  readonly #fields: readonly string[]
  readonly #cols: readonly Column[]
  readonly #id: Column
  /** Rows whose shape differs from the table's, by position. */
  readonly #extra: Map<number, Row>
  #cache = new Map<number, Row>()
  readonly #indexes = new Map<string, StrIndex | null>()

  /** `rows` sorted by id. */
  constructor (rows: readonly Row[], parts?: { fields: readonly string[]; cols: readonly Column[]; size: number }) {
    if (parts !== undefined) { // with(): columns merged already
      this.size = parts.size
      this.#fields = parts.fields
      this.#cols = parts.cols
      this.#id = parts.cols[parts.fields.indexOf('id')]!
      this.#extra = new Map()
      return
    }
    this.size = rows.length
    const first = rows[0]
    const fields = first === undefined ? ['id'] : Object.keys(first)
    if (!fields.includes('id')) fields.push('id')
    this.#fields = fields
    this.#extra = new Map()
    // Rows to columns of plain values first (one pass; the kinds and encodings then read arrays).
    const n = rows.length
    const values: unknown[][] = fields.map(() => new Array<unknown>(n))
    const idAt = fields.indexOf('id')
    for (let i = 0; i < n; i++) {
      const r = rows[i]!
      let k = 0
      let same = true
      for (const key in r) { if (key !== fields[k++]) { same = false; break } }
      if (same && k === fields.length) {
        const vs = Object.values(r)
        for (let f = 0; f < vs.length; f++) values[f]![i] = vs[f]
      } else if (sameKeys(r, fields)) { // the same fields in another order: built back in the table's order
        for (let f = 0; f < fields.length; f++) values[f]![i] = (r as Record<string, unknown>)[fields[f]!]
      } else {
        this.#extra.set(i, r)
        for (let f = 0; f < fields.length; f++) values[f]![i] = f === idAt ? r.id : null
      }
    }
    const cols: Column[] = []
    for (let f = 0; f < fields.length; f++) {
      const col = values[f]!
      const get = (i: number): unknown => col[i]
      cols.push(buildColumn(fields[f]!, kindOf(get, n, f === idAt), n, get))
    }
    this.#cols = cols
    this.#id = cols[fields.indexOf('id')]!
  }

  /** The id of row i. */
  id (i: number): string {
    return read(this.#id, i) as string
  }

  /** Position of `id`, or -(insertion point) - 1. */
  find (id: string): number {
    let lo = 0
    let hi = this.size - 1
    // Bytes compare like the canonical strings they encode; any other id compares as a string.
    const bytes = this.#id.kind === 'uuid' && isUuid(id) ? this.#id.bytes! : null
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const c = bytes !== null ? cmpUuid(bytes, 16 * mid, id) : cmpStr(this.id(mid), id)
      if (c < 0) lo = mid + 1
      else if (c > 0) hi = mid - 1
      else return mid
    }
    return -lo - 1
  }

  /** A field of row i, without building the row (a foreign key gives its id string). */
  field (i: number, name: string): unknown {
    const x = this.#extra.get(i)
    if (x !== undefined) {
      const v = x[name]
      return isFk(v) ? v.id : v
    }
    const k = this.#fields.indexOf(name)
    if (k < 0) return undefined
    const c = this.#cols[k]!
    return c.kind === 'fk' ? (c.nulls![i] === 1 ? null : getUuid(c.bytes!, 16 * i)) : read(c, i)
  }

  /** Row i as a Kong-shaped object (one object per row while it stays in the cache). */
  row (i: number): Row {
    const x = this.#extra.get(i)
    if (x !== undefined) return x
    let r = this.#cache.get(i)
    if (r !== undefined) return r
    const o: Record<string, unknown> = {}
    const cols = this.#cols
    for (let k = 0; k < cols.length; k++) o[cols[k]!.name] = read(cols[k]!, i)
    r = o as Row
    if (this.#cache.size >= ROW_CACHE) this.#cache = new Map()
    this.#cache.set(i, r)
    return r
  }

  get (id: string): Row | undefined {
    const i = this.find(id)
    return i >= 0 ? this.row(i) : undefined
  }

  /** Every row, built now (a full recompile's snapshot; not kept). */
  rows (): Row[] {
    const out = new Array<Row>(this.size)
    for (let i = 0; i < this.size; i++) out[i] = this.#extra.get(i) ?? this.#build(i)
    return out
  }

  #build (i: number): Row {
    const cached = this.#cache.get(i)
    if (cached !== undefined) return cached
    const o: Record<string, unknown> = {}
    for (const c of this.#cols) o[c.name] = read(c, i)
    return o as Row
  }

  /**
   * Position of the row whose string field `name` equals `value` (-1: none; the first row when
   * several do). Built on first use per field; a field that is not a string column gives null.
   */
  indexOf (name: string): ((value: string) => number) | null {
    let ix = this.#indexes.get(name)
    if (ix === undefined) {
      const k = this.#fields.indexOf(name)
      const c = k < 0 ? undefined : this.#cols[k]
      ix = c !== undefined && c.kind === 'str' && this.#extra.size === 0 ? new StrIndex(c, this.size, this.#extra) : null
      this.#indexes.set(name, ix)
    }
    if (ix === null) return null
    const index = ix
    return (v) => index.find(v)
  }

  /** The table with `changes` (id -> row, or null: gone) applied; this one is left as it is. */
  with (changes: ReadonlyMap<string, Row | null>): CompactTable {
    const sorted = [...changes.keys()].sort(cmpStr)
    const merged = this.#merge(sorted, changes)
    if (merged !== null) return merged
    const out: Row[] = []
    let i = 0
    for (const id of sorted) {
      const at = this.find(id)
      const stop = at >= 0 ? at : -at - 1
      for (; i < stop; i++) out.push(this.#extra.get(i) ?? this.#build(i))
      if (at >= 0) i++ // replaced or deleted
      const row = changes.get(id)!
      if (row !== null) out.push(row)
    }
    for (; i < this.size; i++) out.push(this.#extra.get(i) ?? this.#build(i))
    return new CompactTable(out)
  }

  /** Whether `row` has the table's fields, in order, each value of its column's kind. */
  #fits (row: Row): boolean {
    let k = 0
    for (const key in row) {
      if (key !== this.#fields[k]) return false
      if (!fitsKind(this.#cols[k]!.kind, (row as Record<string, unknown>)[key])) return false
      k++
    }
    return k === this.#fields.length
  }

  /**
   * with() without building rows: runs of unchanged rows are copied column by column (memcpy of
   * typed arrays) and the changed rows encoded; null when a changed row does not fit the columns
   * (or the table holds rows of another shape): with() then rebuilds from rows.
   */
  #merge (sorted: readonly string[], changes: ReadonlyMap<string, Row | null>): CompactTable | null {
    if (this.#extra.size > 0) return null
    // Segments: [a, b) of old rows, or one new row.
    const segs: Array<number | Row> = []
    let i = 0
    let size = 0
    for (const id of sorted) {
      const row = changes.get(id)!
      if (row !== null && !this.#fits(row)) return null
      const at = this.find(id)
      const stop = at >= 0 ? at : -at - 1
      if (stop > i) { segs.push(i, stop); size += stop - i }
      i = at >= 0 ? at + 1 : stop
      if (row !== null) { segs.push(row); size++ }
    }
    if (this.size > i) { segs.push(i, this.size); size += this.size - i }
    const cols = this.#cols.map((c) => mergeColumn(c, segs, size))
    return new CompactTable([], { fields: this.#fields, cols, size })
  }
}

function sameKeys (r: Row, fields: readonly string[]): boolean {
  let n = 0
  for (const key in r) { if (!fields.includes(key)) return false; n++ }
  return n === fields.length
}

function fitsKind (kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'uuid': return typeof v === 'string' && isUuid(v)
    case 'fk': return v === null || isFk(v)
    case 'int': return v === null || (typeof v === 'number' && Number.isInteger(v) && v > INT_NULL && v <= 0x7fffffff && !Object.is(v, -0))
    case 'num': return v === null || (typeof v === 'number' && !Number.isNaN(v))
    case 'str': return v === null || typeof v === 'string'
    case 'null': return v === null
    case 'any': return true
  }
}

/** Column `c` over `segs` (pairs of old positions [a, b), or a row whose value is encoded). */
function mergeColumn (c: Column, segs: ReadonlyArray<number | Row>, size: number): Column {
  const out: Column = { name: c.name, kind: c.kind }
  const rowValue = (r: Row): unknown => (r as Record<string, unknown>)[c.name]
  const walk = (old: (a: number, b: number, o: number) => void, one: (v: unknown, o: number) => void): void => {
    let o = 0
    for (let s = 0; s < segs.length;) {
      const x = segs[s]!
      if (typeof x === 'number') { const b = segs[s + 1] as number; old(x, b, o); o += b - x; s += 2 } else { one(rowValue(x), o); o++; s++ }
    }
  }
  switch (c.kind) {
    case 'uuid': case 'fk': {
      const bytes = out.bytes = new Uint8Array(16 * size)
      const nulls = c.kind === 'fk' ? (out.nulls = new Uint8Array(size)) : null
      walk((a, b, o) => {
        bytes.set(c.bytes!.subarray(16 * a, 16 * b), 16 * o)
        if (nulls !== null) nulls.set(c.nulls!.subarray(a, b), o)
      }, (v, o) => {
        if (v === null) nulls![o] = 1
        else putUuid(bytes, 16 * o, c.kind === 'fk' ? (v as { id: string }).id : v as string)
      })
      break
    }
    case 'int': {
      const a32 = out.ints = new Int32Array(size)
      walk((a, b, o) => { a32.set(c.ints!.subarray(a, b), o) }, (v, o) => { a32[o] = v === null ? INT_NULL : v as number })
      break
    }
    case 'num': {
      const f64 = out.nums = new Float64Array(size)
      walk((a, b, o) => { f64.set(c.nums!.subarray(a, b), o) }, (v, o) => { f64[o] = v === null ? NaN : v as number })
      break
    }
    case 'str': {
      const start = (i: number): number => (i === 0 ? 0 : c.ends![i - 1]!)
      let total = 0
      walk((a, b) => { total += start(b) - start(a) }, (v) => { if (v !== null) total += Buffer.byteLength(v as string, 'utf8') })
      const bytes = Buffer.from(new ArrayBuffer(total))
      const ends = out.ends = new Uint32Array(size)
      const nulls = out.nulls = new Uint8Array(size)
      let at = 0
      walk((a, b, o) => {
        const base = start(a)
        bytes.set(c.bytes!.subarray(base, start(b)), at)
        for (let k = a; k < b; k++) ends[o + k - a] = c.ends![k]! - base + at
        nulls.set(c.nulls!.subarray(a, b), o)
        at += start(b) - base
      }, (v, o) => {
        if (v === null) nulls[o] = 1
        else at += bytes.write(v as string, at, 'utf8')
        ends[o] = at
      })
      out.bytes = bytes
      break
    }
    case 'null': break
    case 'any': {
      const arr = out.any = new Array<unknown>(size)
      walk((a, b, o) => { for (let k = a; k < b; k++) arr[o + k - a] = c.any![k] }, (v, o) => { arr[o] = v })
      break
    }
  }
  return out
}

function cmpStr (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
