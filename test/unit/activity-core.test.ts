import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO } from '../helpers/processes.js';
import { describe, expect, it } from 'vitest';
import { inSchoolHours, pauseReason, type GateInput } from '../../src/agent/activity/gate.js';
import { addressInRanges, SchoolNetworkCheck, tcpReachable } from '../../src/agent/activity/network.js';
import { reportedWindow } from '../../src/agent/activity/privacy.js';
import { MAX_SPAN_MS, SpanBuilder } from '../../src/agent/activity/spans.js';
import { displayServerOf } from '../../src/agent/activity/display-server.js';
import { ActivityPolicySchema, compileRedactions, unsafePatternReason, type ActivityPolicy } from '../../src/shared/activity-policy.js';
import { ActivitySpansDataSchema } from '../../src/shared/activity.js';
import { cidrContains, parseCidr } from '../../src/shared/cidr.js';
import { PolicyDocumentSchema } from '../../src/shared/policy.js';

const policy = (section: Record<string, unknown>): ActivityPolicy => ActivityPolicySchema.parse(section);
const MONDAY_0900 = Date.parse('2026-11-23T09:00:00Z'); // local ms as SessionClock.localMs gives it

describe('span merging', () => {
  const xterm = { kind: 'window' as const, window: { app: 'XTerm', title: 'a', url: null, path: null } };
  const xcalc = { kind: 'window' as const, window: { app: 'XCalc', title: 'Calculator', url: null, path: null } };

  it('merges identical consecutive samples and closes a span when the sample changes', () => {
    const b = new SpanBuilder();
    const wall = MONDAY_0900;
    for (let s = 0; s < 5; s++) expect(b.add(xterm, wall + s * 1000, s * 1000)).toEqual([]);
    expect(b.since).toBe(wall);
    const closed = b.add(xcalc, wall + 5000, 5000);
    expect(closed).toEqual([{ start: new Date(wall).toISOString(), durationMs: 5000, kind: 'window', window: xterm.window }]);
    b.add(xcalc, wall + 6000, 6000);
    b.add({ kind: 'idle', window: null }, wall + 7000, 7000);
    expect(b.close(9000)).toEqual({ start: new Date(wall + 7000).toISOString(), durationMs: 2000, kind: 'idle', window: null });
    expect(b.close()).toBeNull();
  });

  it('a title change is a new span; a span is cut at the maximum length and goes on', () => {
    const b = new SpanBuilder();
    b.add(xterm, 0, 0);
    expect(b.add({ ...xterm, window: { ...xterm.window, title: 'b' } }, 1000, 1000)).toHaveLength(1);
    const cut = b.add({ ...xterm, window: { ...xterm.window, title: 'b' } }, 1000 + MAX_SPAN_MS, 1000 + MAX_SPAN_MS);
    expect(cut).toEqual([expect.objectContaining({ durationMs: MAX_SPAN_MS })]);
    expect(b.since).toBe(1000 + MAX_SPAN_MS);
  });

  it('idle noticed late starts at the last input: the window span is trimmed back, never below its start', () => {
    const b = new SpanBuilder();
    b.add(xterm, 0, 0);
    b.add(xterm, 100_000, 100_000);
    const [win] = b.add({ kind: 'idle', window: null }, 200_000, 200_000, 180_000); // last input at 20 s
    expect(win).toMatchObject({ durationMs: 20_000 });
    expect(b.since).toBe(20_000);
    expect(b.close(260_000)).toMatchObject({ start: new Date(20_000).toISOString(), durationMs: 240_000, kind: 'idle' });
    b.add(xterm, 300_000, 300_000);
    const [short] = b.add({ kind: 'idle', window: null }, 301_000, 301_000, 180_000);
    expect(short).toBeUndefined(); // trimmed to nothing: the window span began after the last input
    expect(b.since).toBe(300_000);
  });

  it('after a stall the span ends at its last sample, and durations never go negative', () => {
    const b = new SpanBuilder();
    b.add(xterm, 0, 0);
    b.add(xterm, 1000, 1000);
    expect(b.close()).toMatchObject({ durationMs: 1000 }); // not the hours the laptop slept
    b.add(xterm, 0, 5000);
    expect(b.close(4000)).toBeNull(); // zero-length spans are dropped
  });
});

