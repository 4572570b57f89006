import type { Logger } from '../shared/node/log.js';

/** A part of the agent with something to start (timers, sockets, watchers) and to stop again. */
export interface Component {
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * The agent's components, started as one group in the order given and stopped in reverse, so
 * nothing runs against a part that is already gone. A start that fails stops, in reverse, what
 * had started, and the failure is passed on: the agent is either wholly up or wholly down.
 */
export class ComponentGroup {
  private started: Component[] = [];

  constructor(
    private readonly components: readonly Component[],
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    for (const component of this.components) {
      try {
        await component.start();
      } catch (error) {
        this.log.error('a component failed to start; stopping the others', { component: component.name, error });
        await this.stop();
        throw error;
      }
      this.started.push(component);
    }
  }

  /** Stops every started component, newest first; one that fails to stop does not keep the rest running. */
  async stop(): Promise<void> {
    const started = this.started.reverse();
    this.started = [];
    for (const component of started) {
      try {
        await component.stop();
      } catch (error) {
        this.log.error('a component failed to stop', { component: component.name, error });
      }
    }
  }
}

/** A component made of two functions (timers and small wiring that need no class). */
export function component(name: string, start: () => void | Promise<void>, stop: () => void | Promise<void> = () => undefined): Component {
  return { name, start, stop };
}
