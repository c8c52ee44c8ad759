# Which GPU architectures the CUDA kernels are built for. Pure functions of their arguments, so that
# test/native/cuda_archs_check.cmake can check them with `cmake -P` on any machine.
set(CT_EDGE_TEGRA_COMPATIBLE "/proc/device-tree/compatible" CACHE FILEPATH
    "the device tree's compatible strings; on a Jetson they name the SoC and so the GPU")

# ct_edge_jetson_arch(<out> <compatible-file>): the SM of the Jetson module this machine is, from the
# SoC named in the device tree (NUL-separated strings such as "nvidia,p3767-0005;nvidia,tegra234"):
# tegra234 (Orin: AGX Orin, Orin NX, Orin Nano) -> 87, tegra194 (AGX Xavier, Xavier NX) -> 72.
# Empty on anything else: no such file (not a Jetson) or an SoC JetPack 5/6 does not support.
function(ct_edge_jetson_arch out file)
  set(${out} "" PARENT_SCOPE)
  if(NOT file OR NOT EXISTS "${file}")
    return()
  endif()
  file(STRINGS "${file}" _compatible)
  if(_compatible MATCHES "nvidia,tegra234")
    set(${out} 87 PARENT_SCOPE)
  elseif(_compatible MATCHES "nvidia,tegra194")
    set(${out} 72 PARENT_SCOPE)
  endif()
endfunction()

# ct_edge_choose_cuda_archs(<out> <why> <cuda-version> <supported> <processor> <override> <jetson-arch>)
# The architectures to build (CMake syntax: 87-real is SASS, 90-virtual is PTX), in order:
#   override      CT_EDGE_CUDA_ARCHS, taken as given
#   jetson-arch   a Jetson builds for its own GPU only (sm_87 Orin, sm_72 Xavier) as SASS: the addon is
#                 built on the device it runs on, and one architecture compiles in a fraction of the time
#   CUDA >= 12    sm_75 sm_80 sm_86 sm_87 sm_89 sm_90 (+ sm_100 sm_110 sm_120 where listed; + sm_72 on 12.x,
#                 which CUDA 13 dropped), all as SASS, plus PTX of the newest for GPUs yet to come
#   CUDA < 12     arm64 (JetPack 5's CUDA 11.4 where the SoC could not be read): sm_72 and sm_87;
#                 x86-64: sm_75..sm_90
# <supported> is the list `nvcc --list-gpu-arch` gives. Sets <out> (empty when nothing fits) and
# <why> (the reason for the choice, or why nothing fits).
function(ct_edge_choose_cuda_archs out why version supported processor override jetson_arch)
  if(override)
    set(${out} "${override}" PARENT_SCOPE)
    set(${why} "CT_EDGE_CUDA_ARCHS" PARENT_SCOPE)
    return()
  endif()
  if(jetson_arch)
    if(jetson_arch IN_LIST supported)
      set(${out} "${jetson_arch}-real" PARENT_SCOPE)
      set(${why} "Jetson with an sm_${jetson_arch} GPU (from ${CT_EDGE_TEGRA_COMPATIBLE}), CUDA ${version}" PARENT_SCOPE)
    else()
      set(${out} "" PARENT_SCOPE)
      set(${why} "this Jetson's GPU is sm_${jetson_arch}, which nvcc ${version} cannot target (it lists: ${supported}); use the CUDA that JetPack ships" PARENT_SCOPE)
    endif()
    return()
  endif()
  if(version VERSION_LESS 12.0)
    if(processor MATCHES "aarch64|arm64")
      set(_want 72 87)
    else()
      set(_want 75 80 86 89 90)
    endif()
  else()
    set(_want 72 75 80 86 87 89 90 100 110 120)
  endif()
  set(_archs "")
  foreach(a IN LISTS _want)
    if(a IN_LIST supported)
      list(APPEND _archs "${a}")
    endif()
  endforeach()
  if(NOT _archs)
    set(${out} "" PARENT_SCOPE)
    set(${why} "nvcc ${version} supports none of the architectures ${_want} (it lists: ${supported})" PARENT_SCOPE)
    return()
  endif()
  list(GET _archs -1 _newest)
  list(TRANSFORM _archs APPEND "-real")
  list(APPEND _archs "${_newest}-virtual")
  set(${out} "${_archs}" PARENT_SCOPE)
  set(${why} "CUDA ${version}" PARENT_SCOPE)
endfunction()
