/**
 * The expected findings of every detector, computed from the payments the generator wrote — as they will
 * be stored (one row per natural key: an overlapping re-export adds nothing; rejected rows are absent) — by
 * the rules of DOMAIN.md §4 and README "Detectors", in the detectors' order, one payment one claim:
 * deceased_payment, duplicate_payment, concurrent_pension, shared_account, amount_anomaly. Never by calling
 * the product. Parameters are the shipped defaults (README "Detectors"); money is integer fen, periods are
 * window months.
 *
 * Work is done per unit: the recipients of one pattern instance (patterns.ts), or one deceased recipient.
 * Everything a unit's findings depend on lies inside the unit — its people's payments and the accounts they
 * are paid into — except the peers of amount_anomaly (other people of the same scheme, item, district and
 * period), whose amounts the generator collects during its pass; {@link peerOutlier} takes them.
 */

/** Detector parameters: the shipped defaults (README "Detectors", src/config/detector-settings.ts). */
export const PARAMS = Object.freeze({
  sharedAccountMinPersons: 3,
  anomalyThreshold: 5,
  anomalyMinHistory: 6,
  anomalyMinPeers: 20,
  anomalyMinRelativeSpread: 0.05,
  anomalyMinSpreadFen: 100,
  /** Items never judged by amount_anomaly: back pay and adjustments (Benford instead) and items payable after death. */
  anomalyExcluded: new Set(['back_pay', 'adjustment', 'funeral_grant', 'survivor_lump_sum', 'survivor_pension']),
  /** Items paid because of a death (seeds/items.json `payable_after_death`). */
  exempt: new Set(['funeral_grant', 'survivor_lump_sum', 'survivor_pension']),
  residentScheme: '170',
  otherSchemes: ['110', '120'] as readonly string[],
});

/** A payment as stored: what the detectors read. */
export interface StoredRow {
  /** Index of the person in the unit. */
  person: number;
  /** Scheme code. */
  scheme: string;
  /** Item code (seeds/items.json). */
  item: string;
  /** Period (window month). */
  period: number;
  /** Signed amount, fen. */
  fen: number;
  /** Pay date, days since 1970-01-01. */
  day: number;
  batch: string;
  /** 经办机构; its first 6 digits are the district code. */
  agency: string;
  account: string;
  /** Storage order (files in path order, rows in file order). */
  seq: number;
}

export interface UnitPerson {
  id: string;
  /** Name as written in the payment rows (no placeholder for pattern members). */
  name: string;
  /** Full name from the death records (deceased only). */
  deathName: string | null;
  /** Death month (window month), or null. */
  deathMonth: number | null;
}

export type Detector = 'deceased_payment' | 'duplicate_payment' | 'concurrent_pension' | 'shared_account' | 'amount_anomaly';
export const DETECTOR_ORDER: readonly Detector[] = ['deceased_payment', 'duplicate_payment', 'concurrent_pension', 'shared_account', 'amount_anomaly'];

/** One expected case (a row of expected/cases.csv). */
export interface ExpectedFinding {
  detector: Detector;
  idNumber: string;
  name: string;
  districtCode: string;
  /** Scheme codes, ascending. */
  schemes: string[];
  /** Window months, ascending, distinct. */
  periods: number[];
  amountFen: number;
  confidence: 'confirmed' | 'probable' | 'review';
}

/** A payment far above its person's own history: the first stage of amount_anomaly. */
export interface OwnOutlier {
  person: UnitPerson;
  row: StoredRow;
  /** Key of its peer group: scheme, item, district, period. */
  group: PeerGroupKey;
}

export interface PeerGroupKey {
  scheme: string;
  item: string;
  district: string;
  period: number;
}

const byteCmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Earliest first: period, pay date, batch, storage order (src/detectors/shared.ts paymentOrder). */
export function paymentOrder(a: StoredRow, b: StoredRow): number {
  return a.period - b.period || a.day - b.day || byteCmp(a.batch, b.batch) || a.seq - b.seq;
}

function latest(rows: readonly StoredRow[]): StoredRow {
  return rows.reduce((best, r) => (paymentOrder(r, best) > 0 ? r : best));
}

const district = (r: StoredRow): string => r.agency.slice(0, 6);

function group<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = out.get(k);
    if (list) list.push(t);
    else out.set(k, [t]);
  }
  return out;
}

const distinctSorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort(byteCmp);

/** Median as simple-statistics computes it (linear interpolation between the middle order statistics). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const idx = (s.length - 1) * 0.5;
  if (idx % 1 === 0) return s[idx]!;
  const lo = Math.floor(idx);
  return s[lo]! + 0.5 * (s[lo + 1]! - s[lo]!);
}

/** Modified z-score of x against a sample (amount_anomaly: Iglewicz & Hoaglin 1993, with the spread floors). */
export function robustZ(x: number, sample: readonly number[]): number {
  const m = median(sample);
  const mad = median(sample.map((v) => Math.abs(v - m)));
  const scale = Math.max(1.4826 * mad, PARAMS.anomalyMinRelativeSpread * Math.abs(m), PARAMS.anomalyMinSpreadFen);
  return (x - m) / scale;
}

