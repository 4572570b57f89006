import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { LIMITS } from '../../shared/limits.js';
import { summariseZodError } from '../../shared/policy.js';
import { HttpError } from './http-error.js';

/**
 * Reads a JSON body with a size cap and validates it with the route's schema. The cap is the
 * console's body limit unless the route carries something bigger by design (a policy push).
 */
export async function readJson<S extends z.ZodType>(
  req: IncomingMessage,
  schema: S,
  { maxBytes = LIMITS.httpMaxBodyBytes, limitName = 'the request body limit' }: { maxBytes?: number; limitName?: string } = {},
): Promise<z.infer<S>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'unsupported-media-type', 'send the request body as application/json');
  }
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) throw tooLarge(maxBytes, limitName);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw tooLarge(maxBytes, limitName);
    chunks.push(chunk as Buffer);
  }
  let data: unknown;
  try {
    data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'malformed-json', `request body is not valid JSON: ${(error as Error).message.slice(0, 120)}`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new HttpError(400, 'invalid-request', summariseZodError(parsed.error));
  return parsed.data;
}

function tooLarge(maxBytes: number, limitName: string): HttpError {
  return new HttpError(413, 'too-large', `request body is larger than ${maxBytes} bytes (${limitName})`);
}
