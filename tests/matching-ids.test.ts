import { describe, it, expect } from 'vitest';
import {
  checkCharacter, idEdit, isLegacyFormOf, isValidIdNumber, legacyIdOf, upgradeLegacyId, validNeighbours,
} from '../src/identity/resident-id.ts';
import { compareBirthAndSex, compareField, compareIds, idVouches } from '../src/matching/compare.ts';
import { prng, damageOnce } from '../src/matching/eval/scenario.ts';
import { disagreementReason } from '../src/matching/link.ts';

/** Builds a valid ID from its 17 digits. */
const valid = (body17: string): string => body17 + checkCharacter(body17);
const A = valid('36010219500312201'); // male, born 1950-03-12
const B = valid('36010219500312202'); // female, same area and birth date: a different person
const sub = (id: string, pos: number, ch: string): string => id.slice(0, pos) + ch + id.slice(pos + 1);
const swap = (id: string, pos: number): string => id.slice(0, pos) + id[pos + 1] + id[pos] + id.slice(pos + 2);
const other = (c: string): string => (c === '1' ? '7' : '1');

describe('resident ID edits (GB 11643-1999)', () => {
  it.each([
    ['equal', A, A, { kind: 'equal' }],
    ['substitution in the area', A, sub(A, 3, other(A[3]!)), { kind: 'substitution', position: 3 }],
    ['substitution of the check character', A, sub(A, 17, A[17] === 'X' ? '0' : 'X'), { kind: 'substitution', position: 17 }],
    ['adjacent transposition', A, swap(A, 6), { kind: 'transposition', position: 6 }],
    ['two substitutions', A, sub(sub(A, 2, other(A[2]!)), 9, other(A[9]!)), null],
    ['different lengths', A, A.slice(0, 15), null],
  ])('idEdit: %s', (_label, a, b, expected) => {
    expect(idEdit(a, b)).toEqual(expected);
  });

  it('every single substitution and adjacent transposition of a valid ID fails its check', () => {
    const rnd = prng(11);
    for (let n = 0; n < 200; n++) {
      const body = '3601' + String(Math.floor(rnd() * 1e13)).padStart(13, '0');
      const id = valid(body);
      for (let p = 0; p < 18; p++) {
        for (const c of p === 17 ? '0123456789X' : '0123456789') if (c !== id[p]) expect(isValidIdNumber(sub(id, p, c))).toBe(false);
        if (p < 17 && id[p] !== id[p + 1]) expect(isValidIdNumber(swap(id, p))).toBe(false);
      }
      expect(validNeighbours(id)).toEqual([]);
    }
  });

  it('the valid neighbours of a damaged ID always include the original, each one edit away', () => {
    const rnd = prng(5);
    for (let n = 0; n < 300; n++) {
      const id = valid('3601' + String(Math.floor(rnd() * 1e13)).padStart(13, '0'));
      const damaged = damageOnce(id, rnd);
      expect(isValidIdNumber(damaged)).toBe(false);
      const ns = validNeighbours(damaged);
      expect(ns.map((x) => x.id)).toContain(id);
      for (const x of ns) {
        expect(isValidIdNumber(x.id)).toBe(true);
        expect(idEdit(damaged, x.id)).toEqual(x.edit);
      }
      expect(ns.length).toBeLessThan(40);
    }
  });

  it('upgrades legacy 15-digit IDs and recognises them (15 ↔ 18)', () => {
    expect(upgradeLegacyId('360102500312201')).toBe(A);
    expect(legacyIdOf(A)).toBe('360102500312201');
    expect(legacyIdOf(valid('36010220010101001'))).toBeNull(); // born in the 2000s: no legacy form
    expect(isLegacyFormOf('３６０１０２５００３１２２０１', A)).toBe(true);
    expect(isLegacyFormOf(A, A)).toBe(false);
    expect(() => upgradeLegacyId('36010250031220')).toThrow(RangeError);
  });
});

describe('compareIds: how a death record ID and a recipient ID compare', () => {
  const dmg = sub(A, 9, other(A[9]!)); // birth part damaged, check fails
  it.each([
    ['valid and equal', { id: A, valid: true }, { id: A, valid: true }, 'exact'],
    ['equal after a legacy upgrade', { id: A, valid: true, raws: ['360102500312201'] }, { id: A, valid: true, raws: [A] }, 'legacy'],
    ['the same invalid string on both sides', { id: dmg, valid: false }, { id: dmg, valid: false }, 'exact_unchecked'],
    ['death record damaged by one substitution', { id: dmg, valid: false }, { id: A, valid: true }, 'substitution'],
    ['payment damaged by one transposition', { id: A, valid: true }, { id: swap(A, 14), valid: false }, 'transposition'],
    ['damaged twice, same area and birth date', { id: sub(sub(A, 14, other(A[14]!)), 15, other(A[15]!)), valid: false }, { id: A, valid: true }, 'area_birth'],
    ['different valid IDs (namesakes)', { id: B, valid: true }, { id: A, valid: true }, null],
    ['damaged twice in the birth date', { id: sub(sub(A, 8, other(A[8]!)), 12, other(A[12]!)), valid: false }, { id: A, valid: true }, null],
  ])('%s', (_label, death, recipient, method) => {
    const c = compareIds(death, recipient);
    expect(c?.method ?? null).toBe(method);
  });
});

