# Finds TensorRT by probing its headers (NvInfer.h, NvOnnxParser.h) and libraries (nvinfer,
# nvonnxparser). Sets CT_EDGE_HAVE_TENSORRT, CT_EDGE_TENSORRT_VERSION, CT_EDGE_TENSORRT_WHY_NOT and
# the imported target ct_edge::tensorrt.
#
#   TENSORRT_ROOT (CMake or environment)  an unpacked TensorRT tarball or a prefix
#   default places: JetPack /usr/include/aarch64-linux-gnu + /usr/lib/aarch64-linux-gnu, Debian/Ubuntu
#   x86 /usr/include/x86_64-linux-gnu + /usr/lib/x86_64-linux-gnu, /usr/local/TensorRT*, /opt/tensorrt
#   CT_EDGE_WITH_TENSORRT=OFF, CT_EDGE_REQUIRE_TENSORRT=ON  as for CUDA
set(CT_EDGE_HAVE_TENSORRT OFF)
set(CT_EDGE_TENSORRT_WHY_NOT "")

function(_ct_edge_no_trt why)
  if(CT_EDGE_REQUIRE_TENSORRT)
    message(FATAL_ERROR "ct-edge: CT_EDGE_REQUIRE_TENSORRT=ON but ${why}")
  endif()
  set(CT_EDGE_TENSORRT_WHY_NOT "${why}" PARENT_SCOPE)
  message(STATUS "ct-edge: building without TensorRT: ${why}")
endfunction()

macro(_ct_edge_find_tensorrt)
  if(NOT CT_EDGE_WITH_TENSORRT)
    _ct_edge_no_trt("CT_EDGE_WITH_TENSORRT=OFF")
    return()
  endif()
  if(NOT CT_EDGE_HAVE_CUDA)
    _ct_edge_no_trt("TensorRT needs CUDA, which was not found (${CT_EDGE_CUDA_WHY_NOT})")
    return()
  endif()
  set(_roots "")
  if(TENSORRT_ROOT)
    list(APPEND _roots "${TENSORRT_ROOT}")
  endif()
  if(DEFINED ENV{TENSORRT_ROOT})
    list(APPEND _roots "$ENV{TENSORRT_ROOT}")
  endif()
  file(GLOB _globbed LIST_DIRECTORIES true /usr/local/TensorRT* /opt/TensorRT* /opt/tensorrt*)
  list(APPEND _roots ${_globbed})
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    set(_triplet aarch64-linux-gnu)
  else()
    set(_triplet x86_64-linux-gnu)
  endif()
  find_path(CT_EDGE_TRT_INCLUDE_DIR NvInfer.h
    HINTS ${_roots} PATH_SUFFIXES include
    PATHS /usr/include/${_triplet} /usr/include /usr/local/cuda/include "${CUDAToolkit_INCLUDE_DIRS}")
  find_path(CT_EDGE_TRT_ONNX_INCLUDE_DIR NvOnnxParser.h
    HINTS ${_roots} "${CT_EDGE_TRT_INCLUDE_DIR}" PATH_SUFFIXES include
    PATHS /usr/include/${_triplet} /usr/include)
  find_library(CT_EDGE_TRT_NVINFER NAMES nvinfer nvinfer_10
    HINTS ${_roots} PATH_SUFFIXES lib lib64 targets/${CMAKE_SYSTEM_PROCESSOR}-linux/lib
    PATHS /usr/lib/${_triplet} /usr/lib /usr/local/cuda/lib64)
  find_library(CT_EDGE_TRT_ONNXPARSER NAMES nvonnxparser nvonnxparser_10
    HINTS ${_roots} PATH_SUFFIXES lib lib64 targets/${CMAKE_SYSTEM_PROCESSOR}-linux/lib
    PATHS /usr/lib/${_triplet} /usr/lib /usr/local/cuda/lib64)
  set(_missing "")
  foreach(_v CT_EDGE_TRT_INCLUDE_DIR CT_EDGE_TRT_ONNX_INCLUDE_DIR CT_EDGE_TRT_NVINFER CT_EDGE_TRT_ONNXPARSER)
    if(NOT ${_v})
      list(APPEND _missing ${_v})
    endif()
  endforeach()
  if(_missing)
    string(REPLACE ";" ", " _missing "${_missing}")
    _ct_edge_no_trt("not found: ${_missing} (NvInfer.h, NvOnnxParser.h, libnvinfer, libnvonnxparser; on JetPack install `nvidia-tensorrt-dev`/`libnvinfer-dev libnvonnxparsers-dev`, elsewhere unpack the TensorRT tarball and set TENSORRT_ROOT)")
    return()
  endif()

  # Version: TensorRT 10 defines NV_TENSORRT_MAJOR through TRT_MAJOR_ENTERPRISE, 8.x directly.
  file(STRINGS "${CT_EDGE_TRT_INCLUDE_DIR}/NvInferVersion.h" _vlines REGEX "#define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)(_ENTERPRISE)? +[0-9]+")
  foreach(_part MAJOR MINOR PATCH)
    set(_trt_${_part} "")
    foreach(_l IN LISTS _vlines)
      if(_l MATCHES "#define (NV_TENSORRT|TRT)_${_part}(_ENTERPRISE)? +([0-9]+)")
        set(_trt_${_part} "${CMAKE_MATCH_3}")
        break()
      endif()
    endforeach()
  endforeach()
  set(CT_EDGE_TENSORRT_VERSION "${_trt_MAJOR}.${_trt_MINOR}.${_trt_PATCH}")
  if(NOT _trt_MAJOR OR _trt_MAJOR LESS 8 OR (_trt_MAJOR EQUAL 8 AND _trt_MINOR LESS 5))
    _ct_edge_no_trt("TensorRT ${CT_EDGE_TENSORRT_VERSION} at ${CT_EDGE_TRT_INCLUDE_DIR} is older than 8.5 (needs enqueueV3 and named tensors)")
    return()
  endif()

  add_library(ct_edge_tensorrt INTERFACE)
  add_library(ct_edge::tensorrt ALIAS ct_edge_tensorrt)
  target_include_directories(ct_edge_tensorrt SYSTEM INTERFACE "${CT_EDGE_TRT_INCLUDE_DIR}" "${CT_EDGE_TRT_ONNX_INCLUDE_DIR}")
  target_link_libraries(ct_edge_tensorrt INTERFACE "${CT_EDGE_TRT_NVINFER}" "${CT_EDGE_TRT_ONNXPARSER}")
  set(CT_EDGE_HAVE_TENSORRT ON)
  get_filename_component(CT_EDGE_TRT_LIB_DIR "${CT_EDGE_TRT_NVINFER}" DIRECTORY)
  message(STATUS "ct-edge: TensorRT ${CT_EDGE_TENSORRT_VERSION}: ${CT_EDGE_TRT_INCLUDE_DIR}, ${CT_EDGE_TRT_NVINFER}")
endmacro()

_ct_edge_find_tensorrt()
