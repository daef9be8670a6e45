/**
 * Row parsers: pure `(cells, columns, context) → accepted row | reject` functions (STYLE.md §3), one per
 * extract kind. They apply the formats of DOMAIN.md §2 and the identity rules of §3; codes are stable and
 * listed in the README ("Reject codes").
 */
import { parseAmountFen, parseDate, parsePeriod, toHalfWidth } from '../calendar/values.ts';
import { birthDateFromId, maskIdsInText, normalizeIdNumber } from '../identity/resident-id.ts';
import type { DeathField, ItemDef, PaymentField, SchemeDef } from '../config/settings.ts';
import type { NewDeathRecord, NewPayment } from '../db/schema.ts';
import { headerKey } from './layout.ts';

export type RowResult<T> = { ok: true; row: T } | { ok: false; code: string; reason: string; /** DEATH_DATE_FUTURE: the date of death, `YYYY-MM-DD` */ deathDate?: string };

const reject = (code: string, reason: string): { ok: false; code: string; reason: string } => ({ ok: false, code, reason });

/** Lookup tables built once from the settings. */
export interface Vocabulary {
  /** header-key(code or name or alias) → scheme code */
  schemes: Map<string, string>;
  /** header-key(name or alias or code) → item code */
  items: Map<string, string>;
}

/** Builds the scheme and item lookups (keys normalised like headers: case, width and spaces ignored). */
export function buildVocabulary(schemes: readonly SchemeDef[], items: readonly ItemDef[]): Vocabulary {
  const s = new Map<string, string>();
  for (const d of schemes) for (const n of [d.code, d.name, ...d.aliases]) s.set(headerKey(n), d.code);
  const i = new Map<string, string>();
  for (const d of items) for (const n of [d.code, d.name, ...d.aliases]) i.set(headerKey(n), d.code);
  return { schemes: s, items: i };
}

function cell<F extends string>(cells: readonly string[], columns: Partial<Record<F, number>>, f: F): string {
  const idx = columns[f];
  if (idx === undefined) return '';
  return (cells[idx] ?? '').trim();
}

/** Cleans a personal name: NFC, trimmed, inner spaces (ASCII and ideographic) removed. */
export function cleanName(raw: string): string {
  if (isStableHan(raw)) return raw; // issue 10: nothing to normalise or remove
  return raw.normalize('NFC').replace(/[\s\u3000]+/g, '');
}

/**
 * True when `s` is made only of CJK ideographs that NFC leaves alone and that are not white space: U+3400–U+9FFF
 * (extension A, Yijing hexagrams, unified ideographs) and U+20000–U+2F7FF (extensions B–F, as surrogate
 * pairs; the compatibility ideographs U+2F800– are left out, NFC maps them). Such text is its own
 * {@link cleanName}.
 */
export function isStableHan(s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x3400 && c <= 0x9fff) continue;
    if (c >= 0xd840 && c <= 0xd87d && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    return false;
  }
  return true;
}

function parseSex(raw: string): string | null {
  const s = toHalfWidth(raw).toLowerCase();
  if (s === '男' || s === 'm' || s === 'male' || s === '1') return 'M';
  if (s === '女' || s === 'f' || s === 'female' || s === '2') return 'F';
  return null;
}

/**
 * True when an identifier cell has lost digits to a spreadsheet: it was stored as a number (XLSX) and has
 * more than 15 digits — spreadsheets keep 15 significant digits, so an 18-digit ID or a 19-digit account
 * stored as a number ends in zeros that are not its own — or its text is in scientific notation
 * (`3.60102E+17`, what a spreadsheet writes into a CSV it saves). Such a value is never used: a row holding
 * it is rejected (DOMAIN.md §2, §3).
 * @param numeric the cell was stored as a number (XLSX `SourceRow.numericCells`)
 */