/** Reversals cancel the latest copy of their exact amount; copies = all but the earliest of each amount. */
function countDuplicates(rows: readonly StoredRow[]): { copies: StoredRow[]; unmatched: StoredRow[]; amountFen: number } | null {
  const ordered = [...rows].sort(paymentOrder);
  const open = ordered.filter((r) => r.fen > 0);
  const unmatched: StoredRow[] = [];
  for (const rev of ordered.filter((r) => r.fen < 0)) {
    let k = -1;
    for (let i = open.length - 1; i >= 0; i--) {
      if (open[i]!.fen === -rev.fen) {
        k = i;
        break;
      }
    }
    if (k >= 0) open.splice(k, 1);
    else unmatched.push(rev);
  }
  const copies: StoredRow[] = [];
  for (const same of group(open, (r) => String(r.fen)).values()) if (same.length >= 2) copies.push(...same.slice(1));
  if (copies.length === 0) return null;
  const amountFen = copies.reduce((s, r) => s + r.fen, 0) + unmatched.reduce((s, r) => s + r.fen, 0);
  return amountFen > 0 ? { copies, unmatched, amountFen } : null;
}

/**
 * The findings of one unit for every detector but the peer stage of amount_anomaly, and the unit's
 * own-history outliers (to be judged against their peers by {@link peerOutlier}).
 */
