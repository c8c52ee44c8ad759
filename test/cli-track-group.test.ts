/**
 * `ct-edge track` with --box repeated: one TrackerGroup on the shipped footage. JSON lines and CSV
 * carry every target with its id, each target's boxes are those of a run with its box alone, and
 * the annotated video draws each target in its own colour. Run in-process, serially (the tests
 * read what the command prints).
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command } from '../ts/cli/commands/track.js';
import { TARGET_COLORS } from '../ts/deploy/io/draw.js';
import { toRgb } from '../ts/deploy/io/convert.js';
import { CtEdgeError, openSource } from '../ts/index.js';
import { repoRoot } from './helpers/data.js';
import { runCommand } from './helpers/cli.js';

const footage = join(repoRoot, 'models', 'tree.avi');
const model = join(repoRoot, 'models', 'student-2.onnx');
const BOXES = ['100,60,40,40', '200,100,50,40', '20,20,30,30'];
const FRAMES = 25;

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-group-cli-'));
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

const track = (args: string[]) => runCommand(command, args);

const readJsonl = async (path: string) => (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);

test.serial('several --box: every output carries each target by id, each tracked as it would be alone', async (t) => {
  const [jsonl, csv, out] = ['group.jsonl', 'group.csv', 'group.mp4'].map((f) => join(dir, f));
  const boxFlags = BOXES.flatMap((b) => ['--box', b]);
  const { code: exitCode, stdout } = await track([footage, '--model', model, '--threads', '1', ...boxFlags, '--frames', String(FRAMES), '--jsonl', jsonl, '--csv', csv, '-o', out]);
  t.is(exitCode, 0);
  t.regex(stdout, new RegExp(`tracked ${FRAMES} frames`));
  t.regex(stdout, new RegExp(`targets reported lost: 1 in \\d+, 2 in \\d+, 3 in \\d+ \\(of ${FRAMES - 1} frames\\)`));

  const records = await readJsonl(jsonl);
  t.is(records.length, FRAMES * BOXES.length);
  t.deepEqual(records.slice(0, 3).map((r) => [r.frame, r.target, `${r.x},${r.y},${r.w},${r.h}`, r.score]), BOXES.map((b, i) => [0, i + 1, b, 1]));
  t.deepEqual([...new Set(records.map((r) => r.frame))], [...Array(FRAMES).keys()]);
  t.true(records.every((r, i) => r.target === (i % 3) + 1), 'each frame lists targets 1, 2, 3 in order');

  const csvLines = (await readFile(csv, 'utf8')).trim().split('\n');
  t.is(csvLines[0], 'frame,target,timestamp_ms,x,y,w,h,score,state');
  t.is(csvLines.length, 1 + FRAMES * BOXES.length);
  t.is(csvLines[4], [records[3].frame, records[3].target, records[3].timestampMs, records[3].x, records[3].y, records[3].w, records[3].h, records[3].score, records[3].state].join(','));

  // Each target's boxes: those of a run with its box alone (rounded to 0.01 px in both files).
  for (const [i, box] of BOXES.entries()) {
    const alone = join(dir, `alone-${i}.jsonl`);
    await track([footage, '--model', model, '--threads', '1', '--box', box, '--frames', String(FRAMES), '--jsonl', alone]);
    const single = await readJsonl(alone);
    const mine = records.filter((r) => r.target === i + 1);
    t.is(single.length, mine.length);
    single.forEach((r, f) => {
      for (const k of ['x', 'y', 'w', 'h'] as const) t.true(Math.abs((r[k] as number) - (mine[f][k] as number)) <= 0.011, `target ${i + 1}, frame ${f}, ${k}: ${r[k]} alone, ${mine[f][k]} in the group`);
      t.is(r.state, mine[f].state);
    });
  }

  // The video: frame 0 shows each init box's top edge in that target's colour.
  const source = await openSource(out);
  let first;
  for await (const f of source) {
    first = toRgb(f.frame);
    break;
  }
  await source.close();
  const px = first!.data as Uint8Array;
  BOXES.forEach((b, i) => {
    const [x, y, w] = b.split(',').map(Number);
    const at = (y * first!.width + x + Math.round(w / 2)) * 3;
    const got = [px[at], px[at + 1], px[at + 2]];
    const want = TARGET_COLORS[i];
    t.true(got.every((v, c) => Math.abs(v - want[c]) <= 60), `target ${i + 1}'s box edge is ${got}, its colour ${want}`);
  });
  t.notDeepEqual(TARGET_COLORS[0], TARGET_COLORS[1]);
});

test.serial('bad --box and --group without targets are refused before anything is opened, naming the way out', async (t) => {
  const err = await t.throwsAsync(track([footage, '--model', model, '--group']), { instanceOf: CtEdgeError });
  t.is(err?.code, 'ERR_INVALID_ARGUMENT');
  t.regex(err!.message, /--group without --publish needs its targets: give --box x,y,w,h once per target/);
  const bad = await t.throwsAsync(track([footage, '--model', model, '--box', BOXES[0], '--box', '1,2,3']), { instanceOf: CtEdgeError });
  t.regex(bad!.message, /--box must be x,y,w,h in pixels with w,h > 0, got '1,2,3'/);
});