export function digitsLost(raw: string, numeric: boolean): boolean {
  // Fast path (issue 10): scientific notation needs an e; only a numeric cell can lose digits otherwise.
  if (!numeric && !HAS_E.test(raw)) return false;
  const s = toHalfWidth(raw).replace(/\s/g, '');
  if (/^[+-]?\d+(?:\.\d*)?e[+-]?\d+$/i.test(s)) return true;
  return numeric && /^\d{16,}$/.test(s);
}

const HAS_E = /[eEｅＥ]/;

function lostReject(code: string, field: string, raw: string): { ok: false; code: string; reason: string } {
  return reject(code, `${field} "${maskIdsInText(raw)}" was stored as a number and has lost digits (a spreadsheet keeps 15 significant digits); store the column as text`);
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;

/**
 * Fast path of {@link parseId} (issue 10): 17 ASCII digits and a digit, `X` or `x` — what normalizeIdNumber
 * would only upper-case — with the check character (GB 11643-1999, as checkCharacter) computed in place.
 * @returns null when the text needs the full normalisation
 */
export function parseCleanId(raw: string): { id: string; valid: boolean } | null {
  if (raw.length !== 18) return null;
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const d = raw.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    sum += d * ID_WEIGHTS[i]!;
  }
  const last = raw.charCodeAt(17);
  let id = raw;
  if (last === 0x78) id = raw.slice(0, 17) + 'X';
  else if (!((last >= 48 && last <= 57) || last === 0x58)) return null;
  return { id, valid: '10X98765432'.charCodeAt(sum % 11) === id.charCodeAt(17) };
}

function parseId(raw: string, numeric = false): RowResult<{ id: string; valid: boolean }> {
  // Fast path (issue 10): an already clean 18-character ID is its own normal form but for a lower-case x (normalizeIdNumber).
  if (!numeric) {
    const c = parseCleanId(raw);
    if (c) return { ok: true, row: c };
  }
  if (digitsLost(raw, numeric)) return lostReject('ID_PRECISION_LOST', 'resident ID', raw);
  const n = normalizeIdNumber(raw);
  if (n.ok) return { ok: true, row: { id: n.id, valid: n.valid } };
  if (n.code === 'EMPTY') return reject('ID_MISSING', 'resident ID is empty');
  if (n.code === 'BAD_LENGTH') return reject('ID_BAD_LENGTH', `resident ID has ${n.cleaned.length} characters; expected 18 (or legacy 15)`);
  return reject('ID_BAD_CHARACTERS', 'resident ID contains characters other than digits and a final X');
}

/**
 * The trimmed text of cell `idx` ('' when the column is absent). Payment rows read their columns as
 * `columns.field` at each call site (issue 10: one generic lookup by field name was a megamorphic keyed load
 * per cell).
 */
function at(cells: readonly string[], idx: number | undefined): string {
  if (idx === undefined) return '';
  return (cells[idx] ?? '').trim();
}

/** Whether cell `idx` was stored as a number (XLSX). */
function numericAt(numericCells: ReadonlySet<number> | undefined, idx: number | undefined): boolean {
  return numericCells !== undefined && idx !== undefined && numericCells.has(idx);
}

function isNumeric<F extends string>(numericCells: ReadonlySet<number> | undefined, columns: Partial<Record<F, number>>, f: F): boolean {
  const idx = columns[f];
  return idx !== undefined && numericCells !== undefined && numericCells.has(idx);
}

/**
 * A bounded memo of a pure function of a cell text (issue 10): an extract repeats a handful of schemes,
 * items, periods, dates, batches and agencies a million times. Cleared when full, so memory stays bounded
 * whatever the file holds.
 */
class Memo<T> {
  private readonly map = new Map<string, T>();
  /** The last text asked for and its value: runs of equal cells (a file's period, a batch's date) skip the hashing. */
  private lastKey: string | null = null;
  private lastValue: T | undefined;
  constructor(private readonly fn: (raw: string) => T, private readonly limit = 4096) {}
  get(raw: string): T {
    if (raw === this.lastKey) return this.lastValue as T;
    let v = this.map.get(raw);
    if (v === undefined) {
      v = this.fn(raw);
      if (this.map.size >= this.limit) this.map.clear();
      this.map.set(raw, v);
    }
    this.lastKey = raw;
    this.lastValue = v;
    return v;
  }
}

