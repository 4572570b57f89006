import type { AppControlOptions } from '../app-control.js';

/** Where Vigil has no pre-exec gate of its own: AppControl never asks (gateUnavailable says why), and a call is a bug. */
export function noPreExecGate(os: NodeJS.Platform): AppControlOptions['createGate'] {
  return () => {
    throw new Error(`no pre-exec gate on ${os}`);
  };
}
