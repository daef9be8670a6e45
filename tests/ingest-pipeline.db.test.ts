/**
 * The ingest pipeline end to end on the quirk fixtures of tests/fixtures/ingest/ (one tiny file per quirk):
 * a temporary inbox and SQLite store, ingestInbox, then the tables. Each case pins the exact accounting
 * [read, accepted, rejected, skipped, repeated] and the reject lines and codes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { maskIdsInText } from '../src/identity/resident-id.ts';
import { PAY_HEADER, PEOPLE as P } from './fixtures/make-fixtures.ts';
import { counts, ingestEnv, type IngestEnv } from './helpers/ingest-env.ts';

let env: IngestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function single(fixture: string, inboxPath: string, opts?: { asOf?: string }): Promise<IngestEnv> {
  env = await ingestEnv();
  env.put(inboxPath, fixture);
  await env.run(opts);
  return env;
}

const lines = (rows: Record<string, unknown>[]): number[] => rows.map((r) => Number(r.line));
const codes = (rows: { line: number; code: string }[]): [number, string][] => rows.map((r) => [r.line, r.code]);

describe('CSV layout quirks (DOMAIN.md §2)', () => {
  it.each([
    // fixture, accounting, header line, lines of the stored payments
    ['pay-title-rows.csv', [7, 3, 0, 4, 0], 4, [5, 6, 7]],
    ['pay-repeated-header.csv', [6, 4, 0, 2, 0], 1, [2, 3, 5, 6]],
    ['pay-summary-match.csv', [7, 3, 0, 4, 0], 1, [2, 3, 4]],
    ['pay-blank-notes-crlf.csv', [9, 3, 0, 6, 0], 1, [2, 4, 6]],
    ['pay-bom-quoted-newline.csv', [4, 3, 0, 1, 0], 1, [2, 3, 5]],
    ['pay-gb18030-rare-names.csv', [6, 4, 0, 2, 0], 2, [3, 4, 5, 6]],
  ])('%s is read with the exact accounting and no reject', async (fixture, accounting, headerLine, paymentLines) => {
    const e = await single(fixture, `payments/${fixture}`);
    const f = await e.file(`payments/${fixture}`);
    expect(f.status).toBe('ingested');
    expect(counts(f)).toEqual(accounting);
    expect(f.header_line).toBe(headerLine);
    expect(await e.rejects(`payments/${fixture}`)).toEqual([]);
    expect(lines(await e.payments(`payments/${fixture}`))).toEqual(paymentLines);
  });

  it('keeps a quoted line break inside a cell and numbers lines physically (UTF-8 with BOM, CRLF)', async () => {
    const e = await single('pay-bom-quoted-newline.csv', 'payments/a.csv');
    expect((await e.file('payments/a.csv')).encoding).toBe('utf-8-bom');
    const rows = await e.payments('payments/a.csv');
    expect(rows.map((r) => r.bank)).toEqual(['中国建设银行南昌分行', '中国银行\r\n南昌分行', '中国建设银行南昌分行']);
    // The BOM did not stick to the first header: 个人编号 was recognised.
    expect(String(rows[0]!.person_no)).toMatch(/^P\d+$/);
  });

  it('decodes GB18030 rare names (4-byte characters) exactly', async () => {
    const e = await single('pay-gb18030-rare-names.csv', 'payments/gb.csv');
    expect((await e.file('payments/gb.csv')).encoding).toBe('gb18030');
    expect((await e.payments('payments/gb.csv')).map((r) => r.name)).toEqual(['张𠮷', '王䶮', '李𪚥', '赵龘']);
  });

  it('decodes a 4-byte character whose last byte starts the next 64 KiB read chunk, followed by ASCII only', async () => {
    // iconv-lite 0.7's stream decoder loses a UTF-16 code unit exactly here; the reader must not.
    const row = (name: string, batch: string): string => `P1,${name},${P.p1.id},,110,pension,202403,1.00,,,,,${batch}\n`;
    const head = iconv.encode(PAY_HEADER.join(',') + '\n', 'gb18030');
    const beforeRare = iconv.encode(row('张𠮷', 'R').split('𠮷')[0]!, 'gb18030');
    const parts: Buffer[] = [head];
    let size = head.length;
    const unit = row('A', 'B000000').length;
    for (let i = 1; size + 2 * unit + beforeRare.length + 3 < 65536; i++) {
      const r = Buffer.from(row('A', `B${String(i).padStart(6, '0')}`), 'ascii');
      parts.push(r);
      size += r.length;
    }
    // One padding row sized so that the first 3 bytes of 𠮷 end exactly at offset 65536.
    const need = 65536 - 3 - beforeRare.length - size;
    parts.push(Buffer.from(row('A', 'PAD' + 'X'.repeat(need - row('A', 'PAD').length)), 'ascii'));
    // The file ends without a line break, so a unit lost at the end of the last chunk shows in the data.
    parts.push(iconv.encode(row('张𠮷', 'R'), 'gb18030'), Buffer.from(row('B', 'LAST').trimEnd(), 'ascii'));
    const file = Buffer.concat(parts);
    expect(file.indexOf(iconv.encode('𠮷', 'gb18030')) + 3).toBe(65536);
    env = await ingestEnv();
    env.put('payments/boundary.csv', file);
    await env.run();
    const f = await env.file('payments/boundary.csv');
    expect(f.encoding).toBe('gb18030');
    expect([f.rows_rejected, f.rows_skipped]).toEqual([0, 1]);
    const rows = (await env.payments('payments/boundary.csv')).map((r) => [r.name, r.batch]);
    expect(rows.slice(-2)).toEqual([['张𠮷', 'R'], ['B', 'LAST']]);
  });
});

describe('summary rows carrying a total', () => {
  it('accepts a total equal to the accepted rows (reversals included)', async () => {
    const e = await single('pay-summary-match.csv', 'payments/s.csv');
    expect((await e.payments('payments/s.csv')).map((r) => r.amount_fen)).toEqual([345670, 210000, -10000]);
    expect(await e.rejects('payments/s.csv')).toEqual([]);
  });

  it('records SUMMARY_MISMATCH on the summary line, counted as skipped, not as rejected', async () => {
    const e = await single('pay-summary-mismatch.csv', 'payments/s.csv');
    const f = await e.file('payments/s.csv');
    expect(counts(f)).toEqual([8, 3, 1, 4, 0]);
    expect(f.rows_read).toBe(f.rows_accepted + f.rows_rejected + f.rows_skipped);
    const rej = await e.rejects('payments/s.csv');
    expect(codes(rej)).toEqual([[6, 'SCHEME_UNKNOWN'], [7, 'SUMMARY_MISMATCH'], [8, 'SUMMARY_MISMATCH']]);
    // 小计 on line 4 (3000.00) matches its section; line 7 does not: the rejected row explains it.
    expect(rej[1]!.reason).toBe(
      'summary row total 750.00 on line 7 matches neither 500.00, the sum of the 1 accepted row(s) from line 5, nor 3500.00, the sum of all 3 accepted above it; 1 rejected row(s) since line 5 carry 250.00; the summary row is not ingested',
    );
    // 总计 right after a 小计: its section is empty, so it is a grand total and is checked against the file.
    expect(rej[2]!.reason).toBe('summary row total 3750.00 on line 8 does not match 3500.00, the sum of the 3 accepted row(s) above it; the summary row is not ingested');
    expect(rej[1]!.raw).toBe('小计,,,,,,,750.00,,,,,');
  });
});

describe('amounts', () => {
  it('accepts reversals and the written forms of yuan; refuses three decimals, never rounding', async () => {
    const e = await single('pay-amounts.csv', 'payments/a.csv');
    expect(counts(await e.file('payments/a.csv'))).toEqual([8, 5, 2, 1, 0]);
    expect(codes(await e.rejects('payments/a.csv'))).toEqual([[5, 'AMOUNT_TOO_PRECISE'], [8, 'AMOUNT_INVALID']]);
    expect((await e.payments('payments/a.csv')).map((r) => [r.line, r.amount_fen])).toEqual([[2, 345670], [3, -345670], [4, 345670], [6, -10000], [7, 1230]]);
  });
});

describe('overlapping extracts', () => {
  it('processes files in byte-wise path order; a repeat is one payment, a different amount a KEY_CONFLICT naming both places', async () => {
    env = await ingestEnv();
    env.put('payments/2024-03/pay-overlap-a-second.csv', 'pay-overlap-a-second.csv');
    env.put('payments/2024-03/pay-overlap-Z-first.csv', 'pay-overlap-Z-first.csv');
    const reports = await env.run();
    expect(reports.map((r) => r.path)).toEqual(['payments/2024-03/pay-overlap-Z-first.csv', 'payments/2024-03/pay-overlap-a-second.csv']);
    expect(counts(await env.file('payments/2024-03/pay-overlap-Z-first.csv'))).toEqual([3, 2, 0, 1, 0]);
    expect(counts(await env.file('payments/2024-03/pay-overlap-a-second.csv'))).toEqual([4, 2, 1, 1, 1]);
    const rej = await env.rejects('payments/2024-03/pay-overlap-a-second.csv');
    expect(codes(rej)).toEqual([[3, 'KEY_CONFLICT']]);
    expect(rej[0]!.reason).toBe(
      'line 3 of payments/2024-03/pay-overlap-a-second.csv has the payment key (batch B202403, scheme 110, item pension, period 2024-03) of payments/2024-03/pay-overlap-Z-first.csv line 2 but amount 3500.00 instead of 3456.70; the first (payments/2024-03/pay-overlap-Z-first.csv line 2) is kept, this row is rejected',
    );
    const all = await env.store.db.selectFrom('payment').select(['id_number', 'amount_fen']).orderBy('id').execute();
    expect(all).toEqual([
      { id_number: P.p1.id, amount_fen: 345670 },
      { id_number: P.p2.id, amount_fen: 210000 },
      { id_number: P.p3.id, amount_fen: 189055 },
    ]);
  });
});

describe('whole-file rejects: the file is refused, nothing of it is stored, the run goes on', () => {
  it.each([
    ['pay-invalid-bytes.csv', 'ENCODING_INVALID', 'payments/pay-invalid-bytes.csv: bytes are valid neither as UTF-8 nor as GB18030 (3 undecodable sequences); file rejected whole'],
    ['not-a-workbook.xlsx', 'FILE_UNREADABLE', 'payments/not-a-workbook.xlsx: not a readable XLSX workbook (invalid signature: 0x73696874); file rejected whole'],
    ['broken-no-workbook-xml.xlsx', 'FILE_UNREADABLE', 'payments/broken-no-workbook-xml.xlsx: not a readable XLSX workbook (the archive ended before xl/workbook.xml was read); file rejected whole'],
    ['broken-no-styles.xlsx', 'FILE_UNREADABLE', 'payments/broken-no-styles.xlsx: not a readable XLSX workbook (a cell refers to cell styles but xl/styles.xml was not read); file rejected whole'],
    ['broken-no-shared-strings.xlsx', 'FILE_UNREADABLE', 'payments/broken-no-shared-strings.xlsx: not a readable XLSX workbook (shared string 0 referenced but xl/sharedStrings.xml was not read); file rejected whole'],
    ['old-binary.xls', 'FORMAT_UNSUPPORTED', 'payments/old-binary.xls: old binary Excel (.xls) workbooks are not read; save it as .xlsx or CSV'],
  ])('%s → %s', async (fixture, code, message) => {
    env = await ingestEnv();
    env.put(`payments/${fixture}`, fixture);
    env.put('payments/zz-good.csv', 'pay-title-rows.csv');
    const reports = await env.run();
    expect(reports.map((r) => [r.path, r.status])).toEqual([[`payments/${fixture}`, 'rejected'], ['payments/zz-good.csv', 'ingested']]);
    const f = await env.file(`payments/${fixture}`);
    expect([f.status, f.error_code, f.error]).toEqual(['rejected', code, message]);
    expect(counts(f)).toEqual([0, 0, 0, 0, 0]);
    expect(await env.payments(`payments/${fixture}`)).toEqual([]);
    expect(await env.rejects(`payments/${fixture}`)).toEqual([]);
    expect(counts(await env.file('payments/zz-good.csv'))).toEqual([7, 3, 0, 4, 0]);
  });

  it('an unknown layout is refused with one line naming the file and the headers found; a settings file teaches it', async () => {
    env = await ingestEnv();
    env.put('payments/unknown.csv', 'pay-unknown-layout.csv');
    await env.run();
    const f = await env.file('payments/unknown.csv');
    expect([f.status, f.error_code]).toEqual(['rejected', 'HEADER_NOT_FOUND']);
    expect(f.error).toBe(
      'payments/unknown.csv: no recognisable payment header in the first 50 rows (headers found, line 2: 人员姓名, 证件号, 险种, 待遇名称, 所属月份, 应付金额, 批次; not found: id_number (公民身份号码 / 身份证号码 / 证件号码), item (待遇项目 / 待遇类型 / 项目名称), period (发放年月 / 待遇所属期 / 所属期), amount (发放金额 / 实发金额 / 金额), batch (发放批次号 / 批次号 / 发放批次)); file rejected whole — add header aliases under "headerAliases" in the settings file',
    );
    expect(f.error).not.toContain('\n');
    // The same file, unchanged, is read once the settings know its headers (no code change).
    const again = await env.run({
      settings: { headerAliases: { payments: { id_number: ['证件号'], item: ['待遇名称'], period: ['所属月份'], amount: ['应付金额'], batch: ['批次'] } } },
    });
    expect(again.map((r) => r.status)).toEqual(['ingested']);
    expect(counts(await env.file('payments/unknown.csv'))).toEqual([3, 1, 0, 2, 0]);
    expect((await env.payments('payments/unknown.csv')).map((r) => [r.id_number, r.item, r.period, r.amount_fen, r.batch])).toEqual([
      [P.p1.id, 'pension', '2024-03', 345670, 'B202403'],
    ]);
  });

  it.each([
    [{ headerAliases: { payments: { idnumber: ['证件号'] } } }, 'headerAliases.payments.idnumber: unknown field; known: person_no, name, id_number'],
    [{ schemes: [{ code: '11', aliases: ['企保'] }] }, 'schemes.0.code: a scheme code is 3 digits'],
    [{ headerAlias: {} }, '(top level): Unrecognized key: "headerAlias"'],
  ])('a bad settings file is refused with a message naming the file and the key (%j)', async (settings, message) => {
    env = await ingestEnv();
    await expect(env.run({ settings })).rejects.toThrow(message);
    await expect(env.run({ settings })).rejects.toThrow(/^settings \/.+settings-\d+\.json: /);
  });

  it('a file already ingested is not read again', async () => {
    env = await ingestEnv();
    env.put('payments/a.csv', 'pay-title-rows.csv');
    await env.run();
    const second = await env.run();
    expect(second.map((r) => [r.status, r.rowsRead])).toEqual([['known', 0]]);
    expect(await env.store.db.selectFrom('payment').select('id').execute()).toHaveLength(3);
  });
});

describe('death records', () => {
  it('public security: only 死亡 is a death; 注销日期 is never the date of death', async () => {
    const e = await single('deaths-public-security.csv', 'deaths/public-security/ps.csv');
    expect(counts(await e.file('deaths/public-security/ps.csv'))).toEqual([6, 4, 1, 1, 0]);
    expect(codes(await e.rejects('deaths/public-security/ps.csv'))).toEqual([[6, 'DEATH_DATE_MISSING']]);
    const rows = await e.deaths('deaths/public-security/ps.csv');
    expect(rows.map((r) => [r.line, r.source, r.id_number, r.cancel_reason, r.is_death, r.death_date, r.cancel_date])).toEqual([
      [2, 'public-security', P.p1.id, '迁出', 0, null, '2024-05-10'],
      [3, 'public-security', P.p2.id, '出国（境）定居', 0, null, '2024-06-01'],
      [4, 'public-security', P.p3.id, '重复登记', 0, null, '2024-06-02'],
      [5, 'public-security', P.p4.id, '死亡', 1, '2024-03-05', '2024-04-20'],
    ]);
  });

  it('a public-security file without 注销原因 is refused whole (a cancellation cannot be told from a death)', async () => {
    const e = await single('deaths-public-security-no-reason.csv', 'deaths/public-security/x.csv');
    const f = await e.file('deaths/public-security/x.csv');
    expect([f.status, f.error_code]).toEqual(['rejected', 'HEADER_NOT_FOUND']);
    expect(f.error).toContain('not found: cancel_reason (注销原因 / cancel_reason)');
  });

  it.each([
    ['2025-12-31', [5, 2, 2, 1, 0], [[3, 'DEATH_DATE_FUTURE'], [4, 'DEATH_BEFORE_BIRTH']], [2, 5]],
    ['2026-01-05', [5, 3, 1, 1, 0], [[4, 'DEATH_BEFORE_BIRTH']], [2, 3, 5]],
  ])('civil affairs with --as-of %s: future deaths and deaths before birth are refused', async (asOf, accounting, rejectCodes, kept) => {
    const e = await single('deaths-civil-affairs.csv', 'deaths/civil-affairs/ca.csv', { asOf });
    expect(counts(await e.file('deaths/civil-affairs/ca.csv'))).toEqual(accounting);
    expect(codes(await e.rejects('deaths/civil-affairs/ca.csv'))).toEqual(rejectCodes);
    expect(lines(await e.deaths('deaths/civil-affairs/ca.csv'))).toEqual(kept);
  });

  it('health: 2024年3月5日 dates; a death before the birth date inside the ID is refused; each source keeps its record', async () => {
    env = await ingestEnv();
    env.put('deaths/health/h.csv', 'deaths-health.csv');
    env.put('deaths/public-security/ps.csv', 'deaths-public-security.csv');
    await env.run();
    expect(counts(await env.file('deaths/health/h.csv'))).toEqual([4, 2, 1, 1, 0]);
    const rej = await env.rejects('deaths/health/h.csv');
    expect(codes(rej)).toEqual([[3, 'DEATH_BEFORE_BIRTH']]);
    expect(rej[0]!.reason).toBe('death date 1950-01-01 is before the birth date 1955-03-18');
    expect((await env.deaths('deaths/health/h.csv')).map((r) => [r.line, r.death_date])).toEqual([[2, '2024-03-05'], [4, '2024-02-28']]);
    // The same person in two sources: both records are kept as they came.
    const p4 = await env.store.db.selectFrom('death_record').select(['source', 'death_date']).where('id_number', '=', P.p4.id).orderBy('source').execute();
    expect(p4).toEqual([{ source: 'health', death_date: '2024-02-28' }, { source: 'public-security', death_date: '2024-03-05' }]);
  });
});

describe('XLSX extracts', () => {
  const zones = ['UTC', 'Asia/Shanghai', 'America/Los_Angeles', 'Pacific/Kiritimati'];

  it.each(zones)('title rows, date cells, rich text, formula results and a matching 合计 — the same under TZ=%s', async (tz) => {
    const saved = process.env.TZ;
    process.env.TZ = tz;
    try {
      const e = await single('pay-title-dates.xlsx', 'payments/t.xlsx');
      const f = await e.file('payments/t.xlsx');
      expect([f.status, f.format, f.encoding, f.header_line]).toEqual(['ingested', 'xlsx', null, 3]);
      expect(counts(f)).toEqual([8, 3, 0, 5, 0]);
      expect(await e.rejects('payments/t.xlsx')).toEqual([]);
      expect((await e.payments('payments/t.xlsx')).map((r) => [r.line, r.name, r.scheme, r.period, r.amount_fen, r.paid_on])).toEqual([
        [4, P.p1.name, '110', '2024-03', 345670, '2024-03-05'],
        [5, P.p2.name, '110', '2024-03', 210000, '2024-03-05'],
        [6, P.p3.name, '110', '2024-03', 123450, '2024-03-05'],
      ]);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it('identifiers stored as numbers: 15 digits are exact, longer ones lost digits and are refused', async () => {
    const e = await single('pay-numeric-cells.xlsx', 'payments/n.xlsx');
    expect(counts(await e.file('payments/n.xlsx'))).toEqual([9, 3, 5, 1, 0]);
    const rej = await e.rejects('payments/n.xlsx');
    expect(codes(rej)).toEqual([
      [3, 'ID_PRECISION_LOST'], [4, 'ACCOUNT_PRECISION_LOST'], [6, 'AMOUNT_TOO_PRECISE'], [7, 'AMOUNT_TOO_PRECISE'], [9, 'BATCH_PRECISION_LOST'],
    ]);
    expect(rej[0]!.reason).toBe('resident ID "360103********2000" was stored as a number and has lost digits (a spreadsheet keeps 15 significant digits); store the column as text');
    expect(rej[3]!.reason).toBe('amount "0.30000000000000004" has 17 decimals; at most 2 (fen) — not rounded');
    expect((await e.payments('payments/n.xlsx')).map((r) => [r.line, r.id_number, r.id_raw, r.account, r.amount_fen])).toEqual([
      [2, P.p1.id, P.p1.id.slice(0, 6) + P.p1.id.slice(8, 17), '6217000000009', 100000],
      [5, P.p4.id, P.p4.id, '621700123456', 100000],
      [8, P.p7.id, P.p7.id, '6217000000009', -345670],
    ]);
  });

  it('raw text of XLSX rejects is comma-joined cells; masking leaves no full ID or account in it', async () => {
    const e = await single('pay-numeric-cells.xlsx', 'payments/n.xlsx');
    const rej = await e.rejects('payments/n.xlsx');
    expect(rej[0]!.raw).toBe(`P3000,${P.p2.name},360103194807052000,,110,基本养老金,202403,1000,2024-03-05,6217000000009,中国建设银行,360102000001,B202403`);
    for (const r of rej) expect(maskIdsInText(r.raw)).not.toMatch(/\d{14,}/);
    expect(maskIdsInText(rej[1]!.raw)).toContain('***************0000');
  });

  it('the 1904 date system gives the same dates (exceljs writer, date1904="1")', async () => {
    const e = await single('deaths-1904.xlsx', 'deaths/civil-affairs/d.xlsx');
    expect(counts(await e.file('deaths/civil-affairs/d.xlsx'))).toEqual([3, 2, 0, 1, 0]);
    expect((await e.deaths('deaths/civil-affairs/d.xlsx')).map((r) => [r.line, r.birth_date, r.death_date, r.cremation_date])).toEqual([
      [2, '1940-02-03', '2024-01-15', '2024-01-18'],
      [3, '1938-10-09', '2023-12-31', '2024-01-02'],
    ]);
  });

  it('zh-CN built-in date formats, date1904="true", styles and workbook.xml after the sheet in the archive', async () => {
    const e = await single('pay-cjk-formats-1904.xlsx', 'payments/c.xlsx');
    expect(counts(await e.file('payments/c.xlsx'))).toEqual([3, 2, 0, 1, 0]);
    expect((await e.payments('payments/c.xlsx')).map((r) => [r.line, r.period, r.paid_on, r.amount_fen])).toEqual([
      [2, '2024-03', '2024-03-05', 234560],
      [3, '2024-03', '2024-03-05', 234560],
    ]);
  });

  it('every sheet is read: a title row on the second sheet, lines stacked, the sheet named in the reason', async () => {
    const e = await single('pay-two-sheets.xlsx', 'payments/two.xlsx');
    const f = await e.file('payments/two.xlsx');
    expect(counts(f)).toEqual([7, 3, 1, 3, 0]);
    expect(f.header_line).toBe(1);
    expect(lines(await e.payments('payments/two.xlsx'))).toEqual([2, 3, 6]);
    const rej = await e.rejects('payments/two.xlsx');
    expect(codes(rej)).toEqual([[7, 'ID_BAD_LENGTH']]);
    expect(rej[0]!.reason).toBe('resident ID has 14 characters; expected 18 (or legacy 15) [sheet 2 "二月", row 4]');
  });

  it('a sheet with rows but no header refuses the whole workbook, naming the sheet', async () => {
    const e = await single('pay-sheet-without-header.xlsx', 'payments/s.xlsx');
    const f = await e.file('payments/s.xlsx');
    expect([f.status, f.error_code]).toEqual(['rejected', 'HEADER_NOT_FOUND']);
    expect(f.error).toContain('no recognisable payment header in the first 50 rows of sheet 2 "说明" (headers found, row 1: 本表数据来源：社保信息系统;');
    expect(await e.payments('payments/s.xlsx')).toEqual([]);
  });
});

describe('accounting', () => {
  it('rows read = accepted + rejected + skipped for every fixture ingested together', async () => {
    env = await ingestEnv();
    const fixtures: [string, string][] = [
      ['pay-title-rows.csv', 'payments/01.csv'], ['pay-repeated-header.csv', 'payments/02.csv'], ['pay-summary-match.csv', 'payments/03.csv'],
      ['pay-summary-mismatch.csv', 'payments/04.csv'], ['pay-blank-notes-crlf.csv', 'payments/05.csv'], ['pay-bom-quoted-newline.csv', 'payments/06.csv'],
      ['pay-gb18030-rare-names.csv', 'payments/07.csv'], ['pay-amounts.csv', 'payments/08.csv'], ['pay-title-dates.xlsx', 'payments/09.xlsx'],
      ['pay-numeric-cells.xlsx', 'payments/10.xlsx'], ['pay-two-sheets.xlsx', 'payments/11.xlsx'], ['pay-cjk-formats-1904.xlsx', 'payments/12.xlsx'],
      ['deaths-public-security.csv', 'deaths/public-security/1.csv'], ['deaths-civil-affairs.csv', 'deaths/civil-affairs/1.csv'],
      ['deaths-health.csv', 'deaths/health/1.csv'], ['deaths-1904.xlsx', 'deaths/civil-affairs/2.xlsx'],
    ];
    for (const [fx, to] of fixtures) env.put(to, fx);
    const reports = await env.run();
    expect(reports.filter((r) => r.status === 'ingested')).toHaveLength(fixtures.length);
    for (const r of reports) {
      expect(r.rowsRead, r.path).toBe(r.rowsAccepted + r.rowsRejected + r.rowsSkipped);
      const stored = await env.store.db.selectFrom('reject').innerJoin('source_file', 'source_file.id', 'reject.file_id')
        .select(['reject.code']).where('source_file.path', '=', r.path).execute();
      // Every rejected row has its reject; SUMMARY_MISMATCH notes belong to skipped summary rows.
      expect(stored.filter((s) => s.code !== 'SUMMARY_MISMATCH'), r.path).toHaveLength(r.rowsRejected);
    }
  });
});
