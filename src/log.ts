/**
 * The logger: pino JSON lines on stderr. Full resident IDs never reach a log (DOMAIN.md §6): known ID
 * fields are redacted, and ID-shaped strings are masked inside messages and string fields as well.
 */
import pino, { type Logger } from 'pino';
import { maskIdsInText } from './identity/resident-id.ts';

export type { Logger };

function maskDeep(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return maskIdsInText(v);
  if (depth > 4 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => maskDeep(x, depth + 1));
  if (v instanceof Error) return { type: v.name, message: maskIdsInText(v.message), stack: v.stack ? maskIdsInText(v.stack) : undefined };
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = maskDeep(x, depth + 1);
  return out;
}

/**
 * Creates the logger.
 * @param level pino level (`info` by default; `FUNDGUARD_LOG_LEVEL` overrides)
 * @param destination file descriptor or stream (stderr by default, so stdout stays for results)
 */
export function createLogger(level = process.env.FUNDGUARD_LOG_LEVEL ?? 'info', destination: pino.DestinationStream | number = 2): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination;
  return pino(
    {
      level,
      base: { app: 'fundguard' },
      redact: { paths: ['id_number', 'idNumber', 'id_raw', 'account', '*.id_number', '*.idNumber', '*.id_raw', '*.account'], censor: '[masked]' },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => maskDeep(a)) as Parameters<typeof method>);
        },
      },
    },
    dest,
  );
}

/** A logger that writes nothing (tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
