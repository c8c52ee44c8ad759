/** Stand-ins for the addon's GPU parts, for tests of the TensorRT glue without TensorRT or a GPU. */
import { loadNative, overrideNative, type CudaDeviceInfo, type TensorRtBinding } from '../../ts/deploy/native.js';

/** A Jetson Orin as exports.cuda.probe() reports it. */
export const orin: CudaDeviceInfo = {
  available: true, device: 0, name: 'Orin (nvgpu)', computeCapability: '8.7', totalMemory: 8 << 30, integrated: true, runtimeVersion: 12060, driverVersion: 12060,
};

/** Makes loadNative() answer with `binding` as exports.tensorrt and `device` as the CUDA device (undo: overrideNative(undefined)). */
export function installFakeTensorRt(binding: TensorRtBinding, device: CudaDeviceInfo = orin): void {
  overrideNative({ ...loadNative(), features: { cuda: true, tensorrt: true }, tensorrt: binding, cuda: { probe: () => device, cropToTensor: () => undefined } });
}