describe('redaction patterns', () => {
  it('accepts simple patterns and refuses invalid or catastrophic ones', () => {
    for (const ok of ['private', '\\S+@\\S+', '[0-9]{6,}', 'Incognito|InPrivate', '(foo|bar) baz', '(ab)+', 'a{2,5}'])
      expect(unsafePatternReason(ok), ok).toBeNull();
    expect(unsafePatternReason('(unclosed')).toMatch(/not a valid regular expression/);
    expect(unsafePatternReason('(a+)+$')).toMatch(/repeated group/);
    expect(unsafePatternReason('(a|aa)*b')).toMatch(/repeated group/);
    expect(unsafePatternReason('((a)*)+')).toMatch(/repeated group/);
    expect(unsafePatternReason('(a?b?)+c')).toMatch(/repeated group/);
    expect(unsafePatternReason('(?:x+)*')).toMatch(/repeated group/);
    expect(unsafePatternReason('(?:Private|Incognito) browsing')).toBeNull();
    expect(unsafePatternReason('(x)\\1')).toMatch(/back-references/);
    expect(unsafePatternReason('[(a+)+]')).toBeNull(); // inside a class these are plain characters
  });

  it('the example policy is valid and its patterns hide what they say', () => {
    const doc = PolicyDocumentSchema.parse(JSON.parse(readFileSync(join(REPO, 'policies/secondary-activity.json'), 'utf8')));
    const patterns = compileRedactions(doc.activity!.redactTitles);
    const w = reportedWindow({ app: 'Mail', title: 'From jo.bloggs@school.example, candidate 1234567', url: null, path: null }, doc.activity!, patterns);
    expect(w!.title).toBe('From [hidden], candidate [hidden]');
  });

  it('a policy with a bad pattern is refused when it is validated, not when it runs', () => {
    const doc = (redactTitles: string[]) => PolicyDocumentSchema.safeParse({ format: 'vigil-policy/1', name: 'p', activity: { mode: 'full', redactTitles } });
    expect(doc(['secret']).success).toBe(true);
    const bad = doc(['(a+)+$']);
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('repeated group');
    expect(doc(['[']).success).toBe(false);
    expect(doc(['x'.repeat(201)]).success).toBe(false);
    expect(doc(Array(33).fill('x')).success).toBe(false);
  });

  it('full mode redacts titles and URLs; app-only sends the app name alone', () => {
    const raw = {
      app: 'Firefox',
      title: 'Inbox - pupil@school.example - Mail',
      url: 'https://mail.example/?u=pupil@school.example',
      path: '/usr/lib/firefox/firefox',
    };
    const full = policy({ mode: 'full', redactTitles: ['[\\w.]+@[\\w.]+'] });
    expect(reportedWindow(raw, full, compileRedactions(full.redactTitles))).toEqual({
      app: 'Firefox',
      title: 'Inbox - [hidden] - Mail',
      url: 'https://mail.example/?u=[hidden]',
      path: '/usr/lib/firefox/firefox',
    });
    const appOnly = policy({ mode: 'app-only' });
    expect(reportedWindow(raw, appOnly, [])).toEqual({ app: 'Firefox', title: null, url: null, path: null });
    expect(reportedWindow(raw, policy({ mode: 'off' }), [])).toBeNull();
  });

  it('hostile window data is bounded and cleaned by the wire schema', () => {
    const full = policy({ mode: 'full', redactTitles: ['secret'] });
    const patterns = compileRedactions(full.redactTitles);
    const huge = reportedWindow(
      { app: 'A'.repeat(10_000), title: 'T'.repeat(1_000_000), url: 'u'.repeat(100_000), path: '/p'.repeat(10_000) },
      full,
      patterns,
    )!;
    expect(huge.app).toHaveLength(255);
    expect(huge.title).toHaveLength(1024);
    expect(huge.title!.endsWith('…')).toBe(true); // the reader can tell it was cut
    expect(huge.url).toHaveLength(2048);
    expect(huge.path!.length).toBeLessThanOrEqual(4096);
    const nasty = reportedWindow({ app: '\u0000evil\u001b[31m', title: 'a\nb\u2028c\ud800d secret', url: null, path: null }, full, patterns)!;
    expect(nasty.app).toBe('\uFFFDevil\uFFFD[31m');
    expect(nasty.title).toBe('a\uFFFDb\uFFFDc\uFFFDd [hidden]');
    // HTML is kept as text (the dashboard escapes it); it is just bounded like any title.
    const html = reportedWindow({ app: 'x', title: '<img src=x onerror=alert(1)><script>alert(2)</script>', url: null, path: null }, full, patterns)!;
    expect(html.title).toBe('<img src=x onerror=alert(1)><script>alert(2)</script>');
    expect(reportedWindow({ app: '   ', title: null, url: null, path: null }, full, patterns)!.app).toBe('unknown');
    // What leaves the device always parses as the event it is sent in.
    expect(ActivitySpansDataSchema.safeParse({ spans: [{ start: new Date().toISOString(), durationMs: 1, kind: 'window', window: huge }] }).success).toBe(true);
  });
});

