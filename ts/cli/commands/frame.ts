/** `ct-edge frame`: one frame of a video as an image with a pixel grid, to read a --box off it. */
import { parseArgs } from 'node:util';
import { CtEdgeError } from '../../contract/errors.js';
import type { Frame } from '../../contract/types.js';
import { toRgb } from '../../deploy/io/convert.js';
import { COLORS, drawLabel, drawRect, fillRect, type Rgb } from '../../deploy/io/draw.js';
import { writeImage } from '../../deploy/io/images.js';
import { openSource } from '../../deploy/io/open.js';
import type { CliCommand } from '../command.js';
import { checkOutputFile } from '../outputs.js';
import { parseBoxFlag, parseIntFlag } from '../model-options.js';

const usage = `usage: ct-edge frame <video|folder> --at N -o frame.png [--grid PX] [--box x,y,w,h]

Writes frame N of a video (or image folder) as PNG or JPEG with a pixel grid, its lines labelled
with their x and y, so that a target's box can be read off it for \`ct-edge track --box\`.

Options:
  --at N          the frame, 0 being the first (default 0); with \`track --from N\`, the same N
  -o, --out PATH  the image (.png or .jpg)
  --grid PX       grid spacing in pixels (default 50, 100 from 1280 px wide; 0: no grid)
  --box x,y,w,h   also draw this box, to check one before tracking

Example:
  ct-edge frame my-video.mp4 --at 0 -o first.png`;

const GRID: Rgb = [255, 220, 0];

/** Grid lines every `step` pixels, each labelled with its coordinate along the top and left edges. */
function drawGrid(frame: Frame, step: number): void {
  const scale = frame.width >= 1280 ? 2 : 1;
  for (let x = step; x < frame.width; x += step) fillRect(frame, x, 0, 1, frame.height, GRID);
  for (let y = step; y < frame.height; y += step) fillRect(frame, 0, y, frame.width, 1, GRID);
  for (let x = step; x < frame.width; x += step) drawLabel(frame, String(x), x + 2, 2, GRID, scale);
  for (let y = step; y < frame.height; y += step) drawLabel(frame, String(y), 2, y + 2, GRID, scale);
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { at: { type: 'string', default: '0' }, out: { type: 'string', short: 'o' }, grid: { type: 'string' }, box: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give one video file or image folder');
    if (!values.out) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'name the image to write with -o frame.png');
    if (!/\.(png|jpe?g)$/i.test(values.out)) throw new CtEdgeError('ERR_OUTPUT', `-o ${values.out}: write a .png or .jpg image`);
    checkOutputFile(values.out, '-o');
    const at = parseIntFlag(values.at, 'at', 0, 0);
    const box = values.box === undefined ? undefined : parseBoxFlag(values.box);
    const [input] = positionals;
    const source = await openSource(input);
    let frame: Frame | undefined;
    let count = 0;
    try {
      for await (const f of source) {
        count += 1;
        if (f.index === at) {
          frame = toRgb(f.frame);
          break;
        }
      }
    } finally {
      await source.close();
    }
    if (!frame) throw new CtEdgeError('ERR_SOURCE', `${input} has ${count} frame(s); --at takes 0 to ${count - 1}`);
    const step = values.grid === undefined ? (frame.width >= 1280 ? 100 : 50) : parseIntFlag(values.grid, 'grid', 0, 0);
    if (step > 0) drawGrid(frame, step);
    if (box) drawRect(frame, box, COLORS.tracking, 2);
    await writeImage(values.out, frame);
    console.log(`wrote ${values.out}: frame ${at} of ${input}, ${frame.width}x${frame.height}${step > 0 ? `, grid every ${step} px` : ''}${box ? ', with the box' : ''}`);
    return 0;
  },
};
