/**
 * Detector `shared_account`: one bank account receiving benefits for several different people (一卡多人).
 *
 * Rule (DOMAIN.md §4 "Never stop a payment on a match alone"; the "same account, different payees" test of
 * audit tools such as CaseWare IDEA and ACL): an account into which positive payments for `minPersons` or
 * more distinct resident IDs are made for the same period. A family may legitimately share one account (two
 * spouses stay below the default of 3); an intermediary collecting several people's pensions, or the
 * benefits of dead relatives, may not. Nothing is known to be overpaid, so this is a lead, not a claim.
 * - Every payment takes part, claimed or not: the signal is the account, not any one payment's money.
 * - Accounts are compared as stored (spaces and hyphens removed at ingest); empty accounts are ignored.
 *
 * Parameters (`detectors.shared_account`): `minPersons` (default 3).
 *
 * Case key: the account — ONE case per account, whose periods are every period in which the account had
 * `minPersons` or more people (new periods update the same case). Export columns, since several people are
 * involved: `id_number` / `name` are the likeliest account holder — the person paid into the account in the
 * most distinct periods over all stored payments, ties to the byte-wise smallest ID; `district_code` is the
 * latest payment's into the account in a flagged period; `scheme` every scheme paid into it in flagged
 * periods. Every person, with their IDs, names, schemes and amounts per flagged period, is in the evidence.
 *
 * Confidence: `review`; amount 0 until an investigator establishes one; paymentIds empty (it counts no
 * money, so it claims nothing — the payments are listed in the evidence).
 *
 * Scale (issue 10, city scale): the table `account_person` holds every (account, ID) pair of the stored
 * payments — about one row per recipient — kept up to date set-based with the rows stored since its
 * high-water mark ({@link refreshAccountPersons}; filled by migration 0006 for older stores). An account can
 * only be flagged when it has `minPersons` or more people in it at all, so the candidates are one GROUP BY
 * over that small table; their payments are read back through their persons (the `payment_natural_key` index: one seek per person, or per person and period on SQLite, whose key is period-first: migration 0009)
 * and the exact rule applied to them. No GROUP BY and no scan over every payment, except once per store when
 * the table is first filled (by migration 0006, or by the first run of a new store); no index on the account
 * (it costs more at ingest than it saves here, see migration 0005). On the 250,000-recipient bench store
 * (3.1 M rows) the table holds 250,036 pairs and 12 accounts have 3 or more people.
 *
 * Incremental (./scope.ts): an account's finding depends on its own payments only (claims play no part), and
 * only an account with `minPersons` or more people in `account_person` can have one. Such an account is
 * recomputed from all its payments when it has a new row (found through its people's new rows, read by the
 * (person, period) index — not by a pass over every new row); every other
 * account's finding, or absence of one, cannot have changed, so every other previous finding is carried
 * forward. Measured on the 250,000-recipient bench store (one new month of 247,000 rows): 0.3 s of CPU,
 * against 1.2 s when the candidates were read by a scan of every payment.
 */
import { formatFen } from '../calendar/values.ts';
import { maskAccount } from '../identity/resident-id.ts';
import { fullestName } from '../matching/names.ts';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { PERSON_SUMMARY_MARKS, refreshPersonSummary } from '../db/summary-tables.ts';
import type { Detector, DetectorContext, Finding } from './types.ts';
import { chunksOf, newPeriodsOf, newRowsOf, type DetectorIncremental } from './scope.ts';
import { byteCmp, countPayments, districtOf, monthRanges, periodRange, PAYMENT_COLUMNS, pushTo, sortedDistinct, toPaymentRow, type PaymentRow } from './shared.ts';

/** One person paid into a shared account (evidence). */
export interface AccountPerson {
  id_number: string;
  name: string;
  schemes: string[];
  /** Distinct periods of all this person's positive payments into the account. */
  periods_paid: number;
  /** Net fen paid into the account for this person, per flagged period. */
  flagged: Record<string, number>;
}

/**
 * The periods in which `minPersons` or more distinct IDs had a positive payment into the account, sorted.
 * Pure (the same rule as the detector's GROUP BY).
 */
export function flaggedPeriods(rows: readonly PaymentRow[], minPersons: number): string[] {
  const ids = new Map<string, Set<string>>();
  for (const r of rows) {
    if (r.amount_fen <= 0) continue;
    const s = ids.get(r.period) ?? new Set<string>();
    s.add(r.id_number);
    ids.set(r.period, s);
  }
  return [...ids.entries()].filter(([, s]) => s.size >= minPersons).map(([p]) => p).sort(byteCmp);
}

/**
 * The finding for one account from all its payments, given the periods with `minPersons` or more
 * people. Pure. Returns null when no flagged period has payments.
 */
