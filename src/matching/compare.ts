/**
 * Field comparisons between a death record and a benefit recipient (record linkage, DOMAIN.md §3). Every
 * function here is pure and table-tested; link.ts combines them into tiers.
 *
 * - resident ID: equal after normalisation (a legacy 15-digit ID is upgraded first), one substitution or
 *   adjacent transposition apart when one side fails its check character (GB 11643-1999: such an error is
 *   always detectable), or only in the same blocking group (same area + birth date, or same birth date and
 *   name);
 * - birth date and sex: the values inside each ID (only the parts an ID repair did not touch) against the
 *   record's own fields (death record 出生日期 / 性别, payment 性别).
 */
import { birthDateFromId, cleanIdText, editPositions, idEdit, sexFromId, type IdEdit } from '../identity/resident-id.ts';

/**
 * How the IDs of a link compare, strongest first:
 * - `exact`: equal and valid;
 * - `legacy`: equal and valid once a legacy 15-digit form on one side is upgraded (15 ↔ 18);
 * - `exact_unchecked`: the same string on both sides, but it fails its check character;
 * - `substitution` / `transposition`: one side fails its check character and is one substitution or one
 *   adjacent transposition from the other, valid, side (the ID is repaired);
 * - `area_birth`: one side invalid, not one edit apart, same area code and birth date (first 14 characters);
 * - `tail_name`: one side invalid, at most two characters apart, the same sequence and check character (the
 *   last 4) and an agreeing name (two typos in the area code or birth date);
 * - `name_birth`: one side invalid, only the birth date and the name agree.
 * Two different VALID IDs are never linked, whatever the names (namesakes).
 */
export type IdMethod = 'exact' | 'legacy' | 'exact_unchecked' | 'substitution' | 'transposition' | 'area_birth' | 'tail_name' | 'name_birth';

/** Order of {@link IdMethod}, higher is stronger. */
export const ID_METHOD_RANK: Readonly<Record<IdMethod, number>> = {
  exact: 7, legacy: 6, exact_unchecked: 5, substitution: 4, transposition: 4, area_birth: 2, tail_name: 2, name_birth: 1,
};

/** True for the methods where both IDs are valid and equal (the only ones that can make a link `confirmed`). */
export function isExactValid(m: IdMethod): boolean {
  return m === 'exact' || m === 'legacy';
}

/** True for the methods where the ID is equal, or repaired by one edit. */
export function isIdRepairOrBetter(m: IdMethod): boolean {
  return ID_METHOD_RANK[m] >= ID_METHOD_RANK.substitution;
}

/** One side of an ID comparison: the normalised ID, whether its check character passes, the raw texts. */
export interface IdSide {
  id: string;
  valid: boolean;
  /** The texts as found in the extracts (to tell a legacy 15-digit form). */
  raws?: readonly string[];
}

/** Result of {@link compareIds}. */
export interface IdComparison {
  method: Exclude<IdMethod, 'name_birth' | 'tail_name'>;
  /** The edit between the two IDs (`equal` for the equal methods, null for `area_birth`). */
  edit: IdEdit | null;
  /** Which side fails its check character: `death`, `recipient`, `both` or `none`. */
  invalid: 'death' | 'recipient' | 'both' | 'none';
}

const isLegacyRaw = (raw: string): boolean => {
  const c = cleanIdText(raw);
  return c.length === 15 && /^\d{15}$/.test(c);
};

/**
 * Compares the ID of a death record with a recipient's. Returns null when the two cannot be linked on the
 * ID (different valid IDs — namesakes — or damaged beyond one edit outside the same area and birth date).
 */
export function compareIds(death: IdSide, recipient: IdSide): IdComparison | null {
  const invalid = death.valid && recipient.valid ? 'none' : !death.valid && !recipient.valid ? 'both' : death.valid ? 'recipient' : 'death';
  if (death.id === recipient.id) {
    if (invalid !== 'none') return { method: 'exact_unchecked', edit: { kind: 'equal' }, invalid };
    const legacy = [...(death.raws ?? []), ...(recipient.raws ?? [])].some(isLegacyRaw);
    return { method: legacy ? 'legacy' : 'exact', edit: { kind: 'equal' }, invalid };
  }
  if (invalid === 'none') return null;
  const edit = invalid === 'both' ? null : idEdit(death.id, recipient.id);
  if (edit && edit.kind !== 'equal') return { method: edit.kind, edit, invalid };
  if (death.id.length === 18 && death.id.slice(0, 14) === recipient.id.slice(0, 14)) return { method: 'area_birth', edit: null, invalid };
  return null;
}