/** headerKey of scheme and item cells, remembered: an extract repeats a handful of values a million times. */
const vocabKeyMemo = new Memo(headerKey, 10_000);
const periodMemo = new Memo(parsePeriod);
const paidOnMemo = new Memo((raw) => parseDate(raw, 'payment date'));
const sexMemo = new Memo((raw) => ({ sex: parseSex(raw) }));
const halfWidthMemo = new Memo(toHalfWidth);
const agencyMemo = new Memo((raw) => {
  const agency = toHalfWidth(raw) || null;
  return { agency, district: agency && /^\d{6}/.test(agency) ? agency.slice(0, 6) : null };
});

/** Per vocabulary: scheme cell → code (or null), item cell → NFC text and item code. */
interface VocabMemos {
  scheme: Memo<{ code: string | undefined }>;
  item: Memo<{ raw: string; code: string }>;
}
const vocabMemos = new WeakMap<Vocabulary, VocabMemos>();
function memosOf(vocab: Vocabulary): VocabMemos {
  let m = vocabMemos.get(vocab);
  if (!m) {
    m = {
      scheme: new Memo((raw) => ({ code: vocab.schemes.get(vocabKeyMemo.get(raw)) })),
      item: new Memo((cellText) => {
        const raw = cellText.normalize('NFC');
        return { raw, code: vocab.items.get(vocabKeyMemo.get(raw)) ?? raw };
      }),
    };
    vocabMemos.set(vocab, m);
  }
  return m;
}

/** True when `s` is one or more ASCII digits (its own half-width, trimmed, dash- and space-free form; no e). */
function isDigits(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Fast path of parseAmountFen (issue 10) for what exports write: an optional `￥`/`¥`, an optional `-`, up to
 * 9 digits of yuan (plain, or grouped by 3 with commas), a point and exactly 2 decimals — with the same
 * result. Anything else (more or fewer decimals, spaces, full-width digits, 元, brackets, a `-` before the
 * currency sign, …) returns null and takes the full parser.
 * @param raw a trimmed cell text
 */
export function parseCleanAmountFen(raw: string): number | null {
  const n = raw.length;
  let i = 0;
  let c = raw.charCodeAt(0);
  if (c === 0xffe5 || c === 0xa5) c = raw.charCodeAt(++i);
  let negative = false;
  if (c === 45) {
    negative = true;
    i++;
  }
  // Digits up to the point, commas only between groups of 3 (the first group 1–3 digits).
  let yuan = 0;
  let digits = 0;
  let group = 0;
  let grouped = false;
  for (; i < n; i++) {
    c = raw.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      yuan = yuan * 10 + (c - 48);
      digits++;
      group++;
    } else if (c === 44) {
      if (group === 0 || (grouped ? group !== 3 : group > 3)) return null;
      grouped = true;
      group = 0;
    } else break;
  }
  if (digits === 0 || digits > 9 || (grouped && group !== 3)) return null;
  if (i + 3 !== n || raw.charCodeAt(i) !== 46) return null;
  const d1 = raw.charCodeAt(i + 1) - 48;
  const d2 = raw.charCodeAt(i + 2) - 48;
  if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return null;
  const fen = yuan * 100 + d1 * 10 + d2;
  return negative ? -fen : fen;
}

function amountOf(raw: string): ReturnType<typeof parseAmountFen> {
  const fen = parseCleanAmountFen(raw);
  return fen === null ? parseAmountFen(raw) : { ok: true, value: fen };
}