describe('school hours and the school network (BYOD)', () => {
  const byod = policy({
    mode: 'app-only',
    byod: { schoolHours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:30', end: '15:30' }], schoolNetwork: { cidrs: ['10.20.0.0/16'] } },
  });
  const input = (over: Partial<GateInput>): GateInput => ({
    policy: byod,
    ownership: 'byod',
    localMs: MONDAY_0900,
    displayServer: 'x11',
    onSchoolNetwork: () => true,
    ...over,
  });
  const at = (iso: string) => Date.parse(iso);

  it('inside hours only on the listed days, start inclusive, end exclusive', () => {
    const hours = byod.byod!.schoolHours;
    expect(inSchoolHours(hours, at('2026-11-23T08:29:59Z'))).toBe(false);
    expect(inSchoolHours(hours, at('2026-11-23T08:30:00Z'))).toBe(true);
    expect(inSchoolHours(hours, at('2026-11-23T15:29:59Z'))).toBe(true);
    expect(inSchoolHours(hours, at('2026-11-23T15:30:00Z'))).toBe(false);
    expect(inSchoolHours(hours, at('2026-11-22T10:00:00Z'))).toBe(false); // Sunday
    expect(inSchoolHours([], MONDAY_0900)).toBe(false);
  });

  it('a BYOD device collects only inside hours and on the school network; the network is not even looked at outside hours', () => {
    let asked = 0;
    const network = () => (asked++, true);
    expect(pauseReason(input({ localMs: at('2026-11-23T18:00:00Z'), onSchoolNetwork: network }))).toBe('outside-school-hours');
    expect(asked).toBe(0);
    expect(pauseReason(input({ onSchoolNetwork: network }))).toBeNull();
    expect(asked).toBe(1);
    expect(pauseReason(input({ onSchoolNetwork: () => false }))).toBe('off-school-network');
    expect(pauseReason(input({ onSchoolNetwork: () => null }))).toBe('off-school-network'); // not known yet
    expect(pauseReason(input({ policy: policy({ mode: 'full' }) }))).toBe('outside-school-hours'); // no byod block: never
    expect(pauseReason(input({ policy: policy({ mode: 'full', byod: { schoolHours: byod.byod!.schoolHours } }) }))).toBe('off-school-network');
  });

  it('school devices ignore the BYOD rules; off, Wayland and no session are reported as such', () => {
    expect(pauseReason(input({ ownership: 'school', localMs: at('2026-11-22T23:00:00Z'), onSchoolNetwork: () => false }))).toBeNull();
    expect(pauseReason(input({ policy: policy({ mode: 'off' }) }))).toBe('policy-off');
    expect(pauseReason(input({ displayServer: 'wayland' }))).toBe('wayland');
    expect(pauseReason(input({ ownership: 'school', displayServer: 'none' }))).toBe('no-session');
    // A pupil at home on a Wayland laptop: the schedule speaks first.
    expect(pauseReason(input({ displayServer: 'wayland', localMs: at('2026-11-23T20:00:00Z') }))).toBe('outside-school-hours');
  });

  it('schedules are validated', () => {
    expect(ActivityPolicySchema.safeParse({ mode: 'full', byod: { schoolHours: [{ start: '15:00', end: '09:00' }] } }).success).toBe(false);
    expect(ActivityPolicySchema.safeParse({ mode: 'full', byod: { schoolHours: [{ start: '9:00', end: '10:00' }] } }).success).toBe(false);
    expect(ActivityPolicySchema.safeParse({ mode: 'full', byod: { schoolNetwork: {} } }).success).toBe(false);
    expect(ActivityPolicySchema.safeParse({ mode: 'full', byod: { schoolNetwork: { cidrs: ['10.0.0.0/33'] } } }).success).toBe(false);
    expect(ActivityPolicySchema.safeParse({ mode: 'full', byod: { schoolNetwork: { probe: { host: 'a b', port: 1 } } } }).success).toBe(false);
    expect(ActivityPolicySchema.safeParse({ mode: 'full', extra: 1 }).success).toBe(false);
  });

  it('address ranges (IPv4 and IPv6)', () => {
    expect(addressInRanges(['127.0.0.1', '10.20.3.4'], ['10.20.0.0/16'])).toBe(true);
    expect(addressInRanges(['10.21.3.4'], ['10.20.0.0/16'])).toBe(false);
    expect(addressInRanges(['fd00:1::5'], ['fd00::/8'])).toBe(true);
    expect(addressInRanges(['fe80::1%eth0'], ['fe80::/10'])).toBe(true);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, '8.8.8.8')).toBe(true);
    expect(cidrContains(parseCidr('::ffff:10.0.0.0/104')!, '::ffff:10.1.2.3')).toBe(true);
    for (const bad of ['10.0.0/8', '10.0.0.256/8', '1::2::3/64', 'x/1', '10.0.0.0', '10.0.0.0/8/1', '01.2.3.4/8']) expect(parseCidr(bad), bad).toBeNull();
  });

  it('the probe runs in the background, at most every refresh period, and its answer is cached', async () => {
    let mono = 0;
    const calls: string[] = [];
    let answer = true;
    const check = new SchoolNetworkCheck(
      { addresses: () => ['10.20.1.1'], reachable: async (host, port) => (calls.push(`${host}:${port}`), answer), monoNow: () => mono },
      30_000,
    );
    const net = { cidrs: ['10.20.0.0/16'], probe: { host: 'console.internal', port: 443 } };
    expect(check.status(net)).toBeNull(); // first probe still out
    await new Promise((r) => setImmediate(r));
    expect(check.status(net)).toBe(true);
    answer = false;
    mono += 10_000;
    expect(check.status(net)).toBe(true);
    expect(calls).toHaveLength(1);
    mono += 30_000;
    check.status(net);
    await new Promise((r) => setImmediate(r));
    expect(check.status(net)).toBe(false);
    expect(calls).toHaveLength(2);
    expect(check.status({ cidrs: ['192.168.0.0/16'], probe: net.probe })).toBe(false); // address test first, no probe
    expect(calls).toHaveLength(2);
  });

  it('the TCP probe connects for real', async () => {
    const server = createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    expect(await tcpReachable('127.0.0.1', port, 2000)).toBe(true);
    await new Promise<void>((r) => server.close(() => r()));
    expect(await tcpReachable('127.0.0.1', port, 2000)).toBe(false);
  });
});

describe('display server', () => {
  it('Wayland is detected from the session environment', () => {
    expect(displayServerOf({ XDG_SESSION_TYPE: 'wayland', DISPLAY: ':0', WAYLAND_DISPLAY: 'wayland-0' })).toBe('wayland'); // XWayland shows only part of the picture
    expect(displayServerOf({ WAYLAND_DISPLAY: 'wayland-0' })).toBe('wayland');
    expect(displayServerOf({ DISPLAY: ':0', XDG_SESSION_TYPE: 'x11' })).toBe('x11');
    expect(displayServerOf({})).toBe('none');
    expect(displayServerOf({}, 'win32')).toBe('native');
  });
});
