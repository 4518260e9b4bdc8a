import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { loadConfig } from '../config/load.ts'
import { parseArgs } from './args.ts'
import { nodeConfigFrom, runningConfFile, writeRunningConf } from './common.ts'

test('common: <prefix>/.kong_env holds the running configuration and reads back the same', () => {
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-kongenv-'))
  try {
    const running = loadConfig({ env: {}, overrides: { prefix, pg_password: 'p#ss # not a comment', status_listen: '127.0.0.1:18007', nginx_worker_processes: '3' } })
    writeRunningConf(running)
    assert.equal(statSync(runningConfFile(running)).mode & 0o777, 0o600)
    const back = loadConfig({ file: runningConfFile(running), env: {} })
    assert.deepEqual(back.raw, { ...running.raw, prefix })
    assert.equal(back.raw.pg_password, 'p#ss # not a comment')
    // A command given only -p finds the running node's ports there.
    const saved = process.env.SLUICE_CONF
    process.env.SLUICE_CONF = ''
    try {
      const c = nodeConfigFrom(parseArgs(['health', '-p', prefix], [{ names: ['p', 'prefix'], value: 'DIR', help: '' }], true))
      assert.equal(c.statusListen[0]?.port, 18007)
      assert.equal(c.workers, 3)
    } finally {
      if (saved === undefined) delete process.env.SLUICE_CONF
      else process.env.SLUICE_CONF = saved
    }
  } finally {
    rmSync(prefix, { recursive: true, force: true })
  }
})
