/**
 * Settings: the reference tables shipped in `seeds/` merged with an optional settings file
 * (`--settings FILE`, default `fundguard.settings.json` in the working directory when present), validated
 * once with zod into a frozen {@link Settings} (STYLE.md §5). A new export layout needs only a settings
 * change: extra header aliases, scheme names and item names.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { detectorSettingsSchema, resolveDetectorSettings, type DetectorSettings } from './detector-settings.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Folder of the reference tables shipped with the product. */
export const SEEDS_DIR = path.resolve(here, '../../seeds');

export type PaymentField =
  | 'person_no' | 'name' | 'id_number' | 'sex' | 'scheme' | 'item' | 'period' | 'amount' | 'paid_on'
  | 'account' | 'bank' | 'agency' | 'batch';
export type DeathField = 'name' | 'id_number' | 'sex' | 'birth_date' | 'death_date' | 'cremation_date' | 'cancel_reason' | 'cancel_date';

export interface SchemeDef { code: string; name: string; aliases: string[] }
export interface ItemDef { code: string; name: string; aliases: string[]; payable_after_death: boolean }

/** The validated, frozen settings every step receives. */
export interface Settings {
  /** IANA zone of the business date (`--as-of` default, the schedule). Default `Asia/Shanghai`. */
  readonly timeZone: string;
  /**
   * Whether the month of death is payable (Chinese practice: true — overpayment starts the month after;
   * US practice: false). DOMAIN.md §4.
   */
  readonly deathMonthPayable: boolean;
  readonly headerAliases: {
    readonly payments: Readonly<Record<PaymentField, readonly string[]>>;
    readonly deaths: Readonly<Record<DeathField, readonly string[]>>;
  };
  readonly requiredFields: { readonly payments: readonly PaymentField[]; readonly deaths: readonly DeathField[] };
  readonly schemes: readonly SchemeDef[];
  readonly items: readonly ItemDef[];
  readonly districts: Readonly<Record<string, string>>;
  /** `fundguard schedule`: cron expression (in {@link timeZone}) and how many missed business dates to catch up on start. */
  readonly schedule: { readonly cron: string; readonly catchUpDays: number };
  /** Parameters of the detectors, defaults applied (src/config/detector-settings.ts; README "Detectors"). */
  readonly detectors: DetectorSettings;
  /** Where the settings came from, for the run record. */
  readonly sourceFile: string | null;
}

const aliasMap = z.record(z.string(), z.array(z.string().min(1)));
const userSchema = z
  .object({
    timeZone: z.string().refine(isTimeZone, { message: 'is not an IANA time zone such as "Asia/Shanghai"' }).optional(),
    deathMonthPayable: z.boolean().optional(),
    schedule: z
      .object({
        cron: z.string().refine((c) => c.trim().split(/\s+/).length === 5 || c.trim().split(/\s+/).length === 6, { message: 'is not a cron expression such as "0 2 * * *"' }).optional(),
        catchUpDays: z.number().int().min(0).max(366).optional(),
      })
      .strict()
      .optional(),
    headerAliases: z.object({ payments: aliasMap.optional(), deaths: aliasMap.optional() }).strict().optional(),
    schemes: z
      .array(z.object({ code: z.string().regex(/^\d{3}$/, 'a scheme code is 3 digits'), name: z.string().optional(), aliases: z.array(z.string()).default([]) }).strict())
      .optional(),
    items: z
      .array(
        z.object({ code: z.string().min(1), name: z.string().optional(), aliases: z.array(z.string()).default([]), payable_after_death: z.boolean().optional() }).strict(),
      )
      .optional(),
    detectors: detectorSettingsSchema.optional(),
  })
  .strict();

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Error thrown for an unreadable or invalid settings file; the message names the file and the fix. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

/**
 * Loads the seeds and merges the settings file into frozen settings.
 * @param file explicit settings file (`--settings`); when undefined, `fundguard.settings.json` in `cwd` is used if present
 * @throws SettingsError with `file: path: message` lines when the file is missing (explicit), not JSON, or invalid
 */
export function loadSettings(file?: string, cwd = process.cwd()): Settings {
  const seedsAliases = readJson(path.join(SEEDS_DIR, 'header-aliases.json')) as {
    payments: Record<PaymentField, string[]>;
    deaths: Record<DeathField, string[]>;
    required: { payments: PaymentField[]; deaths: DeathField[] };
  };
  const schemes = (readJson(path.join(SEEDS_DIR, 'schemes.json')) as { schemes: SchemeDef[] }).schemes.map((s) => ({ ...s, aliases: [...s.aliases] }));
  const items = (readJson(path.join(SEEDS_DIR, 'items.json')) as { items: ItemDef[] }).items.map((i) => ({ ...i, aliases: [...i.aliases] }));
  const districts = Object.fromEntries(
    (readJson(path.join(SEEDS_DIR, 'districts.json')) as { districts: { code: string; name: string }[] }).districts.map((d) => [d.code, d.name]),
  );
  const payments = structuredClone(seedsAliases.payments);
  const deaths = structuredClone(seedsAliases.deaths);

  let chosen: string | null = null;
  if (file !== undefined) chosen = path.resolve(cwd, file);
  else if (fs.existsSync(path.join(cwd, 'fundguard.settings.json'))) chosen = path.join(cwd, 'fundguard.settings.json');

  let user: z.infer<typeof userSchema> = {};
  if (chosen) {
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(chosen, 'utf8'));
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `not valid JSON (${(e as Error).message})`;
      throw new SettingsError(`settings ${chosen}: ${why}`);
    }
    const parsed = userSchema.safeParse(json);
    if (!parsed.success) {
      const lines = parsed.error.issues.map((i) => `settings ${chosen}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
      throw new SettingsError(lines.join('\n'));
    }
    user = parsed.data;
    for (const [kind, target] of [['payments', payments], ['deaths', deaths]] as const) {
      const extra = user.headerAliases?.[kind] ?? {};
      for (const [field, names] of Object.entries(extra)) {
        if (!(field in target)) {
          throw new SettingsError(`settings ${chosen}: headerAliases.${kind}.${field}: unknown field; known: ${Object.keys(target).join(', ')}`);
        }
        (target as Record<string, string[]>)[field]!.push(...names);
      }
    }
    for (const s of user.schemes ?? []) {
      const known = schemes.find((k) => k.code === s.code);
      if (known) known.aliases.push(...s.aliases, ...(s.name ? [s.name] : []));
      else schemes.push({ code: s.code, name: s.name ?? s.code, aliases: s.aliases });
    }
    for (const it of user.items ?? []) {
      const known = items.find((k) => k.code === it.code);
      if (known) {
        known.aliases.push(...it.aliases, ...(it.name ? [it.name] : []));
        if (it.payable_after_death !== undefined) known.payable_after_death = it.payable_after_death;
      } else items.push({ code: it.code, name: it.name ?? it.code, aliases: it.aliases, payable_after_death: it.payable_after_death ?? false });
    }
  }
  return deepFreeze({
    timeZone: user.timeZone ?? 'Asia/Shanghai',
    deathMonthPayable: user.deathMonthPayable ?? true,
    headerAliases: { payments, deaths },
    requiredFields: seedsAliases.required,
    schemes,
    items,
    districts,
    schedule: { cron: user.schedule?.cron ?? '0 2 * * *', catchUpDays: user.schedule?.catchUpDays ?? 7 },
    detectors: resolveDetectorSettings(user.detectors),
    sourceFile: chosen,
  });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
