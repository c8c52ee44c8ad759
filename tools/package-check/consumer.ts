// A strict consumer of ct-edge's typings (compiled with skipLibCheck off).
import { CtEdgeError, Engine, Tracker, type Box, type TrackResult } from 'ct-edge';

export async function first(model: string, frame: { data: Uint8Array; width: number; height: number }, box: Box): Promise<TrackResult | CtEdgeError> {
  const engine = await Engine.load(model, { threads: 1 });
  const tracker = new Tracker(engine);
  try {
    tracker.init({ ...frame, format: 'rgb' }, box);
    return await tracker.track({ ...frame, format: 'rgb' });
  } catch (error) {
    if (error instanceof CtEdgeError) return error;
    throw error;
  } finally {
    tracker.dispose();
    await engine.dispose();
  }
}
