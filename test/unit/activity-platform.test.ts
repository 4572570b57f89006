import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { forEachLine } from '../../src/agent/activity/child-lines.js';
import { describe, expect, it } from 'vitest';
import { rawFromGetWindows } from '../../src/agent/activity/get-windows-source.js';
import { LogindSleepWatcher, LOGIND_SLEEP_MATCH, PrepareForSleepParser } from '../../src/agent/activity/power.js';
import {
  parseActiveWindowLine,
  parsePropertyLine,
  windowFromProperties,
  windowSpyArgs,
  type PropertyUpdate,
  type WindowProperty,
} from '../../src/agent/platform/linux/activity/xprop-output.js';
import type { PowerState } from '../../src/shared/activity.js';
import { waitUntil } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

function propsOf(lines: string[]): Map<WindowProperty, PropertyUpdate['value']> {
  const props = new Map<WindowProperty, PropertyUpdate['value']>();
  for (const line of lines) {
    const u = parsePropertyLine(line);
    if (u) props.set(u.name, u.value);
  }
  return props;
}

describe('xprop output (recorded under Xvfb + openbox with xterm and xcalc)', () => {
  it('follows the active window, including "no window"', () => {
    expect(fixture('xprop-root-spy.txt').trim().split('\n').map(parseActiveWindowLine)).toEqual([0x800017, 0, 0x40000c]);
    expect(parseActiveWindowLine('_NET_ACTIVE_WINDOW(WINDOW) 0x40000c garbage')).toBeNull();
    expect(parseActiveWindowLine('_NET_ACTIVE_WINDOW:  not found.')).toBeNull();
  });

  it('decodes the byte lists by X type: Latin-1 STRING, class from WM_CLASS, title updates as they come', () => {
    const lines = fixture('xprop-window-spy.txt').trim().split('\n');
    expect(windowFromProperties(propsOf(lines.slice(0, 4)))).toEqual({ app: 'XTerm', title: 'hello "wörld" <b>', pid: 25640 });
    expect(windowFromProperties(propsOf(lines))).toEqual({ app: 'XTerm', title: 'new title', pid: 25640 });
  });

  it('hostile titles: invalid UTF-8, commas, newlines and NULs stay inside their property', () => {
    const bytes = (s: string | number[]) => (typeof s === 'string' ? [...Buffer.from(s, 'utf8')] : s).join(', ');
    const props = propsOf([
      `_NET_WM_NAME(UTF8_STRING) = ${bytes([0xff, 0xfe, 0x61, 0x2c, 0x0a, 0x22, 0xe2, 0x82])}`,
      `WM_CLASS(STRING) = ${bytes('evil\u0000Evil, Inc\u0000')}`,
      '_NET_WM_PID(CARDINAL) = 99999999999',
    ]);
    expect(windowFromProperties(props)).toEqual({ app: 'Evil, Inc', title: '\uFFFD\uFFFDa,\n"\uFFFD', pid: null });
    expect(parsePropertyLine('WM_NAME(STRING) = 300, 1')).toBeUndefined();
    expect(parsePropertyLine('WM_NAME(STRING) = ')).toEqual({ name: 'WM_NAME', value: '' });
    expect(parsePropertyLine('WM_ICON_NAME(STRING) = 1')).toBeUndefined();
    expect(windowFromProperties(new Map())).toBeNull();
  });

  it('app-only asks X for the class only: titles (and the pid behind the path) are never read', () => {
    expect(windowSpyArgs(0x40000c, true)).toEqual(expect.arrayContaining(['0x40000c', 'WM_NAME', '_NET_WM_NAME', 'WM_CLASS', '_NET_WM_PID']));
    const appOnly = windowSpyArgs(0x40000c, false);
    expect(appOnly).toContain('WM_CLASS');
    expect(appOnly.join(' ')).not.toMatch(/WM_NAME|_NET_WM_PID/);
  });
});

