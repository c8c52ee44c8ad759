/**
 * Every failure the SDK reports on purpose is a CtEdgeError with a stable `code`, so callers can
 * branch on the code and users read a message that says what was wrong and what to do.
 */
export type ErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_THREADS'
  | 'ERR_FRAME_DATA'
  | 'ERR_FRAME_FORMAT'
  | 'ERR_FRAME_SIZE'
  | 'ERR_FRAME_STRIDE'
  | 'ERR_FRAME_BUFFER'
  | 'ERR_BOX_INVALID'
  | 'ERR_BOX_OUTSIDE'
  | 'ERR_NOT_INITIALIZED'
  | 'ERR_TARGET_UNKNOWN'
  | 'ERR_BUSY'
  | 'ERR_DISPOSED'
  | 'ERR_MODEL_NOT_FOUND'
  | 'ERR_MODEL_INVALID'
  | 'ERR_MODEL_IO'
  | 'ERR_MODEL_OUTPUT'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_NATIVE_MISSING'
  | 'ERR_DATASET'
  | 'ERR_CHECKPOINT'
  | 'ERR_TRAINING_DIVERGED'
  | 'ERR_CALIBRATION'
  | 'ERR_STOPPED'
  | 'ERR_SOURCE'
  | 'ERR_OUTPUT'
  | 'ERR_ENGINE_MISMATCH'
  | 'ERR_ENGINE_METADATA'
  | 'ERR_ONNX_PARSE'
  | 'ERR_TENSORRT'
  | 'ERR_CUDA'
  | 'ERR_IO'
  | 'ERR_MQTT_AUTH'
  | 'ERR_MQTT_TLS'
  | 'ERR_COMMAND'
  | 'ERR_INTERNAL';

export class CtEdgeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CtEdgeError';
    this.code = code;
  }
}

/** Re-throws an error from the native addon (which carries a `code`) as a CtEdgeError. */
export function fromNative(error: unknown): never {
  if (error instanceof CtEdgeError) throw error;
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && e.code.startsWith('ERR_')) {
    throw new CtEdgeError(e.code as ErrorCode, String(e.message), { cause: error });
  }
  throw error;
}

/** Calls into the addon, converting its coded errors. */
export function native<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    fromNative(error);
  }
}