/** Number of places two 18-character IDs differ in (Hamming distance); 18 for IDs of other lengths. */
export function idDistance(a: string, b: string): number {
  if (a.length !== 18 || b.length !== 18) return 18;
  let n = 0;
  for (let i = 0; i < 18; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** How a field agrees across the two sides of a link. */
export type FieldAgreement = 'agree' | 'disagree' | 'missing';

/** Where a birth date or sex value comes from. */
export type ValueOrigin = 'death_id' | 'death_record' | 'recipient_id' | 'payments';

/** One value of a compared field, with its origin and source (death record source, or `payments`). */
export interface OriginValue {
  value: string;
  origin: ValueOrigin;
  source: string;
}

/** Result of {@link compareField}: the level and every value compared, as `source:value` (distinct). */
export interface FieldComparison {
  level: FieldAgreement;
  values: string[];
}

/**
 * Compares one field (birth date or sex) across a link. `disagree` when any two values differ (the death
 * record's own field against its ID included: the record may carry someone else's ID); `agree` when both
 * sides have a value and all are equal; otherwise `missing`.
 */
export function compareField(deathSide: readonly OriginValue[], recipientSide: readonly OriginValue[]): FieldComparison {
  const all = [...deathSide, ...recipientSide];
  const values = [...new Set(all.map((v) => `${v.source}:${v.value}`))];
  if (new Set(all.map((v) => v.value)).size > 1) return { level: 'disagree', values };
  return { level: deathSide.length > 0 && recipientSide.length > 0 ? 'agree' : 'missing', values };
}

const BIRTH_POSITIONS = [6, 7, 8, 9, 10, 11, 12, 13];
const SEX_POSITION = 16;

/**
 * The birth date and sex an ID vouches for: all of a valid ID; for an ID failing its check character,
 * only the parts the known repair `edit` did not touch (nothing is trusted when the damage is not located).
 */
export function idVouches(id: string, valid: boolean, edit: IdEdit | null): { birth: string | null; sex: 'M' | 'F' | null } {
  if (valid) return { birth: birthDateFromId(id), sex: sexFromId(id) };
  if (!edit || edit.kind === 'equal') return { birth: null, sex: null };
  const touched = editPositions(edit);
  return {
    birth: touched.some((p) => BIRTH_POSITIONS.includes(p)) ? null : birthDateFromId(id),
    sex: touched.includes(SEX_POSITION) ? null : sexFromId(id),
  };
}

/** Inputs of {@link compareBirthAndSex}. */
export interface BirthSexInput {
  death: { id: string; valid: boolean; source: string; birth_date: string | null; sex: string | null };
  recipient: { id: string; valid: boolean; sexes: readonly string[] };
  /** The edit between the two IDs (null when unknown: blocks). */
  edit: IdEdit | null;
}

/**
 * Birth date and sex of a link: the death record's own fields and what its ID vouches for, against what the
 * recipient's ID vouches for and the payments' sex field. When the two IDs are the same string the death
 * record's ID adds nothing (it is the recipient's), so only the record's own fields count on that side.
 */
export function compareBirthAndSex(input: BirthSexInput): { birth: FieldComparison; sex: FieldComparison } {
  const { death, recipient, edit } = input;
  const same = death.id === recipient.id;
  const dv = same ? { birth: null, sex: null } : idVouches(death.id, death.valid, edit);
  const rv = idVouches(recipient.id, recipient.valid || (same && death.valid), edit);
  const deathBirth: OriginValue[] = [];
  const deathSex: OriginValue[] = [];
  if (death.birth_date) deathBirth.push({ value: death.birth_date, origin: 'death_record', source: death.source });
  if (dv.birth) deathBirth.push({ value: dv.birth, origin: 'death_id', source: `${death.source} ID` });
  if (death.sex) deathSex.push({ value: death.sex, origin: 'death_record', source: death.source });
  if (dv.sex) deathSex.push({ value: dv.sex, origin: 'death_id', source: `${death.source} ID` });
  const recBirth: OriginValue[] = rv.birth ? [{ value: rv.birth, origin: 'recipient_id', source: 'payments ID' }] : [];
  const recSex: OriginValue[] = rv.sex ? [{ value: rv.sex, origin: 'recipient_id', source: 'payments ID' }] : [];
  for (const s of recipient.sexes) recSex.push({ value: s, origin: 'payments', source: 'payments' });
  return { birth: compareField(deathBirth, recBirth), sex: compareField(deathSex, recSex) };
}
