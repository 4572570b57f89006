import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { publicKeyFromPrivatePem, keyId, randomToken } from '../../src/shared/node/crypto.js';
import { deviceAuthPayload } from '../../src/shared/protocol.js';
import { signPayload } from '../../src/shared/node/signing.js';

/**
 * A console under the test's control, holding the real console's signing key (read from its
 * data directory), so the agent accepts it as its console. Lets a test send what the real
 * console never would: forged, stale or expired bundles and plain garbage.
 */
export interface ImpostorConsole {
  privateKey: KeyObject;
  publicKey: string;
  received: any[];
  /** How many times the agent has connected. */
  connections(): number;
  socket(): WebSocket | null;
  waitForAuth(timeoutMs?: number): Promise<WebSocket>;
  close(): Promise<void>;
}

export async function startImpostorConsole(consoleDataDir: string, port: number, opts: { pingSeconds?: number } = {}): Promise<ImpostorConsole> {
  const pem = readFileSync(join(consoleDataDir, 'console-signing-key.pem'), 'utf8');
  const privateKey = createPrivateKey(pem);
  const publicKey = publicKeyFromPrivatePem(pem);
  const received: any[] = [];
  let current: WebSocket | null = null;
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, path: '/api/v1/agent' });
  let connections = 0;
  wss.on('connection', (ws) => {
    connections++;
    const nonce = randomToken(32);
    ws.send(JSON.stringify({ v: 1, type: 'challenge', nonce, consoleKeyId: keyId(publicKey), serverTime: new Date().toISOString() }));
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      received.push(message);
      if (message.type === 'auth') {
        const payload = deviceAuthPayload(message.deviceId, message.nonce, message.clientNonce);
        const sig = signPayload('console-auth', payload, privateKey, publicKey);
        ws.send(
          JSON.stringify({
            v: 1,
            type: 'auth.ok',
            deviceId: message.deviceId,
            signature: sig.value,
            heartbeatSeconds: 30,
            pingSeconds: opts.pingSeconds ?? 15,
          }),
        );
        current = ws;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    privateKey,
    publicKey,
    received,
    socket: () => current,
    connections: () => connections,
    async waitForAuth(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!current || current.readyState !== current.OPEN || !received.some((m) => m.type === 'hello')) {
        if (Date.now() > deadline) throw new Error('agent never authenticated to the impostor console');
        await new Promise((r) => setTimeout(r, 50));
      }
      return current;
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
