/**
 * Rendering of one ai-prompt-template template (kong/plugins/ai-prompt-template/templater.lua):
 * every `{{name}}` (letters, digits, underscore) whose name is a property is replaced by the
 * property's value, in one pass. A value is written as it would appear inside a JSON string
 * (escaped as cjson does, quotes removed), so a value cannot close a string of a JSON template
 * and inject fields. Properties must be an object of strings. Placeholders left over after the
 * pass (unknown names, or placeholders a value brought in) are reported together, each once.
 */
import { cjsonEncode, isTable, luaType } from '../ai-shared/lua.ts'

const PLACEHOLDER = /\{\{([A-Za-z0-9_]+)\}\}/g

/** cjson.encode(value) without its quotes. */
const escapeValue = (value: string): string => cjsonEncode(value).slice(1, -1)

function sanitize (properties: unknown): Map<string, string> | string {
  if (!isTable(properties)) return 'properties must be an object'
  const out = new Map<string, string>()
  if (Array.isArray(properties)) return properties.length === 0 ? out : 'properties must be an object'
  for (const [k, v] of Object.entries(properties)) {
    if (typeof v !== 'string') return `property values must be a string, got ${luaType(v)}`
    out.set(k, escapeValue(v))
  }
  return out
}

/** The rendered template, or the error message. */
export function render (template: string, properties: unknown): { ok: true; text: string } | { ok: false; error: string } {
  const values = sanitize(properties)
  if (typeof values === 'string') return { ok: false, error: values }
  const text = template.replace(PLACEHOLDER, (whole: string, name: string) => values.get(name) ?? whole)
  const missing: string[] = []
  for (const m of text.matchAll(PLACEHOLDER)) {
    const w = `[${m[1]!}]`
    if (!missing.includes(w)) missing.push(w)
  }
  if (missing.length > 0) return { ok: false, error: `missing template parameters: ${missing.join(', ')}` }
  return { ok: true, text }
}
