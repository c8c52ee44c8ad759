export type PixelFormat = 'rgb' | 'bgr' | 'rgba' | 'bgra' | 'gray' | 'nv12';

/**
 * An 8-bit image in memory the caller owns; ct-edge reads it in place and never keeps it past the
 * call. NV12: the luma plane (height rows) followed by the interleaved UV plane (height/2 rows),
 * both with the same stride.
 */
export interface Frame {
  data: Uint8Array | Uint8ClampedArray | ArrayBuffer;
  width: number;
  height: number;
  format: PixelFormat;
  /** Bytes per row; default width * bytes per pixel. */
  stride?: number;
  /**
   * NV12 only: the colour matrix of its YUV values. Default 'bt601' (camera pipelines such as
   * nvarguscamerasrc and V4L2); HD video and hardware decoders are usually 'bt709'.
   */
  colorMatrix?: 'bt601' | 'bt709';
  /** NV12 only: 'limited' (Y 16-235, UV 16-240; the default) or 'full' (0-255). */
  colorRange?: 'limited' | 'full';
}

/** Pixels, top-left corner and size. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type TrackState = 'tracking' | 'lost';

export interface StageTimings {
  /** Search crop, resize and normalisation (native, off the event loop). */
  preprocessMs: number;
  /** The backend's network call. */
  inferenceMs: number;
  /** Hann window, argmax, decode and map-back (native). */
  postprocessMs: number;
  /** Wall time of the whole track() call, including the glue between the stages. */
  totalMs: number;
}

export interface TrackResult {
  /** Where the target is; while lost, the last box where it was seen. */
  box: Box;
  /** Hann-windowed peak of the score map (0..1), the value `lost` is judged on. */
  score: number;
  state: TrackState;
  /** 0 for the first frame after init. */
  frameIndex: number;
  timings: StageTimings;
}
