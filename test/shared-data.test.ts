/**
 * The tests that need ../shared/data (VitTrack and the real sequences) skip without it on a
 * developer's machine; in CI (CI=true, which .ci/run sets) a missing copy fails the run instead, so
 * that a green CI always includes them (issue 28).
 */
import test from 'ava';
import { hasSharedData, sharedDataSkipReason } from './helpers/data.js';

const ci = process.env.CI === 'true';

(ci ? test : test.skip)(`CI has the shared real data${ci ? '' : ' (not CI: the tests that need it skip when it is missing)'}`, (t) => {
  t.true(hasSharedData, `${sharedDataSkipReason}; CI must run the real-data tests, not skip them`);
});