describe('birth date and sex across a link', () => {
  it.each([
    ['equal values from both sides agree', [{ value: 'M', origin: 'death_record', source: 'h' }], [{ value: 'M', origin: 'recipient_id', source: 'p' }], 'agree'],
    ['any two differing values disagree', [{ value: 'M', origin: 'death_record', source: 'h' }], [{ value: 'F', origin: 'recipient_id', source: 'p' }], 'disagree'],
    ['one side only is missing', [], [{ value: 'F', origin: 'recipient_id', source: 'p' }], 'missing'],
  ] as const)('compareField: %s', (_l, d, r, level) => {
    expect(compareField(d, r).level).toBe(level);
  });

  it('an ID vouches only for the parts a repair did not touch', () => {
    expect(idVouches(A, true, null)).toEqual({ birth: '1950-03-12', sex: 'M' });
    expect(idVouches(sub(A, 9, '7'), false, { kind: 'substitution', position: 9 })).toEqual({ birth: null, sex: 'M' });
    expect(idVouches(sub(A, 16, '2'), false, { kind: 'substitution', position: 16 })).toEqual({ birth: '1950-03-12', sex: null });
    expect(idVouches(A, false, null)).toEqual({ birth: null, sex: null });
  });

  it.each([
    ['exact ID, record fields agree', A, true, '1950-03-12', 'M', A, 'agree', 'agree'],
    ['exact ID, no fields: nothing independent to compare', A, true, null, null, A, 'missing', 'missing'],
    ['exact ID, record birth date differs: someone else\'s ID', A, true, '1948-01-01', 'M', A, 'disagree', 'agree'],
    ['exact ID, record sex differs', A, true, null, 'F', A, 'missing', 'disagree'],
    ['repaired outside birth and sex: the ID parts agree', sub(A, 3, other(A[3]!)), false, null, null, A, 'agree', 'agree'],
    ['repaired inside the birth date, no birth field', sub(A, 9, other(A[9]!)), false, null, null, A, 'missing', 'agree'],
    ['repaired inside the birth date, the birth field agrees', sub(A, 9, other(A[9]!)), false, '1950-03-12', null, A, 'agree', 'agree'],
  ])('compareBirthAndSex: %s', (_l, deathId, deathValid, birth, sex, recId, birthLevel, sexLevel) => {
    const edit = idEdit(deathId, recId);
    const r = compareBirthAndSex({ death: { id: deathId, valid: deathValid, source: 'civil-affairs', birth_date: birth, sex }, recipient: { id: recId, valid: true, sexes: [] }, edit });
    expect([r.birth.level, r.sex.level]).toEqual([birthLevel, sexLevel]);
  });
});

describe('the reason line of a disagreeing field names the sources that disagree (disagreementReason)', () => {
  const reasonOf = (field: 'birth' | 'sex', death: { id: string; birth_date?: string; sex?: string }, sexes: string[]): string => {
    const r = compareBirthAndSex({
      death: { id: death.id, valid: isValidIdNumber(death.id), source: 'health', birth_date: death.birth_date ?? null, sex: death.sex ?? null },
      recipient: { id: A, valid: true, sexes }, edit: idEdit(death.id, A),
    });
    expect(r[field].level).toBe('disagree');
    return disagreementReason(field === 'birth' ? 'birth date' : 'sex', r[field].values);
  };

  it('a clash inside the payments (the ID says male, the sex column female) does not blame the death record', () => {
    // Found by a fresh-user trial: a health record without a sex column was named as the one that differed.
    expect(reasonOf('sex', { id: A }, ['F'])).toBe('sex in the payments ID differs from the payments');
  });

  it('the death record against the payments', () => {
    expect(reasonOf('sex', { id: A, sex: 'F' }, ['M'])).toBe('sex in the health record differs from the payments ID and payments');
    expect(reasonOf('birth', { id: A, birth_date: '1948-01-01' }, [])).toBe('birth date in the health record differs from the payments ID');
  });

  it('three different values; sources named once each, no value in the line', () => {
    const line = disagreementReason('sex', ['health:F', 'health ID:M', 'payments ID:M', 'payments:X', 'payments:X']);
    expect(line).toBe("sex differs between the health record, the health record's ID and payments ID and the payments");
    expect(disagreementReason('birth date', ['civil-affairs:1948-01-01', 'payments ID:1950-03-12'])).not.toMatch(/19\d\d/);
  });
});
