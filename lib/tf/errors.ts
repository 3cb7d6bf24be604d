import { LabError } from "../errors.js";

/**
 * A TensorFlow.js backend that was asked for and cannot run, or no backend at all; and
 * wasm/out-of-memory, an allocation the wasm backend's heap (at most 4 GiB) cannot hold.
 */
export class BackendError extends LabError {}

/**
 * Why the WebGPU route cannot run here. Codes, by what is missing:
 *   webgpu/package-missing   the optional npm packages `webgpu` or `@tensorflow/tfjs-backend-webgpu`
 *   webgpu/no-vulkan-loader  libvulkan.so.1 is not on the library path
 *   webgpu/no-icd            the loader is there but no Vulkan driver (ICD manifest) is registered
 *   webgpu/no-egl            no libEGL.so.1 for Dawn's GL ES backend
 *   webgpu/no-adapter        the loader and driver are there, and still no adapter
 *   webgpu/software-adapter  only a software renderer (llvmpipe, lavapipe, SwiftShader) answered
 *   webgpu/out-of-memory     the device refused an allocation
 *   webgpu/device-lost       the device went away (driver reset, unplugged, destroyed)
 *   webgpu/device-error      the device reported another error (validation, internal)
 *   webgpu/self-test         the device ran a matrix product and got the wrong numbers
 *   webgpu/sync-read         code read a device tensor synchronously, which Node's WebGPU cannot
 */
export class WebGpuError extends BackendError {}