export function expectUnit(persons: readonly UnitPerson[], rows: readonly StoredRow[]): { findings: ExpectedFinding[]; own: OwnOutlier[] } {
  const findings: ExpectedFinding[] = [];
  const claimed = new Set<StoredRow>();
  const byPerson = persons.map((_, k) => rows.filter((r) => r.person === k));

  // deceased_payment: periods after the death month, items not exempt, net per (scheme, item, period) > 0.
  persons.forEach((p, k) => {
    if (p.deathMonth === null) return;
    const cand = byPerson[k]!.filter((r) => r.period > p.deathMonth! && !PARAMS.exempt.has(r.item));
    const counted = [...group(cand, (r) => `${r.scheme}|${r.item}|${r.period}`).values()].filter((g) => g.reduce((s, r) => s + r.fen, 0) > 0);
    if (counted.length === 0) return;
    const countedRows = counted.flat();
    const positive = countedRows.filter((r) => r.fen > 0);
    const last = positive.reduce((b, r) => (r.period - b.period || r.day - b.day || r.seq - b.seq) > 0 ? r : b);
    for (const r of countedRows) claimed.add(r);
    findings.push({
      detector: 'deceased_payment',
      idNumber: p.id,
      name: p.deathName ?? p.name,
      districtCode: district(last),
      schemes: distinctSorted(countedRows.map((r) => r.scheme)),
      periods: [...new Set(countedRows.map((r) => r.period))].sort((a, b) => a - b),
      amountFen: countedRows.reduce((s, r) => s + r.fen, 0),
      confidence: 'confirmed',
    });
  });

  // duplicate_payment: per (person, scheme, item, period), claimed payments left out.
  const dupFindings: ExpectedFinding[] = [];
  persons.forEach((p, k) => {
    for (const g of group(byPerson[k]!, (r) => `${r.scheme}|${r.item}|${r.period}`).values()) {
      const c = countDuplicates(g.filter((r) => !claimed.has(r)));
      if (!c) continue;
      dupFindings.push({
        detector: 'duplicate_payment',
        idNumber: p.id,
        name: p.name,
        districtCode: district(latest(c.copies)),
        schemes: [g[0]!.scheme],
        periods: [g[0]!.period],
        amountFen: c.amountFen,
        confidence: 'probable',
      });
      for (const r of [...c.copies, ...c.unmatched]) claimed.add(r);
    }
  });
  findings.push(...dupFindings);

  // concurrent_pension: 170 drawn (net > 0) in a month also drawn (net > 0) from 110 or 120.
  persons.forEach((p, k) => {
    const mine = byPerson[k]!.filter((r) => (r.scheme === PARAMS.residentScheme || PARAMS.otherSchemes.includes(r.scheme)) && !PARAMS.exempt.has(r.item));
    if (!mine.some((r) => r.scheme === PARAMS.residentScheme) || mine.every((r) => r.scheme === PARAMS.residentScheme)) return;
    const counted: StoredRow[] = [];
    const periods: number[] = [];
    const others = new Set<string>();
    let amountFen = 0;
    for (const [, inMonth] of [...group(mine, (r) => String(r.period)).entries()].sort((a, b) => Number(a[0]) - Number(b[0]))) {
      const drawn = PARAMS.otherSchemes.filter((s) => inMonth.filter((r) => r.scheme === s).reduce((t, r) => t + r.fen, 0) > 0);
      const residentAll = inMonth.filter((r) => r.scheme === PARAMS.residentScheme);
      if (drawn.length === 0 || residentAll.reduce((t, r) => t + r.fen, 0) <= 0) continue;
      const resident = residentAll.filter((r) => !claimed.has(r));
      const net = resident.reduce((t, r) => t + r.fen, 0);
      if (net <= 0) continue;
      counted.push(...resident);
      periods.push(inMonth[0]!.period);
      for (const s of drawn) others.add(s);
      amountFen += net;
    }
    if (periods.length === 0) return;
    const positive = counted.filter((r) => r.fen > 0);
    for (const r of counted) claimed.add(r);
    findings.push({
      detector: 'concurrent_pension',
      idNumber: p.id,
      name: p.name,
      districtCode: district(latest(positive.length ? positive : counted)),
      schemes: distinctSorted([PARAMS.residentScheme, ...others]),
      periods,
      amountFen,
      // Generated IDs are valid and a person's name is the same in every scheme's rows.
      confidence: 'confirmed',
    });
  });

  // shared_account: periods in which 3 or more people had a positive payment into one account.
  const accounts = persons.length >= PARAMS.sharedAccountMinPersons ? [...group(rows, (r) => r.account).entries()].sort((a, b) => byteCmp(a[0], b[0])) : [];
  for (const [, acct] of accounts) {
    const perPeriod = group(acct.filter((r) => r.fen > 0), (r) => String(r.period));
    const flagged = [...perPeriod.entries()].filter(([, rs]) => new Set(rs.map((r) => r.person)).size >= PARAMS.sharedAccountMinPersons).map(([k]) => Number(k)).sort((a, b) => a - b);
    if (flagged.length === 0) continue;
    const inFlagged = acct.filter((r) => flagged.includes(r.period));
    const people = [...new Set(inFlagged.map((r) => r.person))].map((k) => ({
      k,
      id: persons[k]!.id,
      paid: new Set(acct.filter((r) => r.person === k && r.fen > 0).map((r) => r.period)).size,
    }));
    people.sort((a, b) => b.paid - a.paid || byteCmp(a.id, b.id));
    const holder = persons[people[0]!.k]!;
    findings.push({
      detector: 'shared_account',
      idNumber: holder.id,
      name: holder.name,
      districtCode: district(latest(inFlagged)),
      schemes: distinctSorted(inFlagged.map((r) => r.scheme)),
      periods: flagged,
      amountFen: 0,
      confidence: 'review',
    });
  }

  // amount_anomaly, first stage: far above the person's OTHER positive payments of the same scheme and item.
  const own: OwnOutlier[] = [];
  persons.forEach((p, k) => {
    const judged = byPerson[k]!.filter((r) => r.fen > 0 && !PARAMS.anomalyExcluded.has(r.item));
    for (const g of group(judged, (r) => `${r.scheme}|${r.item}`).values()) {
      if (g.length < PARAMS.anomalyMinHistory + 1) continue;
      // Necessary condition (the detector's own prefilter): z ≤ (max − min) / max(5 % of min, ¥1) for every payment.
      let lo = Infinity;
      let hi = -Infinity;
      for (const r of g) (lo = Math.min(lo, r.fen)), (hi = Math.max(hi, r.fen));
      if ((hi - lo) < PARAMS.anomalyThreshold * Math.max(PARAMS.anomalyMinRelativeSpread * lo, PARAMS.anomalyMinSpreadFen) * (1 - 1e-9)) continue;
      g.forEach((r, i) => {
        if (claimed.has(r)) return;
        const others = g.filter((_, j) => j !== i).map((o) => o.fen);
        if (robustZ(r.fen, others) > PARAMS.anomalyThreshold) own.push({ person: p, row: r, group: { scheme: r.scheme, item: r.item, district: district(r), period: r.period } });
      });
    }
  });
  return { findings, own };
}

/**
 * Second stage of amount_anomaly: an own-history outlier is flagged when it is also far above its peers.
 * @param peers positive amounts of the peer group paid to OTHER people (fen)
 */
export function peerOutlier(o: OwnOutlier, peers: readonly number[]): boolean {
  return peers.length >= PARAMS.anomalyMinPeers && robustZ(o.row.fen, peers) > PARAMS.anomalyThreshold;
}

/** The amount_anomaly cases of flagged outliers: one per (person, period). */
export function anomalyFindings(flagged: readonly OwnOutlier[]): ExpectedFinding[] {
  return [...group(flagged, (o) => `${o.person.id}|${o.row.period}`).values()].map((os) => {
    const last = latest(os.map((o) => o.row));
    return {
      detector: 'amount_anomaly',
      idNumber: os[0]!.person.id,
      name: os[0]!.person.name,
      districtCode: district(last),
      schemes: distinctSorted(os.map((o) => o.row.scheme)),
      periods: [os[0]!.row.period],
      amountFen: 0,
      confidence: 'review',
    };
  });
}
