# hearth_cudasim_kernels(target sources...): `target` as a static library of kernels/*.cu compiled
# as C++ on cudasim. Each .cu is translated at build time (translate_cu.py: launches, shared
# memory) into the binary dir and compiled with exec/device.h force-included and HEARTH_CUDASIM
# defined; <mma.h> resolves to exec/include/mma.h. Kernel warnings are nvcc's business (the real
# build checks them with -Werror), so the translated files build with -w (which wins over the
# -W flags hearth_warnings adds).

# The engine's hot loops (fiber switches, warp collectives, WMMA) are optimised in every build
# type: a Debug build of them made the attention suites several times slower. (This file is
# included where hearth_cudasim is defined, so the properties reach its sources.)
file(GLOB HEARTH_CUDASIM_EXEC_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cpp)
set_source_files_properties(${HEARTH_CUDASIM_EXEC_SOURCES} PROPERTIES COMPILE_OPTIONS -O2)

function(hearth_cudasim_kernels target)
  set(HEARTH_CUDASIM_EXEC_DIR ${CMAKE_CURRENT_FUNCTION_LIST_DIR})
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  set(translated)
  set(outdir ${CMAKE_CURRENT_BINARY_DIR}/cudasim_translated)
  foreach(src IN LISTS ARGN)
    get_filename_component(name ${src} NAME_WE)
    set(out ${outdir}/${name}.cu.cpp)
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
      COMMAND ${Python3_EXECUTABLE} ${HEARTH_CUDASIM_EXEC_DIR}/translate_cu.py ${src} ${out}
      DEPENDS ${src} ${HEARTH_CUDASIM_EXEC_DIR}/translate_cu.py
      COMMENT "cudasim: translating ${name}.cu"
      VERBATIM)
    list(APPEND translated ${out})
  endforeach()
  add_library(${target} STATIC ${translated})
  target_include_directories(${target} BEFORE PRIVATE ${HEARTH_CUDASIM_EXEC_DIR}/include)
  target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  # hearth_warnings for its sanitizer flags (HEARTH_SANITIZE=ON instruments the kernels, so that
  # their out-of-bounds device accesses are reported); -w below silences its warnings.
  target_link_libraries(${target} PUBLIC hearth_cudasim PRIVATE hearth_warnings)
  target_compile_definitions(${target} PRIVATE HEARTH_CUDASIM)
  # -O2 whatever the build type: a Debug build of 1024-fiber blocks is several times slower, and
  # the kernels are debugged on the GPU build anyway. CUDA code type-puns freely (uint4 loads
  # read as __half2 pairs), which nvcc allows: no strict-aliasing assumptions here either.
  target_compile_options(${target} PRIVATE -w -O2 -fno-strict-aliasing -include ${HEARTH_CUDASIM_EXEC_DIR}/device.h)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
