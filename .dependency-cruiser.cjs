/**
 * Vigil's layers (docs/architecture.md, "Layers"), checked by `npm run lint` (dependency-cruiser).
 * A wrong import fails the lint step of `npm test`, and so CI.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'shared-browser-safe',
      comment: 'src/shared (outside src/shared/node) is loaded by the pages too: it imports only itself and browser-safe packages, never a node: builtin.',
      severity: 'error',
      from: { path: '^src/shared/', pathNot: '^src/shared/node/' },
      to: { pathNot: ['^src/shared/(?!node/)', '^node_modules/zod/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'shared-no-node-builtins',
      comment: 'src/shared (outside src/shared/node) is browser-safe: Node-only code belongs in src/shared/node.',
      severity: 'error',
      from: { path: '^src/shared/', pathNot: '^src/shared/node/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'shared-node-only-shared',
      comment: 'src/shared/node (Node-only shared code) may import src/shared and packages, never a process layer.',
      severity: 'error',
      from: { path: '^src/shared/node/' },
      to: { path: '^(src/(agent|console|station|cli)|main|renderer|bench|test|scripts)/' },
    },
    {
      name: 'agent-not-console-station-cli',
      comment: 'The agent runs on the pupil laptop: it shares only src/shared with the console and the scan station.',
      severity: 'error',
      from: { path: '^src/agent/' },
      to: { path: '^(src/(console|station|cli)|main|renderer)/' },
    },
    {
      name: 'console-not-agent-station',
      comment: 'The console talks to agents only through the protocol in src/shared.',
      severity: 'error',
      from: { path: '^src/console/' },
      to: { path: '^(src/(agent|station|cli)|main|renderer)/' },
    },
    {
      name: 'station-not-agent-console',
      comment: 'The scan station shares only src/shared with the agent and the console.',
      severity: 'error',
      from: { path: '^src/station/' },
      to: { path: '^(src/(agent|console|cli)|main|renderer)/' },
    },
    {
      name: 'tray-not-console',
      comment: 'The tray (main/) runs in the pupil session: no console module.',
      severity: 'error',
      from: { path: '^main/' },
      to: { path: '^(src/(console|station|cli)|renderer)/' },
    },
    {
      name: 'renderer-browser-safe',
      comment: 'Pages run in a browser: renderer/ imports only renderer/ and browser-safe src/shared.',
      severity: 'error',
      from: { path: '^renderer/', pathNot: '^renderer/vite\\.config\\.ts$' },
      to: { pathNot: ['^renderer/', '^src/shared/(?!node/)', '^node_modules/zod/'] },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles: each module has one place in the layers.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves (a moved module leaves no dangling specifier).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
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
