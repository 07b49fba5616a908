/* cuda_driver_api.h — the few NVIDIA driver API types, constants and function shapes driver*.c use, written
 * from NVIDIA's documented driver API (CUDA Driver API reference, cuda.h) so that the library builds with no
 * NVIDIA header or library: libcuda.so.1 is opened at run time and every entry point is found by name.
 *
 * Values are the documented ABI (they never change once released); only what driver*.c need is here. The
 * function typedefs are the signatures of the entry points cuGetProcAddress returns for cudaVersion 11000
 * (the "_v2" forms for cuMemAlloc, cuMemcpy*, cuStreamDestroy, cuDeviceTotalMem, cuMemGetInfo,
 * cuDevicePrimaryCtxRelease, cuCtxPushCurrent/PopCurrent). The fake driver of the tests
 * (native/tests/cuda/fake_libcuda.c) implements the same shapes. */
#ifndef MST_CUDA_DRIVER_API_H
#define MST_CUDA_DRIVER_API_H

#include <stddef.h>
#include <stdint.h>

typedef int CUresult;                 /* enum cudaError_enum: 0 = CUDA_SUCCESS */
typedef int CUdevice;                 /* device ordinal handle */
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr; /* CUdeviceptr_v2: pointer-sized on 64-bit hosts */
typedef int CUjit_option;
typedef int CUdevice_attribute;
typedef int CUfunction_attribute;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
typedef struct CUgraphNode_st *CUgraphNode;
typedef int CUstreamCaptureMode;

/* CUresult values driver*.c treat specially */
#define CUDA_SUCCESS 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_OUT_OF_MEMORY 2
#define CUDA_ERROR_NOT_INITIALIZED 3
#define CUDA_ERROR_INSUFFICIENT_DRIVER 35
#define CUDA_ERROR_NO_DEVICE 100
#define CUDA_ERROR_INVALID_DEVICE 101
#define CUDA_ERROR_INVALID_PTX 218
#define CUDA_ERROR_UNSUPPORTED_PTX_VERSION 222
#define CUDA_ERROR_NOT_FOUND 500
#define CUDA_ERROR_ILLEGAL_ADDRESS 700
#define CUDA_ERROR_MISALIGNED_ADDRESS 716
#define CUDA_ERROR_ILLEGAL_INSTRUCTION 715
#define CUDA_ERROR_LAUNCH_FAILED 719
#define CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE 804
#define CUDA_ERROR_SYSTEM_DRIVER_MISMATCH 803

/* CUjit_option */
#define CU_JIT_WALL_TIME 2
#define CU_JIT_INFO_LOG_BUFFER 3
#define CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES 4
#define CU_JIT_ERROR_LOG_BUFFER 5
#define CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6

/* CUdevice_attribute */
#define CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76
#define CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN 97

/* CUfunction_attribute */
#define CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES 8

/* cuGetProcAddress flags */
#define CU_GET_PROC_ADDRESS_DEFAULT 0

/* cuStreamCreate flags: no implicit synchronization with the legacy default stream (other libraries'
 * work on stream 0 in the same context does not serialize with ours). */
#define CU_STREAM_NON_BLOCKING 1

/* CUstreamCaptureMode: THREAD_LOCAL forbids unsafe calls (those that may wait on the device) on the capturing
 * thread only, leaving other threads of the process alone. */
#define CU_STREAM_CAPTURE_MODE_THREAD_LOCAL 1

/* cuGetProcAddress (CUDA 11.3+) and cuGetProcAddress_v2 (CUDA 12.0+, one more out argument:
 * CUdriverProcAddressQueryResult, an enum). */
typedef CUresult (*PFN_cuGetProcAddress_v1)(const char *symbol, void **pfn, int cudaVersion, uint64_t flags);
typedef CUresult (*PFN_cuGetProcAddress_v2)(const char *symbol, void **pfn, int cudaVersion, uint64_t flags,
                                            int *symbolStatus);

