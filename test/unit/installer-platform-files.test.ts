import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import yaml from 'js-yaml';
import plist from 'plist';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/processes.js';
import { enrollFileFromParameters, parametersFromInstallerArgs } from '../../src/agent/install-config.js';

/**
 * The installer files that cannot run on this machine (macOS launchd plists and pkg scripts,
 * the Windows NSIS include and WinSW service file) are checked for what can be checked here:
 * well-formed XML, shell syntax, and agreement with electron-builder.yml and with each other.
 * Whether they work on macOS and Windows is checked by the CI jobs on those runners.
 */
const read = (path: string) => readFileSync(join(REPO, path), 'utf8');
const config = yaml.load(read('electron-builder.yml')) as Record<string, any>;

/** Parses XML, failing on any warning or error (xmldom only logs them by default). */
function strictXml(text: string, name: string) {
  const problems: string[] = [];
  const doc = new DOMParser({ errorHandler: (level: string, message: string) => void problems.push(`${name}: ${level}: ${message}`) }).parseFromString(
    text,
    'text/xml',
  );
  if (problems.length) throw new Error(problems.join('\n'));
  return doc;
}

describe('macOS: LaunchDaemon, LaunchAgent and pkg scripts', () => {
  const bundle = `/Applications/${config.productName}.app/Contents`;
  const daemon = plist.parse(read('installer/macos/org.vigil.agent.plist')) as Record<string, any>;
  const agent = plist.parse(read('installer/macos/org.vigil.tray.plist')) as Record<string, any>;

  it('the plists are well-formed XML property lists', () => {
    for (const name of ['org.vigil.agent.plist', 'org.vigil.tray.plist']) {
      expect(strictXml(read(`installer/macos/${name}`), name).documentElement?.nodeName).toBe('plist');
    }
    expect(() => strictXml('<plist><dict><key>Label</string></dict></plist>', 'broken')).toThrow(/broken/);
  });

  it('the LaunchDaemon runs the service as root on the Node runtime the pkg ships, and keeps it alive', () => {
    expect(daemon).toMatchObject({ Label: 'org.vigil.agent', UserName: 'root', RunAtLoad: true, KeepAlive: true });
    const service = config.extraResources.find((r: { to: string }) => r.to === 'service');
    expect(daemon.ProgramArguments.slice(0, 3)).toEqual([`${bundle}/Resources/${service.to}/node`, `${bundle}/Resources/${service.to}/bin/vigil.js`, 'agent']);
    expect(daemon.ProgramArguments).toEqual(expect.arrayContaining(['--data-dir', '/Library/Application Support/Vigil/agent']));
  });

  it('the LaunchAgent starts the tray in every graphical session and again if it is killed', () => {
    expect(agent).toMatchObject({ Label: 'org.vigil.tray', LimitLoadToSessionType: 'Aqua', RunAtLoad: true, KeepAlive: true });
    expect(agent.ProgramArguments[0]).toBe(`${bundle}/MacOS/${config.productName}`);
  });

  it('postinstall installs the plists the app bundle carries, under their labels', () => {
    const postinstall = read('installer/macos/scripts/postinstall');
    const shipped = config.mac.extraResources[0];
    for (const [plistFile, dir] of [
      ['org.vigil.agent.plist', 'LaunchDaemons'],
      ['org.vigil.tray.plist', 'LaunchAgents'],
    ] as const) {
      expect(shipped.filter).toContain(plistFile);
      expect(postinstall).toContain(`"$RES/${shipped.to}/${plistFile}" /Library/${dir}/${plistFile}`);
    }
    expect(postinstall).toMatch(/install-config --console-url "\$\(key ConsoleURL\)"/);
  });
});

describe('shell scripts', () => {
  const scripts = [
    ...['postinst', 'prerm', 'postrm', 'vigil'].map((f) => `installer/linux/${f}`),
    ...readdirSync(join(REPO, 'installer/macos/scripts')).map((f) => `installer/macos/scripts/${f}`),
    'installer/macos/uninstall.sh',
  ];
  it.each(scripts)('%s parses with sh -n and is executable (pkgbuild and fpm keep the mode)', (script) => {
    expect(() => execFileSync('sh', ['-n', join(REPO, script)])).not.toThrow();
    expect(statSync(join(REPO, script)).mode & 0o111).toBe(0o111);
  });
});

describe('Windows: NSIS include, MSI wrapper and WinSW service', () => {
  const nsh = read('installer/windows/installer.nsh');
  it('the switches the MSI passes reach vigil install-config through the NSIS command line', () => {
    // What msiexec CONSOLEURL=… ENROLLTOKEN=… (CONSOLEKEY unset) makes of wrappedInstallerArgs,
    // as NSIS then sees it in $CMDLINE, parsed by the code the NSIS include hands it to.
    const properties: Record<string, string> = { CONSOLEURL: 'https://console.school.example', ENROLLTOKEN: 'school-enroll-token-0123456789', CONSOLEKEY: '' };
    const args = (config.msiWrapped.wrappedInstallerArgs as string).replace(/\[([A-Z]+)\]/g, (_, name: string) => properties[name] ?? '');
    const parsed = parametersFromInstallerArgs(`"C:\\Windows\\Installer\\Vigil Setup 0.1.0.exe" ${args}`);
    expect(parsed).toEqual({ consoleUrl: properties.CONSOLEURL, enrollToken: properties.ENROLLTOKEN, consoleKey: '' });
    expect(enrollFileFromParameters(parsed!)).toEqual({ consoleUrl: properties.CONSOLEURL, enrollToken: properties.ENROLLTOKEN });
    expect(nsh).toMatch(/StrCpy \$0 \$CMDLINE\s+System::Call 'Kernel32::SetEnvironmentVariable\(t "VIGIL_INSTALLER_ARGS", t r0\) i'/);
    expect(nsh).toContain('install-config --installer-args-env VIGIL_INSTALLER_ARGS --out "$VigilData\\enroll.json"');
  });

  it('the service the NSIS include registers is the one WinSW defines, run on the shipped Node', () => {
    const doc = strictXml(read('installer/windows/vigil-service.xml'), 'vigil-service.xml');
    const text = (tag: string) => doc.getElementsByTagName(tag)[0]?.textContent;
    expect(nsh).toContain(`!define VIGIL_SERVICE_ID "${text('id')}"`);
    expect(text('executable')).toBe('%BASE%\\..\\service\\node.exe');
    expect(text('arguments')).toMatch(/vigil\.js" agent --data-dir "%ProgramData%\\Vigil\\agent"/);
    expect(doc.getElementsByTagName('onfailure')[0]?.getAttribute('action')).toBe('restart');
  });

  it('%ProgramData%\\Vigil gets a SYSTEM/Administrators-only ACL; the tray starts from HKLM Run; a real uninstall tells the console', () => {
    expect(nsh).not.toMatch(/--enroll-token/);
    expect(nsh).toMatch(/icacls "\$VigilData" \/inheritance:r \/grant:r \*S-1-5-18:\(OI\)\(CI\)F \*S-1-5-32-544:\(OI\)\(CI\)F/);
    expect(nsh.indexOf('icacls')).toBeLessThan(nsh.indexOf('${VIGIL_NODE} install-config'));
    expect(nsh).toMatch(/WriteRegStr HKLM "\$\{VIGIL_RUN_KEY\}" "VigilTray"/);
    expect(nsh).toMatch(/\$\{IfNot\} \$\{isUpdated\}[\s\S]*agent uninstall-notice/);
  });
});
