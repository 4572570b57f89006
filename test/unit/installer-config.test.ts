import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/processes.js';

// electron-builder validates its configuration against this schema before every build; our
// machines cannot run a build (the Electron binary and its tools come from GitHub), so the same
// check runs here. ajv is the validator electron-builder itself uses.
const schema = JSON.parse(readFileSync(join(REPO, 'node_modules/app-builder-lib/scheme.json'), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);
const loadConfig = () => yaml.load(readFileSync(join(REPO, 'electron-builder.yml'), 'utf8')) as Record<string, any>;

function errorsOf(config: unknown): string[] {
  return validate(config) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}

describe('electron-builder.yml', () => {
  it('validates against the schema shipped in app-builder-lib', () => {
    expect(errorsOf(loadConfig())).toEqual([]);
  });

  it('the validator catches a wrong key and a wrong type (so the test above means something)', () => {
    const misspelt = loadConfig();
    misspelt.nsis.perMachin = true;
    expect(errorsOf(misspelt).join('\n')).toMatch(/\/nsis .*additional properties.*perMachin/);
    const wrongFuse = loadConfig();
    wrongFuse.electronFuses.runAsNodes = false;
    expect(errorsOf(wrongFuse).join('\n')).toMatch(/electronFuses.*runAsNodes/);
    const wrongType = loadConfig();
    wrongType.nsis.oneClick = 'no';
    expect(errorsOf(wrongType).join('\n')).toMatch(/\/nsis\/oneClick must be boolean/);
  });

  it('builds per-machine installers with the release fuses', () => {
    const config = loadConfig();
    expect(config.nsis).toMatchObject({ oneClick: false, perMachine: true, include: 'installer/windows/installer.nsh' });
    expect(config.win.target).toEqual(['nsis', 'msiWrapped']); // the MSI wraps the NSIS build, so nsis comes first
    expect(config.msiWrapped.wrappedInstallerArgs).toMatch(/^\/S .*\/CONSOLEURL=\[CONSOLEURL\].*\/ENROLLTOKEN=\[ENROLLTOKEN\].*\/CONSOLEKEY=\[CONSOLEKEY\]/);
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
    expect(config.linux.target).toEqual(['deb', 'rpm']);
    expect(config.mac.target).toEqual(['pkg']);
    for (const target of ['deb', 'rpm']) {
      expect(config[target]).toMatchObject({
        afterInstall: 'installer/linux/postinst',
        afterRemove: 'installer/linux/postrm',
        fpm: ['--before-remove=installer/linux/prerm'],
      });
    }
  });

  it('every file the configuration names exists', () => {
    const config = loadConfig();
    const named = [
      config.nsis.include,
      ...['deb', 'rpm'].flatMap((t) => [config[t].afterInstall, config[t].afterRemove, config[t].fpm[0].split('=')[1]]),
      join(config.directories.buildResources, config.pkg.scripts, 'postinstall'),
      join(config.directories.buildResources, config.pkg.scripts, 'preinstall'),
      ...['linux', 'win', 'mac'].flatMap((os) =>
        config[os].extraResources.flatMap((r: { from: string; filter: string[] }) => r.filter.map((f) => join(r.from, f))),
      ),
    ];
    // WinSW is a binary the Windows CI job downloads (docs/installers.md), not kept in git.
    const fetchedInCi = ['installer/windows/vigil-service.exe'];
    for (const file of named.filter((f) => !fetchedInCi.includes(f))) expect(() => readFileSync(join(REPO, file)), file).not.toThrow();
  });

  it('maintainer scripts use no ${name} macros (electron-builder expands them and fails on unknown names)', () => {
    // FpmTarget's writeConfigFile replaces /\$\{([a-zA-Z]+)\}/ in afterInstall/afterRemove.
    for (const file of ['installer/linux/postinst', 'installer/linux/postrm']) {
      expect(readFileSync(join(REPO, file), 'utf8')).not.toMatch(/\$\{[a-zA-Z]+\}/);
    }
  });
});
