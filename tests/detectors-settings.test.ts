/**
 * The `detectors` section of the settings file: defaults, overrides, and clear errors for bad values.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../src/config/settings.ts';
import { DEFAULT_DETECTOR_SETTINGS } from '../src/config/detector-settings.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-detector-settings-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
function withSettings(json: unknown) {
  const file = path.join(dir, `s${n++}.json`);
  fs.writeFileSync(file, JSON.stringify(json));
  return () => loadSettings(file, dir);
}

describe('detectors settings', () => {
  it('defaults without a settings file', () => {
    const s = loadSettings(undefined, dir);
    expect(s.detectors).toEqual(DEFAULT_DETECTOR_SETTINGS);
    expect(s.detectors.shared_account.minPersons).toBe(3);
    expect(s.detectors.amount_anomaly.threshold).toBe(5);
    expect(s.detectors.benford.minRows).toBe(500);
    expect(Object.isFrozen(s.detectors.amount_anomaly.excludeItems)).toBe(true);
  });

  it('a partial section overrides only what it names', () => {
    const s = withSettings({ detectors: { shared_account: { minPersons: 2 }, amount_anomaly: { threshold: 3.5 }, benford: { items: ['back_pay'] } } })();
    expect(s.detectors.shared_account.minPersons).toBe(2);
    expect(s.detectors.amount_anomaly).toEqual({ ...DEFAULT_DETECTOR_SETTINGS.amount_anomaly, threshold: 3.5 });
    expect(s.detectors.benford).toEqual({ minRows: 500, items: ['back_pay'] });
    expect(s.detectors.concurrent_pension).toEqual(DEFAULT_DETECTOR_SETTINGS.concurrent_pension);
  });

  it.each([
    ['minPersons below 2', { shared_account: { minPersons: 1 } }, 'detectors.shared_account.minPersons: minPersons must be at least 2'],
    ['minPersons not whole', { shared_account: { minPersons: 2.5 } }, 'detectors.shared_account.minPersons: minPersons must be a whole number'],
    ['threshold 0', { amount_anomaly: { threshold: 0 } }, 'detectors.amount_anomaly.threshold: threshold must be greater than 0'],
    ['threshold text', { amount_anomaly: { threshold: '5' } }, 'detectors.amount_anomaly.threshold:'],
    ['minHistory 2', { amount_anomaly: { minHistory: 2 } }, 'detectors.amount_anomaly.minHistory: minHistory must be at least 3'],
    ['relative spread above 1', { amount_anomaly: { minRelativeSpread: 2 } }, 'detectors.amount_anomaly.minRelativeSpread: minRelativeSpread is a fraction of the median, at most 1'],
    ['Benford minRows 10', { benford: { minRows: 10 } }, 'detectors.benford.minRows: minRows must be at least 50'],
    ['Benford without items', { benford: { items: [] } }, 'detectors.benford.items: list at least one item code'],
    ['bad scheme code', { concurrent_pension: { otherSchemes: ['11'] } }, 'detectors.concurrent_pension.otherSchemes.0: a scheme code is 3 digits'],
    ['resident scheme among the others', { concurrent_pension: { otherSchemes: ['110', '170'] } }, 'detectors.concurrent_pension.otherSchemes: otherSchemes must not contain the residentScheme'],
    ['a typo', { shared_account: { minPerson: 3 } }, 'detectors.shared_account'],
    ['an unknown detector', { duplicate_payments: {} }, 'detectors'],
  ])('%s', (_name, section, message) => {
    const load = withSettings({ detectors: section });
    expect(load).toThrow(SettingsError);
    expect(load).toThrow(message);
  });
});