describe('get-windows results (Windows and macOS, shapes from its documented types)', () => {
  const results = JSON.parse(fixture('get-windows-results.json'));
  it('maps app, title, URL (macOS browsers only) and path; an empty title is "not known"', () => {
    expect(rawFromGetWindows(results.macos)).toEqual({
      app: 'Google Chrome',
      title: 'Unicorns - Google Search',
      url: 'https://www.google.com/search?q=unicorns',
      path: '/Applications/Google Chrome.app',
    });
    expect(rawFromGetWindows(results.macosNoPermission)).toEqual({ app: 'Safari', title: null, url: null, path: '/Applications/Safari.app' });
    expect(rawFromGetWindows(results.windows)).toEqual({
      app: 'Microsoft Word',
      title: 'Essay.docx - Word',
      url: null,
      path: 'C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE',
    });
  });
});

describe('suspend and resume from logind', () => {
  it('parses recorded dbus-monitor output: PrepareForSleep true = suspending, false = awake, other signals ignored', () => {
    const parser = new PrepareForSleepParser();
    const states = fixture('dbus-monitor-prepare-for-sleep.txt')
      .split('\n')
      .map((l) => parser.push(l))
      .filter((s) => s !== null);
    expect(states).toEqual(['suspending', 'awake']);
    const other = new PrepareForSleepParser();
    expect(
      other.push('signal time=1 sender=:1.1 -> destination=(null destination) serial=2 path=/x; interface=org.example.Fake; member=PrepareForSleep'),
    ).toBeNull();
    expect(other.push('   boolean true')).toBeNull();
    expect(LOGIND_SLEEP_MATCH).toContain("sender='org.freedesktop.login1'");
  });

  const missing = ['dbus-daemon', 'dbus-monitor', 'dbus-send'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  const unavailable = skipReason('logind sleep watcher', missing.length ? `missing ${missing.join(', ')} (apt-get install dbus-daemon dbus-bin)` : null);

  it.skipIf(unavailable !== null)('the watcher turns real D-Bus signals into power states (on a private bus: no logind here)', async () => {
    const daemon = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      let out = '';
      daemon.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const address = (await waitUntil(
        () => /^(unix:\S+)/m.exec(out)?.[1],
        10_000,
        () => 'dbus-daemon printed no address',
      ))!;
      const states: PowerState[] = [];
      const match = "type='signal',interface='org.freedesktop.login1.Manager',member='PrepareForSleep'";
      const watcher = new LogindSleepWatcher({ onPower: (s) => states.push(s), bus: { address, match } });
      watcher.start();
      const send = (value: boolean) =>
        spawnSync('dbus-send', [
          `--bus=${address}`,
          '--type=signal',
          '/org/freedesktop/login1',
          'org.freedesktop.login1.Manager.PrepareForSleep',
          `boolean:${value}`,
        ]);
      // dbus-monitor needs a moment to register its match rule; keep signalling until it hears one.
      await waitUntil(
        () => (send(true), states.length > 0),
        10_000,
        () => 'no suspend seen',
      );
      send(false);
      await waitUntil(
        () => states.includes('awake'),
        10_000,
        () => `states ${states}`,
      );
      expect(states.at(-1)).toBe('awake');
      expect(states.every((s) => s === 'suspending' || s === 'awake')).toBe(true);
      watcher.stop();
    } finally {
      daemon.kill('SIGTERM');
    }
  });
});

describe('reading helper output', () => {
  it('splits lines across chunks and drops an overlong line whole, without misreading its tail', () => {
    const stream = new PassThrough();
    const got: string[] = [];
    forEachLine(stream, (l) => got.push(l), { encoding: 'latin1', maxLine: 16 });
    stream.write('first\nsec');
    stream.write('ond\n');
    stream.write('x'.repeat(40));
    stream.write('WM_NAME(STRING) = 1\nthird\n');
    expect(got).toEqual(['first', 'second', 'third']);
  });
});