export function sharedAccountFinding(account: string, rows: readonly PaymentRow[], flaggedPeriods: readonly string[]): Finding | null {
  const flaggedSet = new Set(flaggedPeriods);
  const inFlagged = rows.filter((r) => flaggedSet.has(r.period));
  if (inFlagged.length === 0) return null;
  const people = new Map<string, { rows: PaymentRow[]; paidPeriods: Set<string> }>();
  for (const r of rows) {
    const p = people.get(r.id_number) ?? { rows: [], paidPeriods: new Set<string>() };
    p.rows.push(r);
    if (r.amount_fen > 0) p.paidPeriods.add(r.period);
    people.set(r.id_number, p);
  }
  const persons: AccountPerson[] = [];
  for (const [id, p] of people) {
    const flaggedRows = p.rows.filter((r) => flaggedSet.has(r.period));
    if (flaggedRows.length === 0) continue;
    const flagged: Record<string, number> = {};
    for (const r of flaggedRows.sort((a, b) => byteCmp(a.period, b.period))) flagged[r.period] = (flagged[r.period] ?? 0) + r.amount_fen;
    const names = sortedDistinct(p.rows.map((r) => r.name));
    persons.push({ id_number: id, name: fullestName(names[0]!, names), schemes: sortedDistinct(flaggedRows.map((r) => r.scheme)), periods_paid: p.paidPeriods.size, flagged });
  }
  persons.sort((a, b) => byteCmp(a.id_number, b.id_number));
  const holder = [...persons].sort((a, b) => b.periods_paid - a.periods_paid || byteCmp(a.id_number, b.id_number))[0]!;
  const perPeriod = flaggedPeriods.map((period) => ({
    period,
    persons: persons.filter((p) => p.flagged[period] !== undefined).length,
    amount_fen: inFlagged.filter((r) => r.period === period).reduce((s, r) => s + r.amount_fen, 0),
  }));
  const maxPersons = Math.max(...perPeriod.map((x) => x.persons));
  const totalFen = perPeriod.reduce((s, x) => s + x.amount_fen, 0);
  const banks = sortedDistinct(rows.map((r) => r.bank).filter((b): b is string => !!b));
  const why =
    `account ${maskAccount(account)}${banks.length ? ` (${banks.join(', ')})` : ''} received benefits for ${persons.length} people ` +
    `(up to ${maxPersons} in one period) in ${flaggedPeriods.length} period(s) ${monthRanges(flaggedPeriods)}: ${persons.map((p) => p.name).join(', ')}; ` +
    `¥${formatFen(totalFen)} paid into it for those periods; likeliest holder ${holder.name} (paid into it in ${holder.periods_paid} period(s))`;
  return {
    detector: 'shared_account',
    caseKey: account,
    idNumber: holder.id_number,
    name: holder.name,
    districtCode: districtOf(inFlagged),
    schemes: sortedDistinct(inFlagged.map((r) => r.scheme)),
    periods: [...flaggedPeriods],
    amountFen: 0,
    confidence: 'review',
    evidence: {
      why,
      comparisons: [
        { field: 'account', level: 'shared', values: [account] },
        { field: 'persons', level: String(persons.length), values: persons.map((p) => p.id_number) },
        { field: 'periods', level: 'flagged', values: [...flaggedPeriods] },
      ],
      account,
      banks,
      holder: { id_number: holder.id_number, name: holder.name, rule: 'most distinct periods paid into the account, then smallest ID' },
      persons,
      periods: perPeriod,
      flagged_range: periodRange(flaggedPeriods),
      payments: inFlagged.map((r) => ({ payment: r.id, id_number: r.id_number, scheme: r.scheme, item: r.item, period: r.period, amount_fen: r.amount_fen, batch: r.batch, file: r.file, line: r.line })),
    },
    paymentIds: [],
  };
}

/** `detector_state` key (run 0) of the highest payment id `account_person` holds; migration 0006 writes it too. */
export const ACCOUNT_PERSON_HIGH_WATER = PERSON_SUMMARY_MARKS.account_person.key;

/**
 * Brings `account_person` up to the payments with `id <= untilId`: the (account, ID) pairs of the rows stored
 * since its high-water mark are added (pairs already there left alone), set-based, in one transaction with
 * the new mark. On the first run of a store it is built from every payment together with
 * `payment_group_stats` when that is not built yet either (one scan and sort of the payments for both:
 * src/db/summary-tables.ts {@link refreshPersonSummary}).
 */
export async function refreshAccountPersons(db: Kysely<DB>, untilId: number): Promise<void> {
  await refreshPersonSummary(db, 'account_person', untilId);
}

