# Finds nvcc and the CUDA runtime, enables the CUDA language and picks GPU architectures from the
# CUDA version found. Sets CT_EDGE_HAVE_CUDA, CT_EDGE_CUDA_ARCHITECTURES and CT_EDGE_CUDA_WHY_NOT.
#
#   CT_EDGE_WITH_CUDA=OFF        never look for CUDA (CPU addon)
#   CT_EDGE_REQUIRE_CUDA=ON      a missing or broken CUDA is a hard error (CI proves the kernels build)
#   CT_EDGE_CUDA_ARCHS="87;90"   architectures to build instead of the automatic choice
#   CT_EDGE_TEGRA_COMPATIBLE     the device tree's compatible strings (default /proc/device-tree/compatible),
#                                read to build on a Jetson for its own GPU only (CtEdgeCudaArchs.cmake)
#   CUDA_PATH / CUDAToolkit_ROOT / CMAKE_CUDA_COMPILER / CUDACXX   where the toolkit is
set(CT_EDGE_HAVE_CUDA OFF)
set(CT_EDGE_CUDA_WHY_NOT "")

function(_ct_edge_no_cuda why)
  if(CT_EDGE_REQUIRE_CUDA)
    message(FATAL_ERROR "ct-edge: CT_EDGE_REQUIRE_CUDA=ON but ${why}")
  endif()
  set(CT_EDGE_CUDA_WHY_NOT "${why}" PARENT_SCOPE)
  message(STATUS "ct-edge: building without CUDA: ${why}")
endfunction()

include(CtEdgeCudaArchs)

macro(_ct_edge_find_cuda)
  if(NOT CT_EDGE_WITH_CUDA)
    _ct_edge_no_cuda("CT_EDGE_WITH_CUDA=OFF")
    return()
  endif()
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(CT_EDGE_NVCC nvcc
      HINTS "$ENV{CUDA_PATH}/bin" "$ENV{CUDA_HOME}/bin" "${CUDAToolkit_ROOT}/bin" "$ENV{CUDAToolkit_ROOT}/bin"
      PATHS /usr/local/cuda/bin /opt/cuda/bin /usr/local/cuda-13.0/bin /usr/local/cuda-12.6/bin /usr/local/cuda-11.4/bin)
    if(CT_EDGE_NVCC)
      set(CMAKE_CUDA_COMPILER "${CT_EDGE_NVCC}" CACHE FILEPATH "CUDA compiler")
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    _ct_edge_no_cuda("nvcc not found (looked in CUDA_PATH, CUDA_HOME, CUDAToolkit_ROOT, PATH, /usr/local/cuda/bin; set CUDA_PATH or CMAKE_CUDA_COMPILER)")
    return()
  endif()
  get_filename_component(_nvcc_real "${CMAKE_CUDA_COMPILER}" REALPATH)
  get_filename_component(_nvcc_bin "${_nvcc_real}" DIRECTORY)
  if(NOT CUDAToolkit_ROOT AND EXISTS "${_nvcc_bin}/../include/cuda_runtime.h")
    get_filename_component(CUDAToolkit_ROOT "${_nvcc_bin}/.." ABSOLUTE)
  endif()
  if(NOT CMAKE_CUDA_HOST_COMPILER)
    set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}" CACHE FILEPATH "host compiler for nvcc")
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit)
  if(NOT CUDAToolkit_FOUND)
    _ct_edge_no_cuda("nvcc ${CMAKE_CUDA_COMPILER} works but the CUDA runtime (cudart) was not found")
    return()
  endif()

  # Architectures the compiler can target, from `nvcc --list-gpu-arch` (compute_XX lines).
  execute_process(COMMAND "${CMAKE_CUDA_COMPILER}" --list-gpu-arch OUTPUT_VARIABLE _arch_out ERROR_QUIET RESULT_VARIABLE _rc)
  string(REGEX MATCHALL "compute_[0-9]+" _arch_list "${_arch_out}")
  string(REPLACE "compute_" "" _supported "${_arch_list}")
  if(NOT _supported)  # very old nvcc without --list-gpu-arch: trust the version table below
    set(_supported 72 75 80 86 87 89 90)
  endif()

  set(_v "${CMAKE_CUDA_COMPILER_VERSION}")
  ct_edge_jetson_arch(_jetson "${CT_EDGE_TEGRA_COMPATIBLE}")
  ct_edge_choose_cuda_archs(_archs _why "${_v}" "${_supported}" "${CMAKE_SYSTEM_PROCESSOR}" "${CT_EDGE_CUDA_ARCHS}" "${_jetson}")
  if(NOT _archs)
    _ct_edge_no_cuda("${_why}")
    return()
  endif()
  set(CT_EDGE_CUDA_ARCHITECTURES "${_archs}")
  set(CT_EDGE_HAVE_CUDA ON)
  message(STATUS "ct-edge: CUDA ${_v} (nvcc ${_nvcc_real}, runtime ${CUDAToolkit_LIBRARY_DIR}); architectures (${_why}): ${CT_EDGE_CUDA_ARCHITECTURES}")
endmacro()

_ct_edge_find_cuda()
