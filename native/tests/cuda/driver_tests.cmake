# driver_tests.cmake — tests of the CUDA backend's host side (cuda/driver*.c, cuda/backend_cuda_*.c), included by
# native/tests/cuda/CMakeLists.txt when the CUDA backend is built. Owner: the "host" part of the CUDA work.
#
# The driver tests run without a GPU: either with no libcuda.so.1 reachable (an empty directory first on
# LD_LIBRARY_PATH; skipped where a real driver is installed, since ld.so.cache finds it anyway), or with the
# fake driver of fake_libcuda.c, built here as libcuda.so.1 in a directory of its own that only these tests
# put on LD_LIBRARY_PATH. FAKE_CUDA_* variables choose what the fake pretends (see fake_libcuda.c).

set(MST_FAKE_CUDA_DIR ${CMAKE_CURRENT_BINARY_DIR}/fake_driver)
set(MST_NO_CUDA_DIR ${CMAKE_CURRENT_BINARY_DIR}/no_driver)
file(MAKE_DIRECTORY ${MST_NO_CUDA_DIR})

add_library(mistral_fake_cuda SHARED ${CMAKE_CURRENT_LIST_DIR}/fake_libcuda.c)
set_target_properties(mistral_fake_cuda PROPERTIES
  OUTPUT_NAME cuda PREFIX lib SUFFIX .so.1 NO_SONAME ON
  LIBRARY_OUTPUT_DIRECTORY ${MST_FAKE_CUDA_DIR})
target_compile_options(mistral_fake_cuda PRIVATE -Wall -Wextra)

add_executable(test_cuda_driver ${CMAKE_CURRENT_LIST_DIR}/test_cuda_driver.c)
target_compile_options(test_cuda_driver PRIVATE ${MISTRAL_C_FLAGS})
target_include_directories(test_cuda_driver PRIVATE ${PROJECT_SOURCE_DIR}/native/src)
target_link_libraries(test_cuda_driver PRIVATE mistral_static m ${CMAKE_DL_LIBS} ${MISTRAL_LINK_FLAGS})
add_dependencies(test_cuda_driver mistral_fake_cuda)

# name, argument, environment (besides LD_LIBRARY_PATH)
function(mst_driver_test name arg dir)
  add_test(NAME ${name} COMMAND test_cuda_driver ${arg})
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77
                       ENVIRONMENT "LD_LIBRARY_PATH=${dir};ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1;${ARGN}")
endfunction()

mst_driver_test(cuda_driver_absent_is_a_clear_error absent ${MST_NO_CUDA_DIR})
mst_driver_test(cuda_driver_no_device_is_a_clear_error no_device ${MST_FAKE_CUDA_DIR} FAKE_CUDA_INIT_ERROR=100)
mst_driver_test(cuda_driver_zero_devices_is_a_clear_error zero_devices ${MST_FAKE_CUDA_DIR} FAKE_CUDA_DEVICES=0)
mst_driver_test(cuda_driver_init_failure_names_the_call init_failure ${MST_FAKE_CUDA_DIR} FAKE_CUDA_INIT_ERROR=803)
mst_driver_test(cuda_driver_too_old_says_update old_driver ${MST_FAKE_CUDA_DIR} FAKE_CUDA_DRIVER_VERSION=10020)
mst_driver_test(cuda_driver_ptx_rejected_shows_the_jit_log ptx_rejected ${MST_FAKE_CUDA_DIR} FAKE_CUDA_JIT_ERROR=1)
mst_driver_test(cuda_driver_gpu_below_sm80_is_a_clear_error old_gpu ${MST_FAKE_CUDA_DIR} FAKE_CUDA_CC=7.5)
mst_driver_test(cuda_driver_fake_device_memory_and_kernels fake_device ${MST_FAKE_CUDA_DIR}
                FAKE_CUDA_ALLOC_LIMIT_MIB=64)
mst_driver_test(cuda_driver_without_get_proc_address_loads no_proc_address ${MST_FAKE_CUDA_DIR}
                FAKE_CUDA_NO_PROC_ADDRESS=1)
mst_driver_test(cuda_backend_weights_over_free_memory_refused model_too_big ${MST_FAKE_CUDA_DIR}
                FAKE_CUDA_FREE_MIB=100)
mst_driver_test(cuda_backend_kernel_fault_fails_the_decode pass_failure ${MST_FAKE_CUDA_DIR})
mst_driver_test(cuda_driver_graph_capture_and_replay graphs ${MST_FAKE_CUDA_DIR})
mst_driver_test(cuda_driver_without_graph_calls_runs_without_graphs no_graphs ${MST_FAKE_CUDA_DIR}
                FAKE_CUDA_NO_GRAPHS=1)

# ---- the whole model: CUDA backend (on the emulator) vs the CPU backend, one ctest per case ----
# (test_cuda_model.c: the cases, the tolerances and why)
add_executable(test_cuda_model ${CMAKE_CURRENT_LIST_DIR}/test_cuda_model.c)
target_compile_options(test_cuda_model PRIVATE ${MISTRAL_C_FLAGS})
target_link_libraries(test_cuda_model PRIVATE mistral m ${MISTRAL_LINK_FLAGS})

function(mst_cuda_model_test name arg)
  add_test(NAME ${name} COMMAND test_cuda_model ${arg})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1")
  mst_gpu_twin(${name} test_cuda_model ${arg})
endfunction()
mst_cuda_model_test(cuda_model_f16_gqa_nemo_head_dim_matches_cpu f16)
mst_cuda_model_test(cuda_model_bf16_tied_embeddings_matches_cpu bf16_tied)
mst_cuda_model_test(cuda_model_q8_0_matches_cpu q8_0)
mst_cuda_model_test(cuda_model_q4_0_matches_cpu q4_0)
mst_cuda_model_test(cuda_model_q4_k_matches_cpu q4_k)
mst_cuda_model_test(cuda_model_q6_k_matches_cpu q6_k)
mst_cuda_model_test(cuda_model_q4_k_m_mix_matches_cpu q4_k_m)
mst_cuda_model_test(cuda_model_q2_k_q3_k_q5_k_converted_match_cpu converted)
mst_cuda_model_test(cuda_model_mixed_types_with_f32_matches_cpu mixed)
mst_cuda_model_test(cuda_model_mixtral_8_experts_top2_matches_cpu moe)
mst_cuda_model_test(cuda_model_rolling_window_past_the_cache_matches_cpu window)
mst_cuda_model_test(cuda_model_gqa_4_to_1_matches_cpu gqa)