/**
 * Parses one payment row (待遇发放明细).
 * @param numericCells XLSX: indexes of cells stored as numbers (identifiers among them may have lost digits)
 * @returns the row to store (without file id), or a reject code: ID_* (ID_PRECISION_LOST included),
 *   NAME_MISSING, SCHEME_MISSING, SCHEME_UNKNOWN, ITEM_MISSING, PERIOD_*, AMOUNT_*, PAID_ON_INVALID,
 *   BATCH_MISSING, BATCH_PRECISION_LOST, ACCOUNT_PRECISION_LOST, PERSON_NO_PRECISION_LOST
 */
export function parsePaymentRow(
  cells: readonly string[],
  columns: Partial<Record<PaymentField, number>>,
  line: number,
  vocab: Vocabulary,
  numericCells?: ReadonlySet<number>,
): RowResult<NewPayment> {
  // Issue 10: every value goes through the same rules as before; repeated cell texts are memoised (pure
  // functions) and clean identifiers, names and amounts take fast paths that give the same results.
  const memos = memosOf(vocab);
  const idRaw = at(cells, columns.id_number);
  const id = parseId(idRaw, numericAt(numericCells, columns.id_number));
  if (!id.ok) return id;
  const name = cleanName(at(cells, columns.name));
  if (name === '') return reject('NAME_MISSING', 'name is empty');
  const schemeRaw = at(cells, columns.scheme);
  if (schemeRaw === '') return reject('SCHEME_MISSING', 'benefit scheme is empty');
  const scheme = memos.scheme.get(schemeRaw).code;
  if (!scheme) return reject('SCHEME_UNKNOWN', `benefit scheme "${schemeRaw}" is not a known code or name (add it under "schemes" in the settings file)`);
  const itemCell = at(cells, columns.item);
  if (itemCell === '') return reject('ITEM_MISSING', 'benefit item is empty'); // NFC of a non-empty text is non-empty
  const { raw: itemRaw, code: item } = memos.item.get(itemCell);
  const period = periodMemo.get(at(cells, columns.period));
  if (!period.ok) return period;
  const amount = amountOf(at(cells, columns.amount));
  if (!amount.ok) return amount;
  const paidRaw = at(cells, columns.paid_on);
  let paidOn: string | null = null;
  if (paidRaw !== '') {
    const d = paidOnMemo.get(paidRaw);
    if (!d.ok) return reject('PAID_ON_INVALID', d.reason);
    paidOn = d.value;
  }
  const batch = halfWidthMemo.get(at(cells, columns.batch));
  if (batch === '') return reject('BATCH_MISSING', 'batch number is empty');
  if (digitsLost(batch, numericAt(numericCells, columns.batch))) return lostReject('BATCH_PRECISION_LOST', 'batch number', batch);
  const { agency, district } = agencyMemo.get(at(cells, columns.agency));
  const accountRaw = at(cells, columns.account);
  const accountNumeric = numericAt(numericCells, columns.account);
  let account: string | null;
  if (!accountNumeric && isDigits(accountRaw)) account = accountRaw;
  else {
    if (digitsLost(accountRaw, accountNumeric)) return lostReject('ACCOUNT_PRECISION_LOST', 'bank account', accountRaw);
    account = toHalfWidth(accountRaw).replace(/[\s-]/g, '') || null;
  }
  const personRaw = at(cells, columns.person_no);
  const personNumeric = numericAt(numericCells, columns.person_no);
  let personNo: string;
  if (!personNumeric && isDigits(personRaw)) personNo = personRaw;
  else {
    personNo = toHalfWidth(personRaw);
    if (digitsLost(personNo, personNumeric)) return lostReject('PERSON_NO_PRECISION_LOST', 'person number', personNo);
  }
  return {
    ok: true,
    row: {
      line,
      person_no: personNo || null,
      id_number: id.row.id,
      id_raw: idRaw,
      id_valid: id.row.valid ? 1 : 0,
      name,
      sex: sexMemo.get(at(cells, columns.sex)).sex,
      scheme,
      item,
      item_raw: itemRaw,
      period: period.value,
      amount_fen: amount.value,
      paid_on: paidOn,
      account,
      bank: at(cells, columns.bank) || null,
      agency,
      district_code: district,
      batch,
    },
  };
}

