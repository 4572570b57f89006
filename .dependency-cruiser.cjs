/**
 * Vigil's layers (docs/architecture.md, "Layers"), checked by `npm run lint` (dependency-cruiser).
 * A wrong import fails the lint step of `npm test`, and so CI.
 */
const SHARED_BROWSER = { path: '^src/shared/', pathNot: '^src/shared/node/' };

/** Every rule is an error: a wrong import fails CI, never just warns. */
function rule(name, comment, from, to) {
  return { name, comment, severity: 'error', from, to };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    rule(
      'shared-browser-safe',
      'src/shared (outside src/shared/node) is loaded by the pages too: it imports only itself and browser-safe packages, never a node: builtin.',
      SHARED_BROWSER,
      {
        pathNot: ['^src/shared/(?!node/)', '^node_modules/zod/'],
        dependencyTypesNot: ['core'],
      },
    ),
    rule('shared-no-node-builtins', 'src/shared (outside src/shared/node) is browser-safe: Node-only code belongs in src/shared/node.', SHARED_BROWSER, {
      dependencyTypes: ['core'],
    }),
    rule(
      'shared-node-only-shared',
      'src/shared/node (Node-only shared code) may import src/shared and packages, never a process layer.',
      { path: '^src/shared/node/' },
      {
        path: '^(src/(agent|console|station|cli)|main|renderer|bench|test|scripts)/',
      },
    ),
    rule(
      'agent-not-console-station-cli',
      'The agent runs on the pupil laptop: it shares only src/shared with the console and the scan station.',
      { path: '^src/agent/' },
      {
        path: '^(src/(console|station|cli)|main|renderer)/',
      },
    ),
    rule(
      'console-not-agent-station',
      'The console talks to agents only through the protocol in src/shared.',
      { path: '^src/console/' },
      {
        path: '^(src/(agent|station|cli)|main|renderer)/',
      },
    ),
    rule(
      'station-not-agent-console',
      'The scan station shares only src/shared with the agent and the console.',
      { path: '^src/station/' },
      {
        path: '^(src/(agent|console|cli)|main|renderer)/',
      },
    ),
    rule(
      'tray-not-console',
      'The tray (main/) runs in the pupil session: no console module.',
      { path: '^main/' },
      { path: '^(src/(console|station|cli)|renderer)/' },
    ),
    rule(
      'renderer-browser-safe',
      'Pages run in a browser: renderer/ imports only renderer/ and browser-safe src/shared.',
      { path: '^renderer/', pathNot: '^renderer/vite\\.config\\.ts$' },
      { pathNot: ['^renderer/', '^src/shared/(?!node/)', '^node_modules/zod/'] },
    ),
    rule('no-circular', 'No import cycles: each module has one place in the layers.', {}, { circular: true }),
    rule('not-to-unresolvable', 'Every import resolves (a moved module leaves no dangling specifier).', {}, { couldNotResolve: true }),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.cts', '.mts', '.js', '.cjs', '.mjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
