/** Synthetic videos made by ffmpeg (the system's, or the npm package's: whichever ct-edge itself runs). */
import { execFileSync } from 'node:child_process';
import { ffmpegPath } from '../../ts/deploy/io/ffmpeg.js';

/** 25 frames a second (50 in the default 2 s) of 160x120; a red 24 px square's top-left corner is at (20 + 1.2 i, 30 + 0.4 i) in frame i. */
export function makeMovingSquareVideo(path: string, seconds = 2): void {
  const inputs = ['-f', 'lavfi', '-i', `color=c=0x203040:s=160x120:r=25:d=${seconds}`, '-f', 'lavfi', '-i', 'color=c=red:s=24x24:r=25'];
  const move = "[0][1]overlay=x='20+t*30':y='30+t*10':shortest=1";
  execFileSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', ...inputs, '-filter_complex', move, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', path]);
}
