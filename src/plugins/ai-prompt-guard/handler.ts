/**
 * ai-prompt-guard (kong/plugins/ai-prompt-guard/handler.lua and filters/guard-prompt.lua,
 * PRIORITY 771): checks the prompt of an llm/v1/chat or llm/v1/completions request against
 * `deny_patterns` (a match refuses) and then `allow_patterns` (when set, one must match). A
 * refused request answers 400 `{"error":{"message":"bad request"}}`, which does not tell the
 * client that a guard is in use.
 *
 * The text checked: for chat, the `user` messages (every role with `match_all_roles`) from the
 * newest to the oldest, each followed by a space, or only the newest one with
 * `allow_all_conversation_history`; for completions, `prompt`. A message whose role, or a
 * checked message whose content, is not a string makes the request malformed (400 too).
 *
 * Patterns are PCRE, as Kong runs them with ngx.re.find (options "jo": unanchored), read by
 * common/pcre.ts and compiled once per configuration. The schema does not check them: a pattern
 * PCRE refuses answers 500 (empty body) when a request reaches it, as in Kong. Known differences:
 * Kong matches bytes (no "u" option) while V8 matches code points, so `.` spans a whole
 * non-ASCII character here; and V8 has no backtracking limit where PCRE gives up (a 500 in Kong).
 */
import type { PluginContext, PluginHandler } from '../types.ts'
import { translateToJs } from '../../common/pcre.ts'
import { idx, isTable, len, type Table } from '../ai-shared/lua.ts'
import { badRequest, parseConf, parseRequest, requestBodyTable, type ParseConf } from '../ai-shared/request.ts'

export interface AiPromptGuardConfig {
  allow_patterns?: string[] | null
  deny_patterns?: string[] | null
  allow_all_conversation_history?: boolean | null
  max_request_body_size: number
  match_all_roles?: boolean | null
  llm_format?: string | null
}

/** A compiled pattern, or null for one PCRE refuses (the request that reaches it fails). */
type Pattern = RegExp | null

export interface Prepared {
  readonly allow: readonly Pattern[]
  readonly deny: readonly Pattern[]
  readonly latestOnly: boolean
  readonly allRoles: boolean
  readonly parse: ParseConf
}

const BAD_FORMAT = 'ai-prompt-guard only supports llm/v1/chat or llm/v1/completions prompts'
/** execute(): a pattern could not run (Kong logs it and answers 500). */
export const PATTERN_FAILED = Symbol('pattern failed')

function compile (pattern: string): Pattern {
  const t = translateToJs(pattern, 'pcre')
  return t.ok ? new RegExp(t.source, t.flags) : null
}

/** The text the patterns are matched against, or the reason the request is malformed. */
function collect (request: Table, c: Prepared): { text: string } | string {
  const messages = idx(request, 'messages')
  if (!isTable(messages)) {
    const prompt = idx(request, 'prompt')
    return typeof prompt === 'string' ? { text: prompt } : BAD_FORMAT
  }
  let text = ''
  const list = messages as unknown[]
  for (let i = len(messages) - 1; i >= 0; i--) {
    const v = list[i]
    const role = idx(v, 'role')
    if (typeof role !== 'string') return BAD_FORMAT
    if (role !== 'user' && !c.allRoles) continue
    const content = idx(v, 'content')
    if (typeof content !== 'string') return BAD_FORMAT
    text += content
    if (c.latestOnly) break
    text += ' '
  }
  return { text }
}

/**
 * Kong's `execute`: undefined when the request may pass, else why not (Kong's messages), or
 * PATTERN_FAILED.
 */
export function execute (request: Table, c: Prepared): string | typeof PATTERN_FAILED | undefined {
  const collected = collect(request, c)
  if (typeof collected === 'string') return collected
  const text = collected.text
  for (const r of c.deny) {
    if (r === null) return PATTERN_FAILED
    if (r.test(text)) return 'prompt pattern is blocked'
  }
  if (c.allow.length === 0) return undefined
  for (const r of c.allow) {
    if (r === null) return PATTERN_FAILED
    if (r.test(text)) return undefined
  }
  return "prompt doesn't match any allowed pattern"
}

function run (ctx: PluginContext, c: Prepared): void {
  const r = execute(requestBodyTable(ctx), c)
  if (r === PATTERN_FAILED) return ctx.exit(500)
  if (r !== undefined) return badRequest(ctx, 'bad request')
}

export const handler: PluginHandler<AiPromptGuardConfig, Prepared> = {
  name: 'ai-prompt-guard',
  priority: 771,
  prepare (c) {
    return {
      allow: (c.allow_patterns ?? []).map(compile),
      deny: (c.deny_patterns ?? []).map(compile),
      latestOnly: c.allow_all_conversation_history === true,
      allRoles: c.match_all_roles === true,
      parse: parseConf(c),
    }
  },
  access (ctx, c) {
    const p = parseRequest(ctx, c.parse)
    return p instanceof Promise ? p.then(() => { run(ctx, c) }) : run(ctx, c)
  },
}
