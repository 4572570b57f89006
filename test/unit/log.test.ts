import { describe, expect, it } from 'vitest';
import { createLogger, type LogFormat } from '../../src/shared/node/log.js';

function capture(format: LogFormat) {
  const lines: string[] = [];
  const log = createLogger('agent', 'debug', { format, write: (line) => lines.push(line) });
  return { log, text: () => lines.join('') };
}

function failingCall(): Error {
  return new Error('disk went away');
}

describe('logger', () => {
  for (const format of ['json', 'pretty'] as const) {
    it(`keeps an error's stack (${format})`, () => {
      const { log, text } = capture(format);
      const error = failingCall();
      log.child('usb').error('usb gate could not apply the policy', { error });
      const out = text();
      expect(error.stack).toContain('failingCall');
      expect(out).toContain('disk went away');
      expect(out).toContain('at failingCall');
      expect(out).toContain('agent/usb');
    });

    it(`redacts secrets passed as fields (${format})`, () => {
      const { log, text } = capture(format);
      log.info('enrolled', {
        deviceId: 'd-1',
        enrollToken: 'tok-SECRET-1',
        token: 'tok-SECRET-2',
        headers: { authorization: 'Bearer tok-SECRET-3' },
        password: 'pw-SECRET',
      });
      const out = text();
      expect(out).not.toContain('SECRET');
      expect(out).toContain('d-1');
      expect(out.match(/\[redacted\]/g)).toHaveLength(4);
    });
  }

  it('writes one JSON object per record off a terminal, and `message {fields}` on one', () => {
    const json = capture('json');
    json.log.warn('ignored a bad frame from the console', { detail: 'bad type' });
    expect(JSON.parse(json.text())).toMatchObject({ level: 'warn', component: 'agent', msg: 'ignored a bad frame from the console', detail: 'bad type' });
    const pretty = capture('pretty');
    pretty.log.info('following sign-ins', { lister: 'utmp' });
    expect(pretty.text()).toMatch(/^\S+ INFO \[agent\] following sign-ins \{"lister":"utmp"\}\n$/);
  });

  it('drops records below the minimum level', () => {
    const lines: string[] = [];
    const log = createLogger('console', 'warn', { format: 'json', write: (line) => lines.push(line) });
    log.info('not shown');
    log.child('hub').debug('not shown either');
    log.warn('shown');
    expect(lines).toHaveLength(1);
  });
});
