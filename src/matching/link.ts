/**
 * The link stage (record linkage, ARCHITECTURE.md floor 3): death records ↔ benefit recipients (a recipient
 * is a normalised resident ID as the payments carry it), each link with the comparisons that decided it,
 * and per recipient one verdict: a confidence tier, the corroborated date of death, and evidence.
 *
 * Blocking — candidate pairs come only from these keys, never from all pairs (DOMAIN.md §3):
 * 1. the ID itself (payments whose ID is a death record's ID: one SQL join);
 * 2. one-edit repairs: for every ID failing its check character (either side), the valid IDs one
 *    substitution or adjacent transposition away ({@link validNeighbours}), looked up on the other side;
 * 3. area code + birth date (the ID's first 14 characters), for a still-unexplained invalid ID;
 * 4. birth date, then the name (phonetically at least, pinyin), for an ID damaged beyond that; and the
 *    ID's last 4 characters (sequence + check) with the name, for two typos in the area code or birth date.
 * An invalid ID is explained (and kept out of blocks 3 and 4) once it links with an agreeing name, or when
 * a valid ID one edit away on its own side (another death record, another recipient) has an agreeing
 * name: it is that person's.
 * Blocks 3 and 4 only ever give `review`. Two different VALID IDs are never linked (namesakes).
 *
 * Tiers (the `confidence` of a case; DOMAIN.md §4 "never stop a payment on a match alone"):
 * - `confirmed`: valid IDs equal, the name agrees exactly or up to a placeholder wildcard, a script or a
 *   middle-dot variant, and nothing contradicts (sex, birth date, another source's name, the month of death);
 * - `probable`: valid IDs equal but the names agree only phonetically; or an ID repaired by one edit with
 *   name, birth date and sex agreeing (or the repair corroborated by two sources);
 * - `review`: valid IDs equal but the name, sex or birth date disagree (the death record may carry someone
 *   else's ID), the sources disagree on the month of death, a repair fits several recipients, or only a
 *   block (3, 4) links them.
 */
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { birthDateFromId, validNeighbours } from '../identity/resident-id.ts';
import { compareBirthAndSex, compareIds, idDistance, ID_METHOD_RANK, isExactValid, isIdRepairOrBetter, type FieldAgreement, type FieldComparison, type IdMethod } from './compare.ts';
import { corroborate, SOURCE_AUTHORITY, type Corroboration, type DeathSourceReport } from './death-facts.ts';
import { bestNameAgreement, isStrongNameAgreement, NAME_LEVEL_RANK, type NameAgreement } from './names.ts';
import type { IdEdit } from '../identity/resident-id.ts';

/** Confidence tier of a link (the `confidence` of a case). */
export type Tier = 'confirmed' | 'probable' | 'review';

/** A comparison that decided a link (same shape as a finding's `Comparison`). */
export interface LinkComparison {
  field: string;
  level: string;
  values: string[];
  sources?: string[];
}

/** A death record as the link stage reads it (`is_death = 1`, with a date of death). */
export interface DeathRecordForLink {
  id: number;
  file_id: number;
  line: number;
  source: string;
  /** Normalised 18-character ID. */
  id_number: string;
  id_raw: string;
  id_valid: boolean;
  name: string | null;
  /** `M` | `F` | null */
  sex: string | null;
  birth_date: string | null;
  death_date: string;
}

/** A benefit recipient as the payments know them: one normalised ID, with every name and sex written. */
export interface RecipientForLink {
  id_number: string;
  id_valid: boolean;
  names: string[];
  sexes: string[];
  /** ID texts as found (to tell a legacy 15-digit form). */
  raws: string[];
}

/** One death record linked to one recipient, with its comparisons. */
export interface PersonLink {
  recipient: string;
  record: DeathRecordForLink;
  method: IdMethod;
  edit: IdEdit | null;
  /** Which side fails its check character. */
  invalid: 'death' | 'recipient' | 'both' | 'none';
  name: NameAgreement | 'missing';
  birth: FieldComparison;
  sex: FieldComparison;
  /** True when this (non-exact) record fits more than one recipient equally. */
  ambiguous: boolean;
  /**
   * True when the recipient ID is a miswritten form (one edit, same name) of another recipient's valid ID
   * and the link was carried over from that ID's link (`method` is then at most a one-edit repair).
   */
  alias?: boolean;
}

/** The verdict on one recipient: tier, corroborated death, evidence. */
export interface RecipientDeath {
  /** The recipient's normalised ID (payment side): the case key. */
  idNumber: string;
  confidence: Tier;
  death: {
    date: string;
    month: string;
    source: string;
    /** Every report used, most authoritative first. */
    reports: (DeathSourceReport & { method: IdMethod })[];
    months: string[];
    monthDisagreement: boolean;
  };
  /** The strongest ID method among the links used. */
  idMethod: IdMethod;
  nameLevel: NameAgreement | 'missing';
  /** The comparisons that decided the tier. */
  comparisons: LinkComparison[];
  /** Each link used (source, file, line, method, the edit as `kind@position` counted from 1, levels). */
  links: {
    source: string; file_id: number; line: number; method: IdMethod; edit: string | null; invalid: string;
    name: string; birth: FieldAgreement; sex: FieldAgreement; ambiguous: boolean; alias: boolean;
  }[];
  /** Why the tier is not `confirmed` (empty when it is). */
  reasons: string[];
  /** The matching part of the "why this case" line, without IDs. */
  why: string;
}

/** Counts of the link stage, for the run record and the eval. */
export interface LinkStats {
  deathRecords: number;
  invalidDeathIds: number;
  invalidRecipientIds: number;
  candidatePairs: number;
  links: number;
  recipients: number;
  byMethod: Partial<Record<IdMethod, number>>;
  byTier: Partial<Record<Tier, number>>;
}