/** Cancellation reasons that mean death (公安 户籍注销): only 死亡 (DOMAIN.md §2). */
export function isDeathReason(reason: string): boolean {
  const r = toHalfWidth(reason).replace(/\s/g, '');
  return r === '死亡' || r === '因死亡注销' || r === '死亡注销';
}

/**
 * Parses one death-record row of any source. A public-security cancellation whose reason is not death is
 * accepted with `is_death = 0` (it is not a death; its date fields are kept but never used as one).
 * @param asOf business date `YYYY-MM-DD`; a death after it is rejected
 * @param numericCells XLSX: indexes of cells stored as numbers (an ID among them may have lost digits)
 * @returns the row, or a reject code: ID_* (ID_PRECISION_LOST included), DEATH_DATE_MISSING,
 *   DEATH_DATE_INVALID, DEATH_DATE_FUTURE, BIRTH_DATE_INVALID, DEATH_BEFORE_BIRTH, DATE_INVALID
 */
export function parseDeathRow(
  cells: readonly string[],
  columns: Partial<Record<DeathField, number>>,
  line: number,
  source: string,
  asOf: string,
  numericCells?: ReadonlySet<number>,
): RowResult<NewDeathRecord> {
  const idRaw = cell(cells, columns, 'id_number');
  const id = parseId(idRaw, isNumeric(numericCells, columns, 'id_number'));
  if (!id.ok) return id;
  const reason = cell(cells, columns, 'cancel_reason');
  const isDeath = columns.cancel_reason === undefined || isDeathReason(reason);
  let birth: string | null = null;
  const birthRaw = cell(cells, columns, 'birth_date');
  if (birthRaw !== '') {
    const b = parseDate(birthRaw, 'birth date');
    if (!b.ok) return reject('BIRTH_DATE_INVALID', b.reason);
    birth = b.value;
  }
  const optionalDate = (f: DeathField, label: string): RowResult<string | null> => {
    const raw = cell(cells, columns, f);
    if (raw === '') return { ok: true, row: null };
    const d = parseDate(raw, label);
    return d.ok ? { ok: true, row: d.value } : reject('DATE_INVALID', d.reason);
  };
  let death: string | null = null;
  const deathRaw = cell(cells, columns, 'death_date');
  if (isDeath) {
    const d = parseDate(deathRaw, 'death date');
    if (!d.ok) return reject(d.code === 'DATE_MISSING' ? 'DEATH_DATE_MISSING' : 'DEATH_DATE_INVALID', d.reason);
    death = d.value;
    if (death > asOf) return { ...reject('DEATH_DATE_FUTURE', `death date ${death} is after the business date ${asOf}; the file is read again by the first run whose business date reaches it`), deathDate: death };
    const born = birth ?? (id.row.valid ? birthDateFromId(id.row.id) : null);
    if (born && death < born) return reject('DEATH_BEFORE_BIRTH', `death date ${death} is before the birth date ${born}`);
  } else if (deathRaw !== '') {
    const d = parseDate(deathRaw, 'death date');
    death = d.ok ? d.value : null;
  }
  const cremation = optionalDate('cremation_date', 'cremation date');
  if (!cremation.ok) return cremation;
  const cancel = optionalDate('cancel_date', 'cancellation date');
  if (!cancel.ok) return cancel;
  const name = cleanName(cell(cells, columns, 'name'));
  return {
    ok: true,
    row: {
      line,
      source,
      id_number: id.row.id,
      id_raw: idRaw,
      id_valid: id.row.valid ? 1 : 0,
      name: name || null,
      sex: parseSex(cell(cells, columns, 'sex')),
      birth_date: birth,
      death_date: isDeath ? death : null,
      cremation_date: cremation.row,
      cancel_date: cancel.row,
      cancel_reason: reason || null,
      is_death: isDeath ? 1 : 0,
    },
  };
}
