import type { AgentMessage } from './protocol.js';

export type BudgetedType = Exclude<AgentMessage['type'], 'auth'>;

/** A token bucket: `burst` frames at once, then one per `refillMs`. */
export interface Budget {
  burst: number;
  refillMs: number;
}

/**
 * What one signed-in device may send, per frame type: the console drops what is over (agent-link/
 * frame-budget.ts) and the agent paces its outbox by the same figures (event-pump.ts), so the
 * limit one side holds is one the other side keeps to. Generous for what a real agent sends
 * (heartbeats every ≥ 5 s, status every ≥ 10 s, an outbox drained 4 batches of 200 at a time,
 * activity on change) and far below what a hostile device could: 65,000 status frames in
 * 10 s once wrote 65,008 history rows and slowed every API answer to a second.
 * Every type has a budget: the compiler checks the table is complete.
 */
export const FRAME_BUDGETS: Record<BudgetedType, Budget> = {
  hello: { burst: 5, refillMs: 30_000 },
  heartbeat: { burst: 10, refillMs: 2_000 },
  status: { burst: 10, refillMs: 5_000 },
  // An outbox that was offline for a day drains at 10 batches (2,000 events) a second.
  events: { burst: 60, refillMs: 100 },
  'policy.ack': { burst: 10, refillMs: 5_000 },
  'command.result': { burst: 30, refillMs: 1_000 },
  activity: { burst: 30, refillMs: 1_000 },
  power: { burst: 10, refillMs: 10_000 },
  // A lab's morning of sign-ins at once, then one every 2 s.
  'aup.query': { burst: 30, refillMs: 2_000 },
};

/**
 * The agent's own pace for a frame type: a quarter slower than the console's refill and half its
 * burst, so frames the network delays and delivers together still arrive within the budget.
 */
export function agentPace(type: BudgetedType): Budget {
  const { burst, refillMs } = FRAME_BUDGETS[type];
  return { burst: Math.max(1, Math.floor(burst / 2)), refillMs: Math.ceil(refillMs * 1.25) };
}