const CHUNK = 400;

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function chunks<T>(xs: readonly T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

interface PaymentPersonRow {
  id_number: string;
  id_valid: number | bigint;
  name: string;
  sex: string | null;
  id_raw: string;
}

/**
 * A stored payment row as block 1 of the link stage reads it ({@link linkDeaths}, {@link relinkDeaths}): the
 * person columns the link stage compares and the columns a deceased_payment finding counts
 * (src/detectors/deceased-payment.ts), so that the detector does not read the same rows again. `id` and
 * `amount_fen` as the driver gives them (numbers, or bigint/string on PostgreSQL); `amount_fen` in fen,
 * `period` `YYYY-MM`.
 */
export interface LinkedPaymentRow extends PaymentPersonRow {
  id: number | bigint | string;
  scheme: string;
  item: string;
  period: string;
  amount_fen: number | bigint | string;
  paid_on: string | null;
  district_code: string | null;
}

/**
 * The payment rows block 1 of the link stage read, kept for deceased_payment (src/detectors/deceased-payment.ts)
 * so that it does not read them again: `rows` by ID, in (period, id) order, every row of an ID in `read` with
 * `period >= from(id)` (`YYYY-MM`; '' keeps every row).
 */
export interface KeptPayments {
  rows: Map<string, LinkedPaymentRow[]>;
  read: Set<string>;
  /** '' (every row) by default; {@link linkDeaths} sets it to each ID's earliest month of death in its records. */
  from: (idNumber: string) => string;
}

/** Empty {@link KeptPayments} keeping the rows from `from(id)` on (default: every row). */
export function keptPayments(from: (idNumber: string) => string = () => ''): KeptPayments {
  return { rows: new Map(), read: new Set(), from };
}

function addRecipientRows(into: Map<string, RecipientForLink>, rows: readonly PaymentPersonRow[]): void {
  for (const r of rows) {
    let p = into.get(r.id_number);
    if (!p) {
      p = { id_number: r.id_number, id_valid: Number(r.id_valid) === 1, names: [], sexes: [], raws: [] };
      into.set(r.id_number, p);
    }
    if (!p.names.includes(r.name)) p.names.push(r.name);
    if (r.sex && !p.sexes.includes(r.sex)) p.sexes.push(r.sex);
    if (!p.raws.includes(r.id_raw)) p.raws.push(r.id_raw);
  }
}

const personColumns = ['id_number', 'id_valid', 'name', 'sex', 'id_raw'] as const;

/** Reads the death records that report a death, with a date, ordered by id. */
export async function readDeathRecords(db: Kysely<DB>): Promise<DeathRecordForLink[]> {
  const q = db
    .selectFrom('death_record')
    .select(['id', 'file_id', 'line', 'source', 'id_number', 'id_raw', 'id_valid', 'name', 'sex', 'birth_date', 'death_date'])
    .where('is_death', '=', 1)
    .where('death_date', 'is not', null);
  return (await q.orderBy('id').execute()).map(recordForLink);
}

function recordForLink(r: Omit<DB['death_record'], 'id' | 'cremation_date' | 'cancel_date' | 'cancel_reason' | 'is_death'> & { id: number | bigint | string }): DeathRecordForLink {
  return {
    id: Number(r.id), file_id: Number(r.file_id), line: r.line, source: r.source, id_number: r.id_number, id_raw: r.id_raw,
    id_valid: Number(r.id_valid) === 1, name: r.name, sex: r.sex, birth_date: r.birth_date, death_date: r.death_date!,
  };
}

/**
 * Finds candidate recipients for the death records through the blocking keys (module doc) and links them.
 * Reads the store through the query builder only (dialect-agnostic: `substr` exists in SQLite and
 * PostgreSQL).
 * @param exactIds the IDs block 1 reads payments for; default every death record's ID (`is_death = 1`).
 *   {@link relinkDeaths} passes those of the records it relinks.
 * @param keep filled with the payment rows block 1 read ({@link KeptPayments})
 * @returns every link (exact-ID links whatever the names; other links only when the names agree), with
 *   ambiguity marked
 */
export async function findLinks(
  db: Kysely<DB>,
  records: readonly DeathRecordForLink[],
  exactIds?: readonly string[],
  keep?: KeptPayments,
): Promise<{ links: PersonLink[]; recipients: Map<string, RecipientForLink>; stats: Pick<LinkStats, 'invalidDeathIds' | 'invalidRecipientIds' | 'candidatePairs'> }> {
  const recipients = new Map<string, RecipientForLink>();
  const recordsById = new Map<string, DeathRecordForLink[]>();
  for (const r of records) {
    const g = recordsById.get(r.id_number);
    if (g) g.push(r);
    else recordsById.set(r.id_number, [r]);
  }
  const pairs = new Map<string, PersonLink>();
  let candidatePairs = 0;
  const consider = (rec: DeathRecordForLink, person: RecipientForLink, forced?: 'name_birth' | 'tail_name'): void => {
    candidatePairs++;
    const cmp = compareIds({ id: rec.id_number, valid: rec.id_valid, raws: [rec.id_raw] }, { id: person.id_number, valid: person.id_valid, raws: person.raws });
    if (!cmp && !forced) return;
    if (!cmp && rec.id_valid && person.id_valid) return; // different valid IDs: namesakes, never linked
    if (!cmp && forced === 'tail_name' && idDistance(rec.id_number, person.id_number) > 2) return;
    const method: IdMethod = cmp ? cmp.method : forced!;
    const edit = cmp ? cmp.edit : null;
    const invalid = cmp ? cmp.invalid : rec.id_valid ? 'recipient' : person.id_valid ? 'death' : 'both';
    const name: NameAgreement | 'missing' = rec.name ? bestNameAgreement(person.names, [rec.name]) : 'missing';
    // Without an equal ID, only an agreeing name makes a candidate a link.
    if (!isExactValid(method) && method !== 'exact_unchecked' && (name === 'none' || name === 'missing')) return;
    const { birth, sex } = compareBirthAndSex({
      death: { id: rec.id_number, valid: rec.id_valid, source: rec.source, birth_date: rec.birth_date, sex: rec.sex },
      recipient: { id: person.id_number, valid: person.id_valid, sexes: person.sexes },
      edit,
    });
    if (method === 'name_birth' && birth.level === 'disagree') return;
    const key = `${person.id_number}|${rec.id}`;
    const prev = pairs.get(key);
    if (prev && ID_METHOD_RANK[prev.method] >= ID_METHOD_RANK[method]) return;
    pairs.set(key, { recipient: person.id_number, record: rec, method, edit, invalid, name, birth, sex, ambiguous: false });
    if (name !== 'none' && name !== 'missing') {
      explainedRecords.add(rec.id);
      explainedPersons.add(person.id_number);
    }
  };
  // A record (a person) is explained once a link with an agreeing name exists: later blocks skip it.
  const explainedRecords = new Set<number>();
  const explainedPersons = new Set<string>();
  const explained = (rec: DeathRecordForLink): boolean => explainedRecords.has(rec.id);
  const personExplained = (id: string): boolean => explainedPersons.has(id);

  // 1. The ID itself (every death record's ID, or the given ones: the same rows, read by ID in chunks).
  // Read by ID in chunks, every row (not the distinct person columns: `keep` callers count them too), ordered
  // as SQLite's skip-scan meets them (by period, then the rest of the natural key): the names, sexes and raw
  // IDs come in the same order on every path, so equal data gives equal verdicts and fingerprints.
  const ids = exactIds ?? (await db.selectFrom('death_record').select('id_number').distinct().where('is_death', '=', 1).execute()).map((r) => r.id_number);
  for (const c of chunks([...new Set(ids)].sort())) {
    const rows = await db
      .selectFrom('payment')
      .select([...personColumns, 'id', 'scheme', 'item', 'period', 'amount_fen', 'paid_on', 'district_code'])
      .where('id_number', 'in', c)
      .orderBy('id_number').orderBy('period').orderBy('scheme').orderBy('item').orderBy('batch')
      .execute();
    addRecipientRows(recipients, rows);
    if (!keep) continue;
    for (const id of c) keep.read.add(id);
    for (const r of rows) {
      if (r.period < keep.from(r.id_number)) continue;
      const g = keep.rows.get(r.id_number);
      if (g) g.push(r);
      else keep.rows.set(r.id_number, [r]);
    }
  }
  if (keep) for (const g of keep.rows.values()) g.sort((a, b) => cmpStr(a.period, b.period) || Number(a.id) - Number(b.id));
  for (const p of recipients.values()) for (const rec of recordsById.get(p.id_number) ?? []) consider(rec, p);

  // 2a. Death records whose ID fails its check character: valid one-edit neighbours among the payments.
  const invalidDeathIds = [...new Set(records.filter((r) => !r.id_valid).map((r) => r.id_number))];
  const neighbourOf = new Map<string, string[]>();
  for (const id of invalidDeathIds) {
    for (const n of validNeighbours(id)) {
      const g = neighbourOf.get(n.id);
      if (g) g.push(id);
      else neighbourOf.set(n.id, [id]);
    }
  }
  const byId = async (ids: readonly string[]): Promise<Map<string, RecipientForLink>> => {
    const found = new Map<string, RecipientForLink>();
    for (const c of chunks(ids)) addRecipientRows(found, await db.selectFrom('payment').select(personColumns).where('id_number', 'in', c).execute());
    return found;
  };
  const repaired = await byId([...neighbourOf.keys()]);
  for (const p of repaired.values()) {
    const merged = mergeRecipient(recipients.get(p.id_number), p);
    recipients.set(p.id_number, merged);
    for (const damaged of neighbourOf.get(p.id_number) ?? []) for (const rec of recordsById.get(damaged) ?? []) consider(rec, merged);
  }

  // 2b. Recipients whose ID fails its check character: valid one-edit neighbours among the death records.
  const invalidPersons = new Map<string, RecipientForLink>();
  // `id_valid = 0` as a literal: it is the predicate of the partial index `payment_invalid_id` (migration
  // 0007), so both engines read the few invalid IDs through it instead of scanning every payment.
  addRecipientRows(invalidPersons, await db.selectFrom('payment').select(personColumns).where('id_valid', '=', sql.lit(0)).execute());
  for (const p of invalidPersons.values()) {
    const merged = mergeRecipient(recipients.get(p.id_number), p);
    recipients.set(p.id_number, merged);
    for (const n of validNeighbours(p.id_number)) for (const rec of recordsById.get(n.id) ?? []) consider(rec, merged);
  }

  // A damaged ID one edit from another death record (or another recipient) with an agreeing name belongs to
  // that person: it is explained, and must not reach the weaker blocks below (where namesakes live).
  for (const r of records) {
    if (r.id_valid || !r.name || explainedRecords.has(r.id)) continue;
    for (const n of validNeighbours(r.id_number)) {
      if ((recordsById.get(n.id) ?? []).some((o) => o.name && bestNameAgreement([o.name], [r.name!]) !== 'none')) {
        explainedRecords.add(r.id);
        break;
      }
    }
  }
  const invalidNeighbour = new Map<string, string[]>();
  for (const p of invalidPersons.values()) {
    for (const n of validNeighbours(p.id_number)) {
      const g = invalidNeighbour.get(n.id);
      if (g) g.push(p.id_number);
      else invalidNeighbour.set(n.id, [p.id_number]);
    }
  }
  // A damaged payment ID whose one valid neighbour among the recipients has an agreeing name is that
  // recipient's ID written wrongly: an alias (same person, own case key).
  const aliasCandidates = new Map<string, string[]>();
  for (const q of (await byId([...invalidNeighbour.keys()])).values()) {
    for (const damaged of invalidNeighbour.get(q.id_number) ?? []) {
      if (bestNameAgreement(q.names, invalidPersons.get(damaged)!.names) === 'none') continue;
      explainedPersons.add(damaged);
      const g = aliasCandidates.get(damaged);
      if (g) g.push(q.id_number);
      else aliasCandidates.set(damaged, [q.id_number]);
    }
  }
  const alias = new Map<string, string>();
  for (const [damaged, valids] of aliasCandidates) if (valids.length === 1) alias.set(damaged, valids[0]!);

  // 3. Area code + birth date (first 14 characters) for what is still unexplained.
  const byPrefix = new Map<string, DeathRecordForLink[]>();
  for (const r of records) {
    const k = r.id_number.slice(0, 14);
    const g = byPrefix.get(k);
    if (g) g.push(r);
    else byPrefix.set(k, [r]);
  }
  const unexplainedInvalid = records.filter((r) => !r.id_valid && !explained(r));
  const prefixes = [...new Set(unexplainedInvalid.map((r) => r.id_number.slice(0, 14)))];
  for (const pfx of prefixes) {
    const found = new Map<string, RecipientForLink>();
    addRecipientRows(
      found,
      await db.selectFrom('payment').select(personColumns).where('id_number', '>=', `${pfx}0000`).where('id_number', '<=', `${pfx}999X`).execute(),
    );
    for (const p of found.values()) {
      const merged = mergeRecipient(recipients.get(p.id_number), p);
      recipients.set(p.id_number, merged);
      for (const rec of byPrefix.get(pfx) ?? []) if (!rec.id_valid) consider(rec, merged);
    }
  }
  for (const p of invalidPersons.values()) {
    if (personExplained(p.id_number)) continue;
    for (const rec of byPrefix.get(p.id_number.slice(0, 14)) ?? []) consider(rec, recipients.get(p.id_number)!);
  }

  // 4. Birth date (then the name, at least phonetically), and the last 4 characters (then the name):
  //    IDs damaged beyond one edit. One scan of the payments for both keys.
  const birthOf = (r: DeathRecordForLink): string | null => r.birth_date ?? birthDateFromId(r.id_number);
  const tailOf = (id: string): string => id.slice(14);
  const push = <K, V>(m: Map<K, V[]>, k: K, v: V): void => {
    const g = m.get(k);
    if (g) g.push(v);
    else m.set(k, [v]);
  };
  const stillInvalid = records.filter((r) => !r.id_valid && !explained(r));
  const births = [...new Set(stillInvalid.map(birthOf).filter((b): b is string => b !== null).map((b) => b.replace(/-/g, '')))];
  const tails = [...new Set(stillInvalid.map((r) => tailOf(r.id_number)))];
  const found = new Map<string, RecipientForLink>();
  const birthChunks = chunks(births, 5000);
  const tailChunks = chunks(tails, 5000);
  for (let i = 0; i < Math.max(birthChunks.length, tailChunks.length); i++) {
    const b = birthChunks[i];
    const t = tailChunks[i];
    addRecipientRows(
      found,
      await db
        .selectFrom('payment')
        .select(personColumns)
        .where((eb) => eb.or([
          ...(b ? [eb(sql<string>`substr(${sql.ref('id_number')}, 7, 8)`, 'in', b)] : []),
          ...(t ? [eb(sql<string>`substr(${sql.ref('id_number')}, 15, 4)`, 'in', t)] : []),
        ]))
        .execute(),
    );
  }
  const byBirth = new Map<string, RecipientForLink[]>();
  const byTail = new Map<string, RecipientForLink[]>();
  for (const p of found.values()) {
    const merged = mergeRecipient(recipients.get(p.id_number), p);
    recipients.set(p.id_number, merged);
    const b = birthDateFromId(p.id_number);
    if (b) push(byBirth, b, merged);
    push(byTail, tailOf(p.id_number), merged);
  }
  for (const rec of stillInvalid) {
    for (const p of byTail.get(tailOf(rec.id_number)) ?? []) consider(rec, p, 'tail_name');
    const b = birthOf(rec);
    if (b) for (const p of byBirth.get(b) ?? []) consider(rec, p, 'name_birth');
  }
  const recordsByBirth = new Map<string, DeathRecordForLink[]>();
  const recordsByTail = new Map<string, DeathRecordForLink[]>();
  for (const r of records) {
    const b = birthOf(r);
    if (b) push(recordsByBirth, b, r);
    push(recordsByTail, tailOf(r.id_number), r);
  }
  for (const p of invalidPersons.values()) {
    if (personExplained(p.id_number)) continue;
    const person = recipients.get(p.id_number)!;
    for (const rec of recordsByTail.get(tailOf(p.id_number)) ?? []) consider(rec, person, 'tail_name');
    const b = birthDateFromId(p.id_number);
    if (b) for (const rec of recordsByBirth.get(b) ?? []) consider(rec, person, 'name_birth');
  }

  // 5. A miswritten payment-side ID (alias) shares the links of the valid ID it stands for, at most as a
  //    one-edit repair: the payments made under it are that person's too.
  const linksOf = new Map<string, PersonLink[]>();
  for (const l of pairs.values()) push(linksOf, l.recipient, l);
  for (const [damaged, valid] of alias) {
    const person = recipients.get(damaged)!;
    for (const l of linksOf.get(valid) ?? []) {
      if (l.name === 'none' || l.name === 'missing') continue;
      const method: IdMethod = ID_METHOD_RANK[l.method] > ID_METHOD_RANK.substitution ? 'substitution' : l.method;
      const key = `${damaged}|${l.record.id}`;
      const prev = pairs.get(key);
      if (prev && ID_METHOD_RANK[prev.method] >= ID_METHOD_RANK[method]) continue;
      const name = l.record.name ? bestNameAgreement(person.names, [l.record.name]) : 'missing';
      if (name === 'none' || name === 'missing') continue;
      pairs.set(key, { ...l, recipient: damaged, method, name, invalid: l.record.id_valid ? 'recipient' : 'both', alias: true });
    }
  }

  return { links: resolveAmbiguity([...pairs.values()], alias), recipients, stats: { invalidDeathIds: invalidDeathIds.length, invalidRecipientIds: invalidPersons.size, candidatePairs } };
}

function mergeRecipient(a: RecipientForLink | undefined, b: RecipientForLink): RecipientForLink {
  if (!a) return b;
  for (const n of b.names) if (!a.names.includes(n)) a.names.push(n);
  for (const s of b.sexes) if (!a.sexes.includes(s)) a.sexes.push(s);
  for (const r of b.raws) if (!a.raws.includes(r)) a.raws.push(r);
  return a;
}

/**
 * Per death record: when an equal-ID link with an agreeing name explains it, its weaker links to other
 * persons are dropped; otherwise only its strongest non-exact links are kept, and marked ambiguous when they
 * reach more than one person (a damaged ID that fits several people decides nothing). Recipient IDs are
 * grouped into persons by `alias` (a damaged payment-side ID → the valid recipient ID it is a miswriting
 * of): links to a person's aliases are that person's. Pure.
 */
export function resolveAmbiguity(links: readonly PersonLink[], alias: ReadonlyMap<string, string> = new Map()): PersonLink[] {
  const person = (l: PersonLink): string => alias.get(l.recipient) ?? l.recipient;
  const byRecord = new Map<number, PersonLink[]>();
  for (const l of links) {
    const g = byRecord.get(l.record.id);
    if (g) g.push(l);
    else byRecord.set(l.record.id, [l]);
  }
  const out: PersonLink[] = [];
  for (const group of byRecord.values()) {
    const exact = group.filter((l) => isExactValid(l.method) || l.method === 'exact_unchecked');
    const weak = group.filter((l) => !isExactValid(l.method) && l.method !== 'exact_unchecked');
    out.push(...exact);
    const explainedBy = new Set(exact.filter((l) => l.name !== 'none' && l.name !== 'missing').map(person));
    if (explainedBy.size > 0) {
      out.push(...weak.filter((l) => explainedBy.has(person(l))));
      continue;
    }
    if (weak.length === 0) continue;
    const strength = (l: PersonLink): number => ID_METHOD_RANK[l.method] * 10 + NAME_LEVEL_RANK[l.name as NameAgreement];
    const bestRank = Math.max(...weak.map(strength));
    const top = new Set(weak.filter((l) => strength(l) === bestRank).map(person));
    for (const l of weak) if (top.has(person(l))) out.push({ ...l, ambiguous: top.size > 1 });
  }
  return out.sort((a, b) => (a.recipient < b.recipient ? -1 : a.recipient > b.recipient ? 1 : a.record.id - b.record.id));
}

const METHOD_PHRASE: Record<IdMethod, string> = {
  exact: 'ID exact',
  legacy: 'ID exact (legacy 15-digit form upgraded)',
  exact_unchecked: 'ID equal but failing its check character',
  substitution: 'ID repaired (one character differs)',
  transposition: 'ID repaired (two adjacent characters swapped)',
  area_birth: 'ID damaged (same area and birth date only)',
  tail_name: 'ID damaged (two characters differ; same sequence and name)',
  name_birth: 'ID damaged (same birth date and name only)',
};

const NAME_PHRASE: Record<NameAgreement | 'missing', string> = {
  exact: 'exact',
  middle_dot: 'middle-dot variant',
  script: 'traditional/simplified variant',
  wildcard: 'equal up to a rare-character placeholder',
  homophone: 'homophone',
  none: 'differs',
  missing: 'not given',
};

function aggregateField(ls: readonly PersonLink[], f: 'birth' | 'sex'): { level: FieldAgreement; values: string[] } {
  const values = [...new Set(ls.flatMap((l) => l[f].values))];
  const levels = ls.map((l) => l[f].level);
  return { level: levels.includes('disagree') ? 'disagree' : levels.includes('agree') ? 'agree' : 'missing', values };
}

const uniq = <T,>(xs: readonly T[]): T[] => [...new Set(xs)];
const bySourceAuthority = (xs: string[]): string[] =>
  xs.sort((a, b) => (SOURCE_AUTHORITY[a] ?? 10) - (SOURCE_AUTHORITY[b] ?? 10) || (a < b ? -1 : a > b ? 1 : 0));

/**
 * Decides one recipient's tier from their links (module doc) and assembles the evidence. Pure.
 * @param links every link of this recipient (as {@link findLinks} returns them), at least one
 * @throws RangeError when `links` is empty
 */
export function assessRecipient(recipient: RecipientForLink, links: readonly PersonLink[]): RecipientDeath {
  if (links.length === 0) throw new RangeError('assessRecipient needs at least one link');
  const exactValid = links.filter((l) => isExactValid(l.method));
  const repairs = links.filter((l) => !isExactValid(l.method) && isIdRepairOrBetter(l.method) && !l.ambiguous);
  // The links whose reports make the death facts: the equal and repaired IDs when there are any.
  const used = exactValid.length + repairs.length > 0 ? [...exactValid, ...repairs] : [...links];
  const reports = used.map((l) => ({
    source: l.record.source, death_date: l.record.death_date, name: l.record.name, sex: l.record.sex, birth_date: l.record.birth_date,
    file_id: l.record.file_id, line: l.record.line, method: l.method,
  }));
  const c: Corroboration = corroborate(reports);
  const ranked = c.ranked as (DeathSourceReport & { method: IdMethod })[];

  const reasons: string[] = [];
  // Reasons name fields and sources only: the values (birth dates are part of the ID) stay in the
  // comparisons, which only investigators see in full (DOMAIN.md §6).
  for (const l of used) {
    if (l.name === 'none') reasons.push(`name in the ${l.record.source} record differs from the payments'`);
    if (l.birth.level === 'disagree') reasons.push(disagreementReason('birth date', l.birth.values));
    if (l.sex.level === 'disagree') reasons.push(disagreementReason('sex', l.sex.values));
  }
  if (c.month_disagreement) reasons.push(`sources disagree on the month of death (${c.months.join(', ')})`);
  const contradicted = reasons.length > 0;

  const nameLinks = used.filter((l) => l.name !== 'none' && l.name !== 'missing');
  let nameLevel: NameAgreement | 'missing' = used.every((l) => l.name === 'missing') ? 'missing' : 'none';
  for (const l of nameLinks) if (nameLevel === 'missing' || NAME_LEVEL_RANK[l.name as NameAgreement] > NAME_LEVEL_RANK[nameLevel as NameAgreement]) nameLevel = l.name;

  let tier: Tier = 'review';
  if (exactValid.length > 0) {
    if (!contradicted && isStrongNameAgreement(nameLevel)) tier = 'confirmed';
    else if (!contradicted && nameLevel === 'homophone') {
      tier = 'probable';
      reasons.push('the names agree only phonetically');
    } else if (!contradicted) reasons.push('no name in the death record to compare');
  } else if (repairs.length > 0) {
    const qualifying = repairs.filter((l) =>
      isStrongNameAgreement(l.name) && (l.method === 'exact_unchecked' ? l.birth.level !== 'disagree' && l.sex.level !== 'disagree' : l.birth.level === 'agree' && l.sex.level === 'agree'));
    const sources = uniq(repairs.filter((l) => isStrongNameAgreement(l.name)).map((l) => l.record.source));
    if (!contradicted && (qualifying.length > 0 || sources.length >= 2)) tier = 'probable';
    else if (!contradicted) reasons.push('ID repaired, but the name, birth date and sex do not all agree');
    if (tier === 'probable') reasons.push(repairs.some((l) => l.method === 'exact_unchecked') ? 'the ID fails its check character on both sides' : 'the ID was repaired by one edit');
    if (repairs.some((l) => l.alias)) reasons.push("the payments carry a miswritten form of the recipient's ID");
  } else {
    if (links.some((l) => l.ambiguous)) reasons.push('the damaged ID fits more than one recipient');
    reasons.push('linked on a damaged ID by name and part of the ID only');
  }

  const idMethod = used.reduce<IdMethod>((m, l) => (ID_METHOD_RANK[l.method] > ID_METHOD_RANK[m] ? l.method : m), used[0]!.method);
  const birth = aggregateField(used, 'birth');
  const sex = aggregateField(used, 'sex');
  const comparisons: LinkComparison[] = [
    {
      field: 'id_number',
      level: idMethod,
      values: uniq([recipient.id_number, ...used.map((l) => l.record.id_number)]),
      sources: uniq(['payments', ...used.map((l) => l.record.source)]),
    },
    {
      field: 'name',
      level: nameLevel,
      values: uniq([...recipient.names, ...used.map((l) => l.record.name).filter((n): n is string => !!n)]),
      sources: bySourceAuthority(uniq(nameLinks.map((l) => l.record.source))),
    },
    { field: 'birth_date', level: birth.level, values: birth.values },
    { field: 'sex', level: sex.level, values: sex.values },
    { field: 'death_date', level: c.month_disagreement ? 'disagree' : ranked.length > 1 ? 'agree' : 'single', values: ranked.map((r) => `${r.source}:${r.death_date}`), sources: uniq(ranked.map((r) => r.source)) },
  ];

  // Name sources grouped by level, strongest first: "exact (health), homophone (public-security)".
  const levels = uniq(nameLinks.map((l) => l.name as NameAgreement)).sort((a, b) => NAME_LEVEL_RANK[b] - NAME_LEVEL_RANK[a]);
  const namePhrase = levels.length
    ? levels.map((lv) => `${NAME_PHRASE[lv]} (${bySourceAuthority(uniq(nameLinks.filter((l) => l.name === lv).map((l) => l.record.source))).join(', ')})`).join(', ')
    : NAME_PHRASE[nameLevel];
  const others: string[] = [];
  for (const r of ranked.slice(1)) {
    if (r.source === c.source && r.death_date === c.death_date) continue;
    const text = r.death_date === c.death_date ? `${r.source} agrees` : r.death_date.slice(0, 7) === c.death_month ? `${r.source} says ${r.death_date}` : `${r.source} says ${r.death_date}, another month`;
    if (!others.includes(text)) others.push(text);
  }
  const why =
    `${METHOD_PHRASE[idMethod]}; name ${namePhrase}; ` +
    `died ${c.death_date} (${[c.source, ...others].join('; ')})`;

  return {
    idNumber: recipient.id_number,
    confidence: tier,
    death: { date: c.death_date, month: c.death_month, source: c.source, reports: ranked, months: c.months, monthDisagreement: c.month_disagreement },
    idMethod,
    nameLevel,
    comparisons,
    links: used.map((l) => ({
      source: l.record.source, file_id: l.record.file_id, line: l.record.line, method: l.method,
      edit: l.edit && l.edit.kind !== 'equal' ? `${l.edit.kind}@${l.edit.position + 1}` : null, invalid: l.invalid,
      name: l.name, birth: l.birth.level, sex: l.sex.level, ambiguous: l.ambiguous, alias: l.alias === true,
    })),
    reasons: uniq(reasons),
    why,
  };
}

/**
 * The reason line of a field that disagrees across a link, naming the sources on each side and no value
 * (values stay in the comparisons, DOMAIN.md §6): "sex in the payments ID differs from the payments",
 * "birth date in the civil-affairs record differs from the payments ID". `values` are a
 * {@link FieldComparison}'s `source:value` strings (sources: a death record source such as `health`, that
 * source's ID as `health ID`, `payments ID`, `payments`); sources with the same value are named together, in
 * the order given. Before, the line always blamed the death record, also when the clash was between the
 * payments' own ID and sex field (fresh-user trial, issue 10).
 */
export function disagreementReason(field: string, values: readonly string[]): string {
  const label = (source: string): string =>
    source === 'payments' || source === 'payments ID' ? source : source.endsWith(' ID') ? `${source.slice(0, -3)} record's ID` : `${source} record`;
  const groups = new Map<string, string[]>();
  for (const v of values) {
    const at = v.indexOf(':');
    const [source, value] = [v.slice(0, at), v.slice(at + 1)];
    const g = groups.get(value);
    if (g) {
      if (!g.includes(label(source))) g.push(label(source));
    } else groups.set(value, [label(source)]);
  }
  const sides = [...groups.values()].map((g) => `the ${g.join(' and ')}`);
  if (sides.length === 2) return `${field} in ${sides[0]} differs from ${sides[1]}`;
  return `${field} differs between ${sides.slice(0, -1).join(', ')} and ${sides.at(-1)}`;
}

/**
 * The whole link stage: reads the death records, links them to recipients, and decides each linked
 * recipient's tier. Recipients come out ordered by ID.
 * @param keep filled with the payment rows of the death records' IDs ({@link KeptPayments}), each from the
 *   earliest month of death its dated records give (none for an ID without one): its `from` is set here.
 *   Every payment row is ≈ 300 bytes of heap; at 1M recipients the death records' IDs have 270 k rows, 92 k of
 *   them from a month of death on.
 */
export async function linkDeaths(db: Kysely<DB>, keep?: KeptPayments): Promise<{ deaths: RecipientDeath[]; stats: LinkStats }> {
  const records = await readDeathRecords(db);
  if (keep) {
    const first = new Map<string, string>();
    for (const r of records) {
      const month = r.death_date.slice(0, 7);
      const had = first.get(r.id_number);
      if (had === undefined || month < had) first.set(r.id_number, month);
    }
    keep.from = (id) => first.get(id) ?? '9999-99';
  }
  return assessAll(db, records, undefined, keep);
}

/** What {@link relinkDeaths} recomputed, and where its verdicts are the whole truth. */
export interface Relink {
  /** The verdicts of the recipients it linked, ordered by ID: each equals the full link stage's. */
  deaths: RecipientDeath[];
  /**
   * True for a recipient ID whose verdict the relink decided: one it linked, or one the full link stage can
   * no longer link (its verdict went away). False only for a valid ID whose every link is an equal-ID link
   * from a death record it did not relink: that verdict is the previous run's.
   */
  covers: (idNumber: string) => boolean;
  /** The valid death-record IDs with payment rows stored since `sinceId` (all relinked). */
  withNewRows: ReadonlySet<string>;
  /** Every stored payment row of each relinked death-record ID (read once, for the detector too). */
  payments: KeptPayments;
  stats: LinkStats & { relinkedIds: number };
}

/** The 8 digits of a birth date (`YYYYMMDD`), from `YYYY-MM-DD` or as found in an ID. */
const birth8 = (b: string | null): string | null => (b ? b.replace(/-/g, '') : null);

/**
 * The link stage for an incremental run (issue 10) when no death record changed since the previous run:
 * relinks only what new payment rows (or the caller) can have changed, with the full stage's own code.
 *
 * Which verdicts can a new payment row change? The link stage reads payments only by these keys: the ID of a
 * death record (block 1), the valid one-edit neighbours of a damaged death-record ID (2a), every damaged
 * payment-side ID (2b), the valid neighbours of those (aliases), and the area-and-birth prefix, birth date or
 * last 4 characters of a damaged death-record ID (blocks 3, 4). So:
 * - a valid death-record ID with new rows (`ids`: a person first paid, a name or a sex first written) can
 *   change only its own verdict: an equal valid ID is linked whatever the names, and two valid IDs are never
 *   linked to each other. These records are relinked;
 * - every other effect goes through the damaged-ID part (a repair that now exists, a block gaining a member,
 *   an alias, an ambiguity): the damaged death records, the damaged payment IDs and every valid death record
 *   they can reach (one edit away, same prefix, birth date or last 4 characters; computed from the records
 *   alone) are always relinked, so that each relinked record meets all its candidates, and each candidate all
 *   its records, exactly as in the full stage.
 * A recipient not reached this way is a valid ID linked only by equal IDs from unchanged records, with no
 * new row: its verdict is the previous run's (`covers` false). Proved against the full stage by
 * tests/link-incremental.db.test.ts.
 * @param ids valid resident IDs to relink besides (those with new payment rows; owners of changed claims)
 * @param sinceId payment rows with `id > sinceId` are new
 * @param newPeriods the periods (`YYYY-MM`) of the new rows when the caller knows them (the detection plan
 *   does); read from the new rows otherwise
 */
export async function relinkDeaths(db: Kysely<DB>, sinceId: number, ids: Iterable<string> = [], newPeriods?: readonly string[]): Promise<Relink> {
  // Every death-record ID, light: which are valid, and the birth dates the damaged-ID blocks compare.
  // Every death record that reports a death (one read; block 1 reads payments for those without a date too).
  const light = await db
    .selectFrom('death_record')
    .select(['id', 'file_id', 'line', 'source', 'id_number', 'id_raw', 'id_valid', 'name', 'sex', 'birth_date', 'death_date'])
    .where('is_death', '=', 1)
    .orderBy('id')
    .execute();
  const damaged = new Set<string>();
  for (const r of light) if (Number(r.id_valid) !== 1 && r.death_date !== null) damaged.add(r.id_number);
  const invalidPaid = (await db.selectFrom('payment').select('id_number').distinct().where('id_valid', '=', sql.lit(0)).execute()).map((r) => r.id_number);
  const neighbours = new Set<string>();
  const prefixes = new Set<string>();
  const births = new Set<string>();
  const tails = new Set<string>();
  for (const id of [...damaged, ...invalidPaid]) {
    for (const n of validNeighbours(id)) neighbours.add(n.id);
    prefixes.add(id.slice(0, 14));
    tails.add(id.slice(14));
    const b = birth8(birthDateFromId(id));
    if (b) births.add(b);
  }
  for (const r of light) if (Number(r.id_valid) !== 1 && r.death_date !== null && r.birth_date) births.add(birth8(r.birth_date)!);
  const relinked = new Set<string>();
  for (const id of ids) relinked.add(id);
  const withNewRows = new Set<string>();
  // Valid death-record IDs with rows stored since the previous run: looked up by (new period, ID), one seek
  // each on either key order. (Through the id range, SQLite read every new row into a temporary index: 3.1 s
  // for a 1M-row month, against ≈ 0.1 s this way.)
  const untilId = Number((await db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0);
  const periods = newPeriods
    ? [...newPeriods]
    : (await db.selectFrom('payment').select('period').distinct().where('id', '>', sinceId).where('id', '<=', untilId).execute()).map((r) => r.period);
  const datedValid = [...new Set(light.filter((r) => Number(r.id_valid) === 1 && r.death_date !== null).map((r) => r.id_number))].sort();
  for (let i = 0; periods.length > 0 && i < datedValid.length; i += 400) {
    const rows = await db
      .selectFrom('payment')
      .select('id_number')
      .distinct()
      .where('period', 'in', periods)
      .where('id_number', 'in', datedValid.slice(i, i + 400))
      .where('id', '>', sinceId)
      .where('id', '<=', untilId)
      .execute();
    for (const r of rows) {
      relinked.add(r.id_number);
      withNewRows.add(r.id_number);
    }
  }
  const validWithDate = new Set<string>();
  for (const r of light) {
    if (Number(r.id_valid) !== 1) continue;
    if (r.death_date !== null) validWithDate.add(r.id_number);
    const id = r.id_number;
    if (neighbours.has(id) || prefixes.has(id.slice(0, 14)) || tails.has(id.slice(14)) || births.has(birth8(birthDateFromId(id)) ?? '') || (r.birth_date !== null && births.has(birth8(r.birth_date)!))) relinked.add(id);
  }
  const exactIds = [...new Set(light.filter((r) => Number(r.id_valid) !== 1 || relinked.has(r.id_number)).map((r) => r.id_number))];
  const records = light.filter((r) => r.death_date !== null && (Number(r.id_valid) !== 1 || relinked.has(r.id_number))).map(recordForLink);
  const payments = keptPayments();
  const { deaths, stats } = await assessAll(db, records, exactIds, payments);
  return { deaths, covers: (id) => relinked.has(id) || !validWithDate.has(id), withNewRows, payments, stats: { ...stats, relinkedIds: exactIds.length } };
}

async function assessAll(db: Kysely<DB>, records: readonly DeathRecordForLink[], exactIds?: readonly string[], keep?: KeptPayments): Promise<{ deaths: RecipientDeath[]; stats: LinkStats }> {
  const { links, recipients, stats } = await findLinks(db, records, exactIds, keep);
  const byRecipient = new Map<string, PersonLink[]>();
  for (const l of links) {
    const g = byRecipient.get(l.recipient);
    if (g) g.push(l);
    else byRecipient.set(l.recipient, [l]);
  }
  const deaths: RecipientDeath[] = [];
  const byMethod: Partial<Record<IdMethod, number>> = {};
  const byTier: Partial<Record<Tier, number>> = {};
  for (const l of links) byMethod[l.method] = (byMethod[l.method] ?? 0) + 1;
  for (const id of [...byRecipient.keys()].sort()) {
    const d = assessRecipient(recipients.get(id)!, byRecipient.get(id)!);
    byTier[d.confidence] = (byTier[d.confidence] ?? 0) + 1;
    deaths.push(d);
  }
  return { deaths, stats: { deathRecords: records.length, ...stats, links: links.length, recipients: deaths.length, byMethod, byTier } };
}
