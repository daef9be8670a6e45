/** Synthetic {@link RunData} for sink tests (no database): small builders with overridable fields. */
import os from 'node:os';
import { loadSettings } from '../../src/config/settings.ts';
import type { OpenCase, ReportFinding, RunData, RunHeadline } from '../../src/reports/report-data.ts';
import { makeId } from './report-inbox.ts';

export const SETTINGS = loadSettings(undefined, os.tmpdir());

export function finding(o: Partial<ReportFinding> = {}): ReportFinding {
  return {
    caseId: 1, caseStatus: 'new', detector: 'deceased_payment', confidence: 'confirmed', idNumber: makeId('360102', '19480312', 11, true), name: '张三',
    districtCode: '360102', scheme: '110', firstPeriod: '2025-03', lastPeriod: '2025-06', months: 4, amountFen: 1382680, deathDate: '2025-02-10',
    monthsAfterDeath: 4, why: 'ID exact match; died 2025-02-10', accounts: ['6217000010000000011'], ...o,
  };
}

export function openCase(o: Partial<OpenCase> = {}): OpenCase {
  return {
    id: 1, detector: 'deceased_payment', confidence: 'confirmed', status: 'new', idNumber: makeId('360102', '19480312', 11, true), name: '张三',
    districtCode: '360102', scheme: '110', firstPeriod: '2025-03', lastPeriod: '2025-06', months: 4, amountFen: 1382680, deathDate: '2025-02-10',
    why: 'ID exact match; died 2025-02-10', notFound: false, accounts: ['6217000010000000011'],
    payments: ['2025-03', '2025-04', '2025-05', '2025-06'].map((period) => ({ scheme: '110', item: 'pension', period, amountFen: 345670, account: '6217000010000000011' })),
    ...o,
  };
}

export function headline(o: Partial<RunHeadline> = {}): RunHeadline {
  return {
    runId: 1, asOf: '2025-06-30', status: 'succeeded', startedAt: '2025-06-30T16:00:00.000Z', endedAt: '2025-06-30T16:00:05.000Z', findings: 1, confirmed: 1,
    amountFen: 1382680, casesOpened: 1, filesIngested: 1, filesRejected: 0, rowsRejected: 0, current: true, ...o,
  };
}

export function runData(o: Partial<RunData> = {}): RunData {
  return {
    runId: 1, asOf: '2025-06-30', startedAt: '2025-06-30T16:00:00.000Z', status: 'succeeded', settings: SETTINGS,
    detectors: [{ id: 'deceased_payment', title: 'Payments after death', status: 'succeeded', examined: 4, findings: 1, amountFen: 1382680, ms: 3 }],
    findings: [finding()], openCases: [openCase()], files: [], rejects: [], latestPeriodByScheme: new Map([['110', '2025-06']]), casesOpened: 1,
    history: [headline()], ...o,
  };
}

/** The bytes as an ArrayBuffer (what exceljs's `xlsx.load` is typed to take). */
export function arrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
