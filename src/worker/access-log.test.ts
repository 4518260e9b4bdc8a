import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { escapeNginx, LineWriter, parseAccessLog, reopenLogs, timeLocal } from '../common/log.ts'

test('access log: nginx escaping of quotes, backslashes, control and non-ASCII bytes', () => {
  assert.equal(escapeNginx('plain /path?x=1'), 'plain /path?x=1')
  assert.equal(escapeNginx('a"b\\c'), 'a\\x22b\\x5Cc')
  assert.equal(escapeNginx('t\tn\n'), 't\\x09n\\x0A')
  assert.equal(escapeNginx('é'), '\\xC3\\xA9')
  assert.match(timeLocal(Date.UTC(2024, 0, 2, 3, 4, 5)), /^\d{2}\/Jan\/2024:\d{2}:04:05 [+-]\d{4}$/)
})

test('access log: proxy_access_log values (Kong syntax: path [format], off, /dev/stdout)', () => {
  assert.deepEqual(parseAccessLog('k', 'off', '/p'), { target: { kind: 'off' }, format: 'combined' })
  assert.deepEqual(parseAccessLog('k', 'logs/access.log', '/p'), { target: { kind: 'file', path: '/p/logs/access.log' }, format: 'combined' })
  assert.deepEqual(parseAccessLog('k', '/var/log/a.log json', '/p'), { target: { kind: 'file', path: '/var/log/a.log' }, format: 'json' })
  assert.deepEqual(parseAccessLog('k', '/dev/stdout', '/p').target, { kind: 'stdout' })
  assert.throws(() => parseAccessLog('proxy_access_log', 'logs/a.log custom_fmt', '/p'), /proxy_access_log: unknown log format 'custom_fmt'/)
  assert.throws(() => parseAccessLog('proxy_access_log', 'a b c', '/p'), /expected/)
})

test('access log: LineWriter batches, survives logrotate (rename + reopen), never blocks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-lw-'))
  try {
    const path = join(dir, 'logs', 'access.log')
    const w = new LineWriter({ kind: 'file', path }, { flushMs: 20 })
    for (let i = 0; i < 1000; i++) w.write(`line ${i}\n`)
    await sleep(100)
    assert.equal(readFileSync(path, 'utf8').split('\n').length - 1, 1000)
    renameSync(path, `${path}.1`)
    w.write('before reopen\n')
    await sleep(60)
    reopenLogs()
    await sleep(20)
    w.write('after reopen\n')
    w.closeSync()
    assert.match(readFileSync(`${path}.1`, 'utf8'), /before reopen\n$/)
    assert.equal(readFileSync(path, 'utf8'), 'after reopen\n')
    assert.equal(w.dropped, 0)

    // A destination that cannot keep up: lines beyond the bound are dropped and counted.
    const slow = new LineWriter({ kind: 'file', path: join(dir, 'slow.log') }, { flushMs: 60_000, batchBytes: 1 << 30, maxPendingBytes: 100 })
    for (let i = 0; i < 50; i++) slow.write('0123456789\n')
    assert.ok(slow.dropped > 0 && slow.dropped < 50)
    slow.closeSync()
    assert.ok(existsSync(join(dir, 'slow.log')))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