/**
 * The persons of the accounts paid for `minPersons` or more people over all stored payments (any amount),
 * account → IDs, from `account_person`: of all accounts when `among` is not given, else of those among them.
 * Every account with a finding is one of them (a flagged period alone has `minPersons` people).
 */
async function candidatePersons(db: Kysely<DB>, minPersons: number, among?: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const add = (rows: { account: string; id_number: string }[]): void => {
    for (const r of rows) pushTo(out, r.account, r.id_number);
  };
  if (!among) {
    const many = db.selectFrom('account_person').select('account').groupBy('account').having((eb) => eb.fn.countAll(), '>=', minPersons);
    add(await db.selectFrom('account_person').select(['account', 'id_number']).where('account', 'in', many).execute());
    return out;
  }
  for (const c of chunksOf([...among], 2000)) add(await db.selectFrom('account_person').select(['account', 'id_number']).where('account', 'in', c).execute());
  for (const [account, ids] of out) if (ids.length < minPersons) out.delete(account);
  return out;
}

/**
 * Every payment into the given accounts (account → IDs paid into it, from `account_person`), ordered by
 * account (byte-wise), then id. Read through the persons (the `payment_natural_key` index; a skip-scan on SQLite, migration 0009), not by a scan of
 * every payment: each person's rows are read once and those into other accounts dropped.
 */
async function accountRows(db: Kysely<DB>, persons: ReadonlyMap<string, readonly string[]>): Promise<PaymentRow[]> {
  const ids = new Set<string>();
  for (const list of persons.values()) for (const id of list) ids.add(id);
  const out: PaymentRow[] = [];
  for (const c of chunksOf([...ids].sort(byteCmp))) {
    const rows = await db.selectFrom('payment as p').innerJoin('source_file as f', 'f.id', 'p.file_id').select([...PAYMENT_COLUMNS]).where('p.id_number', 'in', c).execute();
    for (const r of rows) if (r.account !== null && persons.has(r.account)) out.push(toPaymentRow(r));
  }
  return out.sort((a, b) => byteCmp(a.account!, b.account!) || a.id - b.id);
}

/** The findings of accounts from all their payments (rows ordered by account, then id). */
function accountFindings(rows: readonly PaymentRow[], minPersons: number): Finding[] {
  const byAccount = new Map<string, PaymentRow[]>();
  for (const r of rows) pushTo(byAccount, r.account!, r);
  const out: Finding[] = [];
  for (const account of [...byAccount.keys()].sort(byteCmp)) {
    const accountRows = byAccount.get(account)!;
    const f = sharedAccountFinding(account, accountRows, flaggedPeriods(accountRows, minPersons));
    if (f) out.push(f);
  }
  return out;
}

async function incrementalFindings(db: Kysely<DB>, inc: DetectorIncremental, minPersons: number): Promise<Finding[]> {
  // Only an account paid for minPersons or more people at all can have a finding, and only one with a new row
  // can have gained, changed or lost it: one GROUP BY over account_person, then the candidates' people's new rows.
  const candidates = await candidatePersons(db, minPersons);
  // A new row into a candidate account is a new row of one of its persons (account_person is up to date):
  // the persons' new rows are read through the natural key, not by a pass over all new rows.
  const touched = new Set<string>();
  const ids = new Set<string>();
  for (const list of candidates.values()) for (const id of list) ids.add(id);
  const periods = newPeriodsOf(inc);
  for (const c of periods.length === 0 ? [] : chunksOf([...ids].sort(byteCmp))) {
    for (const r of await newRowsOf(db, inc, periods, c).select('account').distinct().execute()) if (r.account !== null && candidates.has(r.account)) touched.add(r.account);
  }
  const persons = new Map([...candidates].filter(([account]) => touched.has(account)));
  const out = accountFindings(await accountRows(db, persons), minPersons);
  for (const f of inc.previous) if (!persons.has(f.caseKey)) out.push(f);
  return out.sort((a, b) => byteCmp(a.caseKey, b.caseKey));
}

export const sharedAccount: Detector = {
  id: 'shared_account',
  title: 'One account, several people',
  personSummaries: true,
  async *run(ctx: DetectorContext) {
    const { db } = ctx;
    const { minPersons } = ctx.settings.detectors.shared_account;
    ctx.stats.examined = await countPayments(db);
    if (ctx.incremental) {
      await refreshAccountPersons(db, ctx.incremental.untilId);
      yield* await incrementalFindings(db, ctx.incremental, minPersons);
      return;
    }
    // The accounts with minPersons or more people over all periods (one GROUP BY over account_person); their
    // payments are read back through the persons and the flagged periods counted from them.
    const untilId = Number((await db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0);
    await refreshAccountPersons(db, untilId);
    const rows = await accountRows(db, await candidatePersons(db, minPersons));
    yield* accountFindings(rows, minPersons);
  },
};
