/**
 * Cross-field rules (kong/db/schema/init.lua `Schema.entity_checkers` and
 * `run_entity_check`). A checker sees only the fields it names; whether it runs when those
 * fields are missing or invalid follows each checker's Kong flags. Errors go to `@entity`,
 * except `conditional`, which also blames the field it constrains.
 */
import {
  MSG, fmtAtLeastOneOf, fmtConditional, fmtDistinct, fmtMutuallyExclusive, fmtMutuallyExclusiveSets, fmtMutuallyRequired,
  fmtOnlyOneOf, quotedList,
} from './messages.ts'
import type { EntityCheck, ErrorTree, FieldDef, SchemaLike, Subschema } from './types.ts'
import { isTable, validateField, recordSchema } from './validate-field.ts'
import { isReference } from '../../vault/reference.ts'

export interface CheckContext {
  schema: SchemaLike
  subschema: Subschema | undefined
  /** validate_update rewrites three messages to say "when updating". */
  updating: boolean
}

type Outcome = true | [err: string | undefined, custom?: string]

interface Checker {
  runWithMissing: boolean
  runWithInvalid: boolean
  /** Argument keys holding field names; absent: the argument is the list of field names. */
  fieldSources?: readonly string[]
  /** Which of the field sources must be present (Kong's `required_fields`). */
  requiredSources?: readonly string[]
  format?: (list: string, updating: boolean) => string
  fn: (entity: Record<string, unknown>, arg: any, ctx: CheckContext, errors: Record<string, ErrorTree>) => Outcome
}

export function isNonEmpty (v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false
  if (isTable(v)) return Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0
  return true
}

/** get_field(tbl, "a.b.c") */
export function getPath (t: unknown, name: string): unknown {
  let cur: unknown = t
  for (const part of name.split('.')) {
    if (!isTable(cur)) return undefined
    const o = cur as Record<string, unknown>
    cur = Object.hasOwn(o, part) ? o[part] : undefined
  }
  return cur
}

/** set_field(tbl, "a.b.c", v) */
export function setPath (t: Record<string, any>, name: string, v: unknown): void {
  const parts = name.split('.')
  let cur = t
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!
    if (!isTable(cur[p])) cur[p] = Object.create(null)
    cur = cur[p]
  }
  cur[parts[parts.length - 1]!] = v
}

/** get_schema_field with the subschema's fields taking precedence, dotted names into records. */
export function schemaField (ctx: CheckContext, name: string): FieldDef | undefined {
  const parts = name.split('.')
  const head = parts[0]!
  let f = (ctx.subschema !== undefined && Object.hasOwn(ctx.subschema.fields, head) ? ctx.subschema.fields[head] : undefined) ??
    (Object.hasOwn(ctx.schema.fields, head) ? ctx.schema.fields[head] : undefined)
  for (let i = 1; i < parts.length && f !== undefined; i++) {
    const fields = f.type === 'record' ? recordSchema(f).fields : undefined
    f = fields !== undefined && Object.hasOwn(fields, parts[i]!) ? fields[parts[i]!] : undefined
  }
  return f
}

/** A validator overlay inheriting the rest of the schema field (Kong's __index metatable). */
function overlay (ctx: CheckContext, fieldName: string, match: Partial<FieldDef>): FieldDef {
  return { ...(schemaField(ctx, fieldName) ?? { type: 'string' }), ...match } as FieldDef
}

const matches = (ctx: CheckContext, fieldName: string, match: Partial<FieldDef>, v: unknown): boolean =>
  validateField(overlay(ctx, fieldName, match), v) === undefined

