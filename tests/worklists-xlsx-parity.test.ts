/**
 * The work lists are written as XML parts directly (src/reports/worklists-xlsx.ts); every part must be byte
 * for byte what exceljs 4.4 writes for the same cases (tests/helpers/worklist-exceljs.ts, the former
 * implementation): the same cells, shared strings, styles, validations and sheets, whatever the data.
 */
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import type { OpenCase } from '../src/reports/report-data.ts';
import { validationRanges, worklistXlsx, type WorklistInfo } from '../src/reports/worklists-xlsx.ts';
import { buildWorklist } from './helpers/worklist-exceljs.ts';
import { arrayBuffer, openCase } from './helpers/run-data.ts';

/** Every part of an XLSX (ZIP) file, by name, as text. */
async function parts(bytes: Uint8Array | ArrayBuffer): Promise<Map<string, string>> {
  // exceljs depends on jszip; use it to read both archives the same way.
  const JSZip = (await import('jszip')).default;
  const zip = await JSZip.loadAsync(bytes);
  const out = new Map<string, string>();
  for (const [name, f] of Object.entries(zip.files)) if (!f.dir) out.set(name, await f.async('string'));
  return out;
}

const INFO: WorklistInfo = { districtCode: '360102', districtName: '东湖区', asOf: '2025-06-30', runId: 12 };
const CREATED = new Date('2025-06-30T16:00:00.123Z');

function cases(n: number): OpenCase[] {
  const odd = ['', ' lead', 'trail ', 'a\nb', '=HYPERLINK("x")', '<b>&amp;\'"</b>', 'ctl\u0001\u0008\u000b\u007f\ufffe', '\u3000全角空格', '核查结果', '0', '1', 'x\ty', 'emoji 😀', '\ud800lone'];
  return Array.from({ length: n }, (_, i) => openCase({
    id: 1000 + i, detector: ['deceased_payment', 'shared_account', 'amount_anomaly'][i % 3]!, confidence: ['confirmed', 'probable', 'review'][i % 3]!,
    status: i % 5 === 0 ? 'under_review' : 'new', name: odd[i % odd.length]!, scheme: i % 4 ? '110' : '110+170', months: i % 13,
    amountFen: [1382680, -12345, 0, 5, 100, 99999999999][i % 6]!, deathDate: i % 7 ? '2025-02-10' : null, why: odd[(i * 3) % odd.length]!,
    notFound: i % 11 === 0, accounts: i % 2 ? ['6217000010000000011', '0012345678901234567'] : i % 3 ? [] : [odd[i % odd.length]!],
  }));
}

describe('work list XLSX: parts identical to exceljs', () => {
  it.each([1, 2, 3, 9, 10, 11, 99, 100, 101, 250])('%i case(s)', async (n) => {
    const list = cases(n);
    const want = await parts(await buildWorklist(list, INFO, CREATED).xlsx.writeBuffer());
    const got = await parts(worklistXlsx(list, INFO, CREATED));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [name, xml] of want) expect(got.get(name), name).toBe(xml);
  });

  it('with an odd district name and code', async () => {
    const info = { districtCode: 'x&y', districtName: ' <名> ', asOf: '2026-01-31', runId: 3 };
    const want = await parts(await buildWorklist(cases(4), info, CREATED).xlsx.writeBuffer());
    const got = await parts(worklistXlsx(cases(4), info, CREATED));
    for (const [name, xml] of want) expect(got.get(name), name).toBe(xml);
  });

  it('reads back with exceljs (what the feedback import uses)', async () => {
    const back = new ExcelJS.Workbook();
    await back.xlsx.load(arrayBuffer(worklistXlsx(cases(3), INFO, CREATED)));
    expect(back.worksheets.map((w) => w.name)).toEqual(['工作清单', '说明']);
    expect(back.worksheets[0]!.getCell('A4').value).toBe(1002);
  });
});

describe('validation ranges (exceljs optimiser order)', () => {
  it.each([
    [2, ['O2']],
    [3, ['O2:O3']],
    [9, ['O2:O9']],
    [10, ['O10', 'O2:O10']],
    [12, ['O10:O12', 'O2:O12']],
    [25, ['O10:O25', 'O2:O25']],
  ])('last row %i', (last, want) => {
    expect(validationRanges('O', last)).toEqual(want);
  });
});
