/**
 * tfjs-core registers no gradient functions when loaded in Node (its gradient definitions ship
 * only as ESM sources Node cannot import); the @tensorflow/tfjs bundle registers all of them on
 * import. Import this module (for its side effect) wherever tf.grads or tf.variableGrads runs.
 */
import '@tensorflow/tfjs';
