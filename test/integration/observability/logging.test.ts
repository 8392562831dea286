/**
 * Triton's logging extension over both protocols: the settings answer, updates apply at run time
 * to the server's pino logger (loggers created before the change included), and bad values get
 * Triton's validation errors without changing anything.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { ROOT, TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { errorOf, http, json, postJson } from '../http/http-client.js';
import { createLogger } from '../../../src/observability/logger.js';
import { LogSettings } from '../../../src/observability/log-settings.js';

const repo = new TempRepo().addBundled('simple');
after(() => repo.remove());

interface Line { level: number; time: number | string; msg: string; rpc?: string }

describe('LogSettings / /v2/logging', () => {
  let ts: TestServer;
  const lines: Line[] = [];
  before(async () => {
    const log = createLogger({ level: 'info', pretty: false, settings: new LogSettings(), destination: { write: (s: string) => void lines.push(JSON.parse(s) as Line) } });
    ts = await startServer([repo.dir], {}, log);
  });
  after(() => ts.close());
  const c = () => ts.client;
  const refusedLoad = () => assert.rejects(call(c().RepositoryModelLoad.bind(c()), { repository_name: '', model_name: 'simple', parameters: {} }));
  const badInfer = () => assert.rejects(call(c().ModelInfer.bind(c()), { model_name: 'simple', inputs: [] }));
  const newLines = async (action: () => Promise<unknown>) => {
    const from = lines.length;
    await action();
    return lines.slice(from);
  };

  it('answers the six settings over both protocols', async () => {
    const expected = { log_file: '', log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: 'default' };
    assert.deepEqual(json(await http(`${ts.httpUrl}/v2/logging`)), expected);
    const g = await call(c().LogSettings.bind(c()), { settings: {} });
    assert.deepEqual(g.settings, {
      log_file: { string_param: '', parameter_choice: 'string_param' }, log_info: { bool_param: true, parameter_choice: 'bool_param' },
      log_warning: { bool_param: true, parameter_choice: 'bool_param' }, log_error: { bool_param: true, parameter_choice: 'bool_param' },
      log_verbose_level: { uint32_param: 0, parameter_choice: 'uint32_param' }, log_format: { string_param: 'default', parameter_choice: 'string_param' },
    });
  });

  it('log_warning=false silences warnings at once, for loggers created before the change', async () => {
    assert.ok((await newLines(refusedLoad)).some((l) => l.level === 40 && l.rpc === 'RepositoryModelLoad'), 'a refused load logs a warning');
    const r = await postJson(`${ts.httpUrl}/v2/logging`, { log_warning: false });
    assert.equal(r.status, 200);
    assert.equal((json(r) as { log_warning: boolean }).log_warning, false);
    assert.deepEqual((await newLines(refusedLoad)).filter((l) => l.level === 40), []);
    await postJson(`${ts.httpUrl}/v2/logging`, { log_warning: true });
    assert.ok((await newLines(refusedLoad)).some((l) => l.level === 40));
  });

  it('log_verbose_level turns debug records on and off; log_format switches the time format', async () => {
    assert.deepEqual((await newLines(badInfer)).filter((l) => l.level === 20), [], 'no debug records at level 0');
    await call(c().LogSettings.bind(c()), { settings: { log_verbose_level: { uint32_param: 1 }, log_format: { string_param: 'ISO8601' } } });
    const debug = (await newLines(badInfer)).filter((l) => l.level === 20);
    assert.equal(debug.length, 1);
    assert.equal(debug[0]!.msg, 'request rejected');
    assert.match(String(debug[0]!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    await postJson(`${ts.httpUrl}/v2/logging`, { log_verbose_level: 0, log_format: 'default' });
    assert.deepEqual((await newLines(badInfer)).filter((l) => l.level === 20), []);
    const w = await newLines(refusedLoad);
    assert.equal(typeof w[0]!.time, 'number');
  });

  it('bad values: Triton\'s errors, nothing applied, the server keeps serving', async () => {
    const bad: [unknown, number, RegExp][] = [
      [{ log_info: 'yes' }, 400, /'log_info' must be a boolean/],
      [{ log_verbose_level: -1 }, 400, /unsigned 32-bit integer/],
      [{ log_verbose_level: 1.5 }, 400, /unsigned 32-bit integer/],
      [{ log_verbose_level: 2 ** 32 }, 400, /unsigned 32-bit integer/],
      [{ log_format: 'json' }, 400, /invalid argument for log_format, got: 'json'/],
      [{ log_warnings: false }, 400, /unknown log setting 'log_warnings'/],
      [{ log_info: false, log_error: 'no' }, 400, /'log_error' must be a boolean/],
      [{ log_file: '/tmp/infera.log' }, 501, /log file location can not be updated through network protocol/],
      [{ log_info: [true] }, 400, /must be a boolean, a number or a string/],
    ];
    for (const [body, code, re] of bad) {
      const r = await postJson(`${ts.httpUrl}/v2/logging`, body);
      assert.equal(r.status, code, JSON.stringify(body));
      assert.match(errorOf(r), re);
    }
    for (const body of ['{', '[]', 'null']) assert.equal((await http(`${ts.httpUrl}/v2/logging`, { method: 'POST', body })).status, 400, body);
    assert.equal((json(await http(`${ts.httpUrl}/v2/logging`)) as { log_info: boolean }).log_info, true, 'the failed update changed nothing');
    const fails = (code: status, re: RegExp) => (e: ServiceError) => e.code === code && re.test(e.details);
    await assert.rejects(call(c().LogSettings.bind(c()), { settings: { log_info: { uint32_param: 1 } } }), fails(status.INVALID_ARGUMENT, /'log_info' must be a boolean/));
    await assert.rejects(call(c().LogSettings.bind(c()), { settings: { log_verbose_level: { bool_param: true } } }), fails(status.INVALID_ARGUMENT, /log_verbose_level/));
    await assert.rejects(call(c().LogSettings.bind(c()), { settings: { log_info: {} } }), fails(status.INVALID_ARGUMENT, /has no value/));
    await assert.rejects(call(c().LogSettings.bind(c()), { settings: { log_file: { string_param: 'x.log' } } }), fails(status.UNIMPLEMENTED, /log file location/));
    assert.equal((await http(`${ts.httpUrl}/v2/logging`, { method: 'DELETE' })).status, 405);
    assert.deepEqual(await call(c().ServerLive.bind(c()), {}), { live: true });
  });
});

describe('--log-file and the log flags of the process', () => {
  it('writes JSON lines to the file, honours --log-verbose, exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'infera-log-'));
    const file = path.join(dir, 'sub', 'infera.log');
    try {
      const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'main.js'), '--model-repository', repo.dir, '--grpc-port', '0', '--grpc-address', '127.0.0.1',
        '--http-port', '0', '--http-address', '127.0.0.1', '--allow-metrics=false', '--log-file', file, '--log-verbose', '0', '--log-warning=false'], { cwd: ROOT });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const deadline = Date.now() + 20_000;
      while (!(existsSync(file) && readFileSync(file, 'utf8').includes('"msg":"server started"'))) {
        assert.ok(Date.now() < deadline, 'the log file gets the startup records');
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
      assert.ok(records.length > 0);
      assert.ok(records.some((r) => r.msg === 'stopped'), 'the shutdown records too');
      // Loading a model writes debug records; --log-verbose 0 keeps them out.
      assert.ok(records.every((r) => r.level >= 30), 'no debug records');
      assert.equal(stdout, '', 'nothing on stdout');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
