/** A folder of images (JPEG, PNG, ...; natural name order) as a frame source, decoded by sharp. */
import { listImages } from '../datasets/common.js';
import { CtEdgeError } from '../../contract/errors.js';
import type { SourceFrame } from '../stream.js';
import { loadSharp, readImage } from './images.js';
import type { FrameSource, SourceInfo } from './source.js';

export interface ImageFolderOptions {
  /** Rate the timestamps assume (default 30). */
  fps?: number;
  signal?: AbortSignal;
}

export async function openImageFolder(dir: string, options: ImageFolderOptions = {}): Promise<FrameSource> {
  const paths = await listImages(dir).catch((error: CtEdgeError) => {
    throw new CtEdgeError('ERR_SOURCE', error.message, { cause: error });
  });
  const sharp = await loadSharp();
  const first = await sharp(paths[0]).metadata().catch((error: Error) => {
    throw new CtEdgeError('ERR_SOURCE', `cannot read image ${paths[0]}: ${error.message}`, { cause: error });
  });
  const fps = options.fps ?? 30;
  const info: SourceInfo = { kind: 'images', uri: dir, width: first.width ?? 0, height: first.height ?? 0, format: 'rgb', fps, frameCount: paths.length, live: false };
  let closed = false;
  async function* frames(): AsyncGenerator<SourceFrame> {
    for (let index = 0; index < paths.length && !closed; index++) {
      options.signal?.throwIfAborted();
      const frame = await readImage(paths[index]);
      if (frame.width !== info.width || frame.height !== info.height) {
        throw new CtEdgeError('ERR_SOURCE', `${paths[index]} is ${frame.width}x${frame.height}, the folder's first image ${info.width}x${info.height}`);
      }
      yield { frame, timestampMs: (index * 1000) / fps, index };
    }
  }
  return {
    info,
    [Symbol.asyncIterator]: frames,
    close: async () => {
      closed = true;
    },
    [Symbol.asyncDispose]: async () => {
      closed = true;
    },
  };
}
