/**
 * CompressTracker's published figures (DESIGN.md, "Reference facts"), printed beside our
 * measurements for comparison: LaSOT success AUC (%) and RTX 2080Ti FPS, OSTrack-256 the teacher.
 */
export interface PaperRow {
  model: string;
  blocks: number;
  auc: number;
  fps: number;
}

export const PAPER_TABLE1: readonly PaperRow[] = [
  { model: 'OSTrack-256 (teacher)', blocks: 12, auc: 69.1, fps: 105 },
  { model: 'CompressTracker-2', blocks: 2, auc: 60.4, fps: 346 },
  { model: 'CompressTracker-3', blocks: 3, auc: 64.9, fps: 267 },
  { model: 'CompressTracker-4', blocks: 4, auc: 66.1, fps: 228 },
  { model: 'CompressTracker-6', blocks: 6, auc: 67.5, fps: 162 },
  { model: 'CompressTracker-8', blocks: 8, auc: 68.4, fps: 127 },
];

/** The ablation on a 4-block student (300 epochs), LaSOT AUC by our variant names; DESIGN.md has no guidance-only figure. */
export const PAPER_ABLATION: Readonly<Record<string, number | undefined>> = {
  gt: 62.8,
  guidance: undefined,
  full: 65.2,
  'constant-p': 64.8,
};
