import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LogSettings } from '../../../src/observability/log-settings.js';

describe('LogSettings', () => {
  it('maps each pino level to its switch', () => {
    const s = new LogSettings();
    assert.deepEqual([10, 20, 30, 40, 50, 60].map((l) => s.allows(l)), [false, false, true, true, true, true]);
    s.update({ log_info: false, log_error: false, log_verbose_level: 2 });
    assert.deepEqual([10, 20, 30, 40, 50, 60].map((l) => s.allows(l)), [true, true, false, true, false, false]);
    s.update({ log_verbose_level: 1, log_warning: false });
    assert.deepEqual([10, 20, 40].map((l) => s.allows(l)), [false, true, false]);
  });

  it('an update is all or nothing; log_file may be restated but not changed', () => {
    const s = new LogSettings({ log_file: '/var/log/infera.log' });
    assert.throws(() => s.update({ log_info: false, log_format: 'xml' }), /log_format/);
    assert.equal(s.get().log_info, true);
    assert.equal(s.update({ log_file: '/var/log/infera.log' }).log_file, '/var/log/infera.log');
    assert.throws(() => s.update({ log_file: '' }), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED');
  });
});