const CHECKERS: Record<string, Checker> = {
  at_least_one_of: {
    runWithMissing: true,
    runWithInvalid: true,
    format: (l, updating) => (updating ? 'when updating, ' : '') + fmtAtLeastOneOf(l),
    fn: (e, names: string[]) => names.some((n) => isNonEmpty(getPath(e, n))) ? true : [quotedList(names)],
  },
  conditional_at_least_one_of: {
    runWithMissing: true,
    runWithInvalid: true,
    fieldSources: ['if_field', 'then_at_least_one_of', 'else_then_at_least_one_of'],
    requiredSources: [],
    format: (l, updating) => (updating ? 'when updating, ' : '') + fmtAtLeastOneOf(l),
    fn: (e, arg, ctx) => {
      const ifValue = getPath(e, arg.if_field)
      if (ifValue === undefined) return true
      let names: string[] = arg.then_at_least_one_of
      let errFmt: string | undefined = arg.then_err
      if (!matches(ctx, arg.if_field, arg.if_match, ifValue)) {
        if (arg.else_match === undefined || !matches(ctx, arg.if_field, arg.else_match, ifValue)) return true
        names = arg.else_then_at_least_one_of ?? []
        errFmt = arg.else_then_err
      }
      if (names.some((n) => isNonEmpty(getPath(e, n)))) return true
      const list = quotedList(names)
      return [list, errFmt?.replace('%s', list)]
    },
  },
  only_one_of: {
    runWithMissing: false,
    runWithInvalid: true,
    format: (l) => fmtOnlyOneOf(l),
    fn: (e, names: string[]) => names.filter((n) => isNonEmpty(getPath(e, n))).length === 1 ? true : [quotedList(names)],
  },
  distinct: {
    runWithMissing: false,
    runWithInvalid: true,
    format: (l) => fmtDistinct(l),
    fn: (e, names: string[]) => {
      const seen = new Set<unknown>()
      for (const n of names) {
        const v = getPath(e, n)
        if (!isNonEmpty(v)) continue
        if (seen.has(v)) return [quotedList(names)]
        seen.add(v)
      }
      return true
    },
  },
  conditional: {
    runWithMissing: false,
    runWithInvalid: true,
    fieldSources: ['if_field', 'then_field'],
    requiredSources: ['if_field'],
    format: (f) => fmtConditional(f),
    fn: (e, arg, ctx, errors) => {
      const ifValue = getPath(e, arg.if_field)
      const thenValue = getPath(e, arg.then_field) ?? null
      if (!matches(ctx, arg.if_field, arg.if_match, ifValue)) return true
      if (arg.then_match.required === true && thenValue === null) {
        setPath(errors, arg.then_field, MSG.REQUIRED)
        return [arg.if_field]
      }
      const err = validateField(overlay(ctx, arg.then_field, arg.then_match), thenValue)
      if (err === undefined) return true
      setPath(errors, arg.then_field, err)
      return [arg.if_field, arg.then_err?.replace('%s', arg.if_field)]
    },
  },
  custom_entity_check: {
    runWithMissing: false,
    runWithInvalid: false,
    fieldSources: ['field_sources'],
    requiredSources: ['field_sources'],
    fn: (e, arg) => {
      const r = arg.fn(e)
      return r === true ? true : [r]
    },
  },
  mutually_required: {
    runWithMissing: true,
    runWithInvalid: false,
    format: (l) => fmtMutuallyRequired(l),
    fn: (e, names: string[]) => {
      const n = names.filter((x) => isNonEmpty(getPath(e, x))).length
      return n === 0 || n === names.length ? true : [quotedList(names)]
    },
  },
  mutually_exclusive: {
    runWithMissing: true,
    runWithInvalid: false,
    format: (l) => fmtMutuallyExclusive(l),
    fn: (e, names: string[]) => names.filter((x) => isNonEmpty(getPath(e, x))).length <= 1 ? true : [quotedList(names)],
  },
  mutually_exclusive_sets: {
    runWithMissing: true,
    runWithInvalid: false,
    fieldSources: ['set1', 'set2'],
    requiredSources: [],
    format: (l) => fmtMutuallyExclusiveSets(l),
    fn: (e, arg) => {
      const a = (arg.set1 as string[]).filter((x) => isNonEmpty(getPath(e, x)))
      const b = (arg.set2 as string[]).filter((x) => isNonEmpty(getPath(e, x)))
      return a.length > 0 && b.length > 0 ? [`(${quotedList(a)}), (${quotedList(b)})`] : true
    },
  },
}

function pushEntityError (errors: Record<string, ErrorTree>, msg: string): void {
  const list = errors['@entity']
  if (Array.isArray(list)) list.push(msg)
  else errors['@entity'] = [msg]
}

/** run_entity_check */
function runCheck (check: EntityCheck, input: Record<string, unknown>, fullCheck: boolean, ctx: CheckContext, errors: Record<string, ErrorTree>): void {
  const name = Object.keys(check)[0]!
  const arg = (check as Record<string, any>)[name]
  const checker = CHECKERS[name]
  if (checker === undefined || arg === undefined || arg === null) return
  const fields: string[] = []
  const requiredFields = new Set<string>()
  if (checker.fieldSources !== undefined) {
    for (const source of checker.fieldSources) {
      const v = arg[source]
      const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v as string[] : []
      for (const f of list) {
        fields.push(f)
        if (checker.requiredSources?.includes(source) === true) requiredFields.add(f)
      }
    }
  } else {
    for (const f of arg as string[]) { fields.push(f); requiredFields.add(f) }
  }
  const runWithMissing = checker.runWithMissing || arg.run_with_missing_fields === true
  const missing: string[] = []
  let allNil = true
  let allOk = true
  const projection: Record<string, unknown> = Object.create(null)
  for (const f of fields) {
    const v = getPath(input, f)
    if (v === undefined) {
      if (!runWithMissing && requiredFields.has(f)) missing.push(f)
    } else {
      allNil = false
      // a vault reference in a referenceable field: the check cannot judge it, so it does not run
      const def = schemaField(ctx, f)
      if (def?.type === 'string' && def.referenceable === true && isReference(v)) return
    }
    if (errors[f] !== undefined) allOk = false
    setPath(projection, f, v)
  }
  if (!allOk && !checker.runWithInvalid && arg.run_with_invalid_fields !== true) return
  if (allNil && !(checker.runWithMissing && fullCheck)) return
  if (missing.length > 0) {
    const msg = MSG.REQUIRED_FOR_ENTITY_CHECK + (ctx.updating ? ' when updating' : '')
    for (const f of missing) setPath(errors, f, msg)
    return
  }
  const outcome = checker.fn(projection, arg, ctx, errors)
  if (outcome === true) return
  const [err, custom] = outcome
  if (custom !== undefined) { pushEntityError(errors, custom); return }
  pushEntityError(errors, checker.format !== undefined ? checker.format(err ?? '', ctx.updating) : err ?? MSG.CHECK)
}

export function runEntityChecks (input: Record<string, unknown>, fullCheck: boolean, ctx: CheckContext, errors: Record<string, ErrorTree>): void {
  const top: CheckContext = { ...ctx, subschema: undefined }
  for (const c of ctx.schema.entity_checks ?? []) runCheck(c, input, fullCheck, top, errors)
  if (ctx.subschema !== undefined) for (const c of ctx.subschema.entity_checks ?? []) runCheck(c, input, fullCheck, ctx, errors)
}