typedef CUresult (*PFN_cuInit)(unsigned int flags);
typedef CUresult (*PFN_cuDriverGetVersion)(int *version);
typedef CUresult (*PFN_cuDeviceGetCount)(int *count);
typedef CUresult (*PFN_cuDeviceGet)(CUdevice *device, int ordinal);
typedef CUresult (*PFN_cuDeviceGetName)(char *name, int len, CUdevice dev);
typedef CUresult (*PFN_cuDeviceGetAttribute)(int *value, CUdevice_attribute attrib, CUdevice dev);
typedef CUresult (*PFN_cuDeviceTotalMem)(size_t *bytes, CUdevice dev);
typedef CUresult (*PFN_cuDevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev);
typedef CUresult (*PFN_cuDevicePrimaryCtxRelease)(CUdevice dev);
typedef CUresult (*PFN_cuCtxGetCurrent)(CUcontext *ctx);
typedef CUresult (*PFN_cuCtxSetCurrent)(CUcontext ctx);
typedef CUresult (*PFN_cuCtxPushCurrent)(CUcontext ctx);
typedef CUresult (*PFN_cuCtxPopCurrent)(CUcontext *ctx);
typedef CUresult (*PFN_cuMemGetInfo)(size_t *free_bytes, size_t *total_bytes);
typedef CUresult (*PFN_cuModuleLoadDataEx)(CUmodule *module, const void *image, unsigned int n_options,
                                           CUjit_option *options, void **option_values);
typedef CUresult (*PFN_cuModuleGetFunction)(CUfunction *fn, CUmodule module, const char *name);
typedef CUresult (*PFN_cuModuleUnload)(CUmodule module);
typedef CUresult (*PFN_cuFuncSetAttribute)(CUfunction fn, CUfunction_attribute attrib, int value);
typedef CUresult (*PFN_cuLaunchKernel)(CUfunction fn, unsigned int grid_x, unsigned int grid_y, unsigned int grid_z,
                                       unsigned int block_x, unsigned int block_y, unsigned int block_z,
                                       unsigned int shared_bytes, CUstream stream, void **params, void **extra);
typedef CUresult (*PFN_cuStreamCreate)(CUstream *stream, unsigned int flags);
typedef CUresult (*PFN_cuStreamSynchronize)(CUstream stream);
typedef CUresult (*PFN_cuStreamDestroy)(CUstream stream);
typedef CUresult (*PFN_cuMemAlloc)(CUdeviceptr *ptr, size_t bytes);
typedef CUresult (*PFN_cuMemFree)(CUdeviceptr ptr);
typedef CUresult (*PFN_cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream);
typedef CUresult (*PFN_cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream stream);
typedef CUresult (*PFN_cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream);
typedef CUresult (*PFN_cuMemsetD32Async)(CUdeviceptr dst, unsigned int value, size_t count, CUstream stream);
/* Graphs (optional: a driver without them runs without graphs). cuStreamBeginCapture is the _v2 form (with a
 * mode, CUDA 10.1+); cuGraphInstantiateWithFlags is CUDA 11.4+; cuGraphInstantiate_v2 the older form with an
 * error node and a log buffer. */
typedef CUresult (*PFN_cuStreamBeginCapture)(CUstream stream, CUstreamCaptureMode mode);
typedef CUresult (*PFN_cuStreamEndCapture)(CUstream stream, CUgraph *graph);
typedef CUresult (*PFN_cuGraphInstantiateWithFlags)(CUgraphExec *exec, CUgraph graph, unsigned long long flags);
typedef CUresult (*PFN_cuGraphInstantiate_v2)(CUgraphExec *exec, CUgraph graph, CUgraphNode *error_node, char *log,
                                              size_t log_size);
typedef CUresult (*PFN_cuGraphLaunch)(CUgraphExec exec, CUstream stream);
typedef CUresult (*PFN_cuGraphExecDestroy)(CUgraphExec exec);
typedef CUresult (*PFN_cuGraphDestroy)(CUgraph graph);
typedef CUresult (*PFN_cuGetErrorName)(CUresult error, const char **name);
typedef CUresult (*PFN_cuGetErrorString)(CUresult error, const char **text);

#endif
