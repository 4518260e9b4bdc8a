/**
 * Schema validation of regex fields (route `~` paths, `is_regex` plugin fields): Kong checks them
 * with PCRE2, so the pattern is read as PCRE (common/pcre.ts) and an invalid one is reported in
 * PCRE2's words (`pcre2_compile() failed: missing closing parenthesis in "..."`): a schema
 * violation in the Admin API, never an exception at routing time.
 */
import { translateToJs, type RegexTranslation } from '../../common/pcre.ts'

export type PcreResult = RegexTranslation

export function translatePcre (pattern: string): PcreResult {
  const t = translateToJs(pattern, 'pcre')
  return t.ok ? t : { ok: false, error: `pcre2_compile() failed: ${t.error} in "${pattern}"` }
}
