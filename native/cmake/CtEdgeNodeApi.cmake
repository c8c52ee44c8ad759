# Node-API headers. cmake-js passes CMAKE_JS_INC (node-api-headers when native/package.json declares
# binary.napi_versions, else the Node headers it finds or downloads); when it does not hold node_api.h
# (plain cmake, or a cmake-js that found nothing) ask node for node-api-headers, then for Node's own.
find_program(CT_EDGE_NODE NAMES node nodejs)

function(_ct_edge_node_eval out expr)
  set(${out} "" PARENT_SCOPE)
  if(CT_EDGE_NODE)
    execute_process(COMMAND "${CT_EDGE_NODE}" -p "${expr}" WORKING_DIRECTORY "${CT_EDGE_REPO_ROOT}"
                    OUTPUT_VARIABLE _v OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc ERROR_QUIET)
    if(_rc EQUAL 0)
      set(${out} "${_v}" PARENT_SCOPE)
    endif()
  endif()
endfunction()

set(CT_EDGE_NODE_INCLUDE_DIRS ${CMAKE_JS_INC})
find_path(CT_EDGE_NODE_API_H node_api.h PATHS ${CMAKE_JS_INC} NO_DEFAULT_PATH)
if(NOT CT_EDGE_NODE_API_H)
  unset(CT_EDGE_NODE_API_H CACHE)
  _ct_edge_node_eval(_napi_headers "require('node-api-headers').include_dir")
  _ct_edge_node_eval(_node_prefix "require('path').join(process.execPath, '..', '..', 'include', 'node')")
  find_path(CT_EDGE_NODE_API_H node_api.h PATHS "${_napi_headers}" "${_node_prefix}" /usr/include/node /usr/local/include/node)
  if(NOT CT_EDGE_NODE_API_H)
    message(FATAL_ERROR "ct-edge: node_api.h not found; run the build through cmake-js or `npm install node-api-headers`")
  endif()
  list(APPEND CT_EDGE_NODE_INCLUDE_DIRS "${CT_EDGE_NODE_API_H}")
endif()

# node-addon-api (napi.h): the same lookup binding.gyp uses.
_ct_edge_node_eval(_addon_api "require('node-addon-api').include_dir")
if(_addon_api AND NOT IS_ABSOLUTE "${_addon_api}")
  set(_addon_api "${CT_EDGE_REPO_ROOT}/${_addon_api}")
endif()
find_path(CT_EDGE_NAPI_H napi.h PATHS "${_addon_api}" "${CT_EDGE_REPO_ROOT}/node_modules/node-addon-api" NO_DEFAULT_PATH)
if(NOT CT_EDGE_NAPI_H)
  message(FATAL_ERROR "ct-edge: napi.h (node-addon-api) not found; run `npm install` first")
endif()
list(APPEND CT_EDGE_NODE_INCLUDE_DIRS "${CT_EDGE_NAPI_H}")
list(REMOVE_DUPLICATES CT_EDGE_NODE_INCLUDE_DIRS)
