import { VIGIL_VERSION } from '../shared/node/version.js';
import { ADMIN_HELP, runAup, runDevice, runEnrollToken, runLogin, runPolicy, runUser } from './commands/admin.js';
import { AGENT_HELP, runAgent } from './commands/agent.js';
import { CONSOLE_HELP, runConsole } from './commands/console.js';
import { EXEC_GATE_HELP, runExecGate } from './commands/exec-gate.js';
import { EXEC_WATCH_HELP, runExecWatch } from './commands/exec-watch.js';
import { runScan, SCAN_HELP } from './commands/scan.js';
import { APPS_HELP, runAppRequest, runAppRules, runRequestApp } from './commands/apps.js';
import { runStation, STATION_HELP } from './commands/station.js';
import { CliError } from './errors.js';
import { POLICY_PLANE_HELP, runGroups } from './commands/policy-plane.js';
import { INSTALL_HELP, runInstallConfig } from './commands/install.js';

const HELP = `vigil ${VIGIL_VERSION}: school endpoint agent and console

Usage: vigil <command> [options]

Commands:
  console         run the console (API, dashboard, agent endpoint)
  agent           run the agent service on this device
  login           sign in to a console from this shell
  policy          push policy files; named policies, their rules, revisions and assignments
  groups          device groups (explicit devices and membership rules)
  aup             publish Acceptable Use Policies, see who has accepted them
  device          list, revoke, lock, log off or message devices
  enroll-token    create enrollment tokens
  user            add console users
  exec-gate       run the Linux pre-exec gate in the foreground (diagnostics)
  exec-watch      run the fallback exec watcher (kills unapproved programs after start) in the foreground
  scan            scan a USB drive at the scan station and write its clean-scan flag
  request-app     ask for permission to run a program (on a device)
  app-request     list, approve or decline pupils' requests to run programs
  app-rules       import AppLocker / Santa / CSV rules, export a policy's rules
  station         register, list or revoke USB scan-station keys
  install-config  write the enrollment file from installer parameters (installers use it)

${CONSOLE_HELP}

${AGENT_HELP}

${ADMIN_HELP}

${POLICY_PLANE_HELP}

${EXEC_GATE_HELP}

${EXEC_WATCH_HELP}

${SCAN_HELP}

${APPS_HELP}

${STATION_HELP}
${INSTALL_HELP}`;

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  console: runConsole,
  agent: runAgent,
  login: runLogin,
  policy: runPolicy,
  groups: runGroups,
  aup: runAup,
  device: runDevice,
  'enroll-token': runEnrollToken,
  user: runUser,
  'exec-gate': runExecGate,
  'exec-watch': runExecWatch,
  scan: runScan,
  'request-app': runRequestApp,
  'app-request': runAppRequest,
  'app-rules': runAppRules,
  station: runStation,
  'install-config': runInstallConfig,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return 0;
  }
  if (command === '--version' || command === '-v') {
    console.log(VIGIL_VERSION);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`vigil: unknown command "${command}" (try vigil --help)\n`);
    return 2;
  }
  try {
    await run(rest);
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`vigil: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`vigil: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// Long-running commands (console, agent) keep the event loop alive; one-shot commands end here.
if (code !== 0) process.exit(code);
