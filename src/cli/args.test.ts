import { test } from 'node:test'
import assert from 'node:assert/strict'
import { flag, parseArgs, seconds, usage, UsageError, type OptionSpec } from './args.ts'

const OPTS: OptionSpec[] = [
  { names: ['c', 'conf'], value: 'FILE', help: 'configuration file' },
  { names: ['y', 'yes'], help: 'yes' },
  { names: ['q', 'quiet'], help: 'quiet' },
  { names: ['t', 'timeout'], value: 'SECONDS', help: 'timeout' },
]

test('args: the spellings lapp accepts', () => {
  for (const argv of [['-c', 'k.conf'], ['--conf', 'k.conf'], ['--conf=k.conf'], ['-ck.conf'], ['-c=k.conf']]) {
    const p = parseArgs(['start', ...argv], OPTS, true)
    assert.equal(flag(p, 'conf'), 'k.conf', argv.join(' '))
    assert.equal(flag(p, 'c'), 'k.conf', 'every alias answers')
    assert.deepEqual(p.positionals, ['start'])
  }
  const bundled = parseArgs(['migrations', 'reset', '-yq'], OPTS, true)
  assert.equal(flag(bundled, 'yes'), true)
  assert.equal(flag(bundled, 'quiet'), true)
  assert.deepEqual(bundled.positionals, ['migrations', 'reset'])
  const verbose = parseArgs(['check', '--v'], OPTS, true)
  assert.equal(flag(verbose, 'v'), true)
  assert.equal(flag(parseArgs(['check', '--vv'], OPTS, true), 'vv'), true)
  assert.deepEqual(parseArgs(['config', 'parse', '--', '-odd.yml'], OPTS, true).positionals, ['config', 'parse', '-odd.yml'])
})

test('args: what is refused, and how', () => {
  assert.throws(() => parseArgs(['stop', '--frobnicate'], OPTS, true), (e: unknown) => e instanceof UsageError && /unrecognized option: --frobnicate/.test(e.message))
  assert.throws(() => parseArgs(['stop', '-yz'], OPTS, true), /unrecognized option: -z/)
  assert.throws(() => parseArgs(['start', '-c'], OPTS, true), /option -c needs a value \(FILE\)/)
  assert.throws(() => parseArgs(['start', '--yes=1'], OPTS, true), /option --yes takes no value/)
  // Not strict (finding the command word): unknown options are kept, not refused.
  assert.equal(flag(parseArgs(['stop', '--frobnicate'], OPTS), 'frobnicate'), true)
})

test('args: seconds', () => {
  assert.equal(seconds(parseArgs(['quit', '-t', '2.5'], OPTS, true), ['t', 'timeout'], 10), 2.5)
  assert.equal(seconds(parseArgs(['quit'], OPTS, true), ['t', 'timeout'], 10), 10)
  assert.throws(() => seconds(parseArgs(['quit', '-t', 'soon'], OPTS, true), ['t', 'timeout'], 10), /-t\/--timeout expects a number of seconds; got 'soon'/)
  assert.throws(() => seconds(parseArgs(['quit', '-t', '-1'], OPTS, true), ['t', 'timeout'], 10), /got '-1'/)
})

test('args: usage lists the command\'s options and the universal ones', () => {
  const u = usage('Usage: sluice x', OPTS)
  assert.match(u, /^Usage: sluice x\n\nOptions:\n/)
  assert.match(u, /^ -c, --conf FILE +configuration file$/m)
  assert.match(u, /^ --v +verbose/m)
  assert.match(u, /^ --vv +debug/m)
  assert.match(u, /^ -h, --help +this help$/m)
})
