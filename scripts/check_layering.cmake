# check_layering.cmake — the layering of DESIGN.md, checked on every build: the .c and .h files of one
# module (a folder of src/) may include headers ("<folder>/x.h") of their own folder and of the modules
# it may use, nothing else. CMakeLists.txt runs it for each module before the module's library is
# built, with ALLOWED = every module the library links, directly or through its dependencies
# (REELAY_DEPS_<module>); a forbidden include fails the build with its file:line.
#
#   cmake -DMODULE=api -DALLOWED=http,engine,... -DSOURCE_ROOT=/path/to/src [-DSTAMP=file] \
#         -P check_layering.cmake
#
# ALLOWED is comma-separated (it may be empty). Only includes naming a folder of SOURCE_ROOT count
# (<jansson.h>, "h2o/..." and the like are not modules). STAMP is touched when the module is clean.
cmake_minimum_required(VERSION 3.18)

foreach(required MODULE SOURCE_ROOT)
  if(NOT DEFINED ${required} OR "${${required}}" STREQUAL "")
    message(FATAL_ERROR "check_layering: -D${required}=... is required")
  endif()
endforeach()
if(NOT IS_DIRECTORY "${SOURCE_ROOT}/${MODULE}")
  message(FATAL_ERROR "check_layering: no folder ${SOURCE_ROOT}/${MODULE}")
endif()
string(REPLACE "," ";" allowed "${ALLOWED}")

# The modules: the folders of SOURCE_ROOT.
file(GLOB entries LIST_DIRECTORIES true RELATIVE "${SOURCE_ROOT}" "${SOURCE_ROOT}/*")
set(modules "")
foreach(entry ${entries})
  if(IS_DIRECTORY "${SOURCE_ROOT}/${entry}")
    list(APPEND modules "${entry}")
  endif()
endforeach()

set(include_regex "^[ \t]*#[ \t]*include[ \t]*\"([A-Za-z0-9_]+)/[^\"]*\"")
file(GLOB sources "${SOURCE_ROOT}/${MODULE}/*.c" "${SOURCE_ROOT}/${MODULE}/*.h")
list(SORT sources)
set(violations 0)
foreach(source ${sources})
  file(STRINGS "${source}" include_lines REGEX "${include_regex}")
  set(content "")
  foreach(line IN LISTS include_lines)
    string(REGEX MATCH "${include_regex}" included "${line}")
    set(used "${CMAKE_MATCH_1}")
    list(FIND modules "${used}" is_module)
    list(FIND allowed "${used}" is_allowed)
    if(used STREQUAL MODULE OR is_module LESS 0 OR is_allowed GREATER -1)
      continue()
    endif()
    # Where it is: the line number of the first such line of the file.
    if(content STREQUAL "")
      file(READ "${source}" content)
    endif()
    string(FIND "${content}" "${line}" offset)
    string(SUBSTRING "${content}" 0 ${offset} before)
    string(REGEX MATCHALL "\n" newlines "${before}")
    list(LENGTH newlines line_number)
    math(EXPR line_number "${line_number} + 1")
    get_filename_component(parent "${SOURCE_ROOT}" DIRECTORY)
    file(RELATIVE_PATH shown "${parent}" "${source}")
    message("${shown}:${line_number}: error: ${included}: src/${MODULE} may not include src/${used} "
            "(reelay_${MODULE} does not depend on reelay_${used}; see REELAY_DEPS_${MODULE} in "
            "CMakeLists.txt and the layers of docs/ARCHITECTURE.md)")
    math(EXPR violations "${violations} + 1")
  endforeach()
endforeach()

if(violations GREATER 0)
  message(FATAL_ERROR "layering: ${violations} forbidden include(s) in src/${MODULE}")
endif()
if(DEFINED STAMP AND NOT STAMP STREQUAL "")
  get_filename_component(stamp_folder "${STAMP}" DIRECTORY)
  file(MAKE_DIRECTORY "${stamp_folder}")
  file(TOUCH "${STAMP}")
endif()
