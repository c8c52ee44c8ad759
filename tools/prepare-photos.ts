/**
 * Real photographs from Debian packages as training stills for `ct-edge compress --data
 * regions:stills:DIR` (docs/TRAINING.md lists the packages and their licences). Each image is
 * resized to fit 960 px (decoding a 5K wallpaper per training pair would dominate a step) and
 * written as JPEG into --out; nothing here is shipped.
 *
 *   sudo apt-get install opencv-doc python3-skimage plasma-workspace-wallpapers mate-backgrounds
 *   npx tsx tools/prepare-photos.ts --out ../traindata/photos
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

/** Where each package puts its photographs, and which of them are photographs (not drawings). */
const PACKAGES = [
  { name: 'opencv-doc', dir: '/usr/share/doc/opencv-doc/examples/data', pick: (f: string) => /\.(jpe?g|png)$/i.test(f) },
  {
    name: 'python3-skimage',
    dir: '/usr/lib/python3/dist-packages/skimage/data',
    pick: (f: string) => /^(astronaut|brick|camera|chelsea|coffee|coins|color|grass|gravel|horse|hubble_deep_field|ihc|moon|motorcycle_left|motorcycle_right|retina|rocket|rough-wall|lily_of_the_valley)\./.test(f),
  },
  { name: 'mate-backgrounds', dir: '/usr/share/backgrounds/mate/nature', pick: (f: string) => /\.(jpe?g|png)$/i.test(f) },
] as const;
/** plasma-workspace-wallpapers: the photographic ones (the others are drawn or abstract). */
const PLASMA_PHOTOS = ['Altai', 'Autumn', 'BytheWater', 'Canopee', 'ColdRipple', 'ColorfulCups', 'DarkestHour', 'EveningGlow', 'FallenLeaf', 'Kite', 'MilkyWay', 'Path', 'summer_1am', 'Grey', 'Patak', 'Volna', 'SafeLanding', 'Cascade'];

const { values } = parseArgs({ options: { out: { type: 'string' } } });
if (!values.out) {
  console.error('usage: npx tsx tools/prepare-photos.ts --out DIR');
  process.exit(2);
}
const images: [string, string][] = [];
for (const p of PACKAGES) {
  if (!existsSync(p.dir)) {
    console.error(`prepare-photos: ${p.dir} is missing; sudo apt-get install ${p.name}`);
    process.exit(1);
  }
  for (const f of readdirSync(p.dir).filter(p.pick).sort()) images.push([join(p.dir, f), p.name]);
}
for (const w of PLASMA_PHOTOS) {
  const dir = `/usr/share/wallpapers/${w}/contents/images`;
  if (!existsSync(dir)) continue;
  // the largest size up to 1920 px wide (names are WIDTHxHEIGHT.jpg)
  const sizes = readdirSync(dir).filter((f) => /^\d+x\d+\.(jpe?g|png)$/i.test(f)).sort((a, b) => parseInt(b) - parseInt(a));
  const chosen = sizes.find((f) => parseInt(f) <= 1920) ?? sizes[sizes.length - 1];
  if (chosen) images.push([join(dir, chosen), `plasma-workspace-wallpapers-${w}`]);
}
mkdirSync(values.out, { recursive: true });
let written = 0;
for (const [path, from] of images) {
  const out = join(values.out, `${from}-${basename(path, extname(path))}.jpg`);
  await sharp(path).rotate().resize({ width: 960, height: 960, fit: 'inside', withoutEnlargement: true }).flatten({ background: '#808080' }).toColourspace('srgb').jpeg({ quality: 90 }).toFile(out);
  written++;
}
console.log(`wrote ${written} photographs into ${values.out}`);
