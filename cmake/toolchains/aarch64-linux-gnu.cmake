# Cross-compiles the native core for linux-arm64 with Debian's cross gcc (apt-get install gcc-aarch64-linux-gnu,
# which brings libc6-arm64-cross):
#   cmake -S . -B build-arm --toolchain cmake/toolchains/aarch64-linux-gnu.cmake -DMISTRAL_CUDA=OFF
# (or the linux-arm64 preset). With qemu-user installed (apt-get install qemu-user), `ctest` runs the test
# programs through qemu-aarch64 user mode, so the native suite runs here as an arm64 build.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(MISTRAL_ARM_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${MISTRAL_ARM_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${MISTRAL_ARM_TRIPLE}-g++)

# Headers and libraries from the arm64 sysroot only; programs (cmake's helpers) from the host.
set(MISTRAL_ARM_SYSROOT /usr/${MISTRAL_ARM_TRIPLE})
set(CMAKE_FIND_ROOT_PATH ${MISTRAL_ARM_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)

# The CPU qemu emulates decides which kernel table dispatch.c picks (cpu_features_arm.c reads HWCAP), so the
# suite is run once per model: `max` has dotprod and i8mm, neoverse-n1 dotprod only, cortex-a57 neither
# (`qemu-aarch64 -cpu help` lists them). Change it on an existing build dir with -DMISTRAL_QEMU_CPU=...;
# nothing is recompiled, only ctest's command lines change.
if(DEFINED ENV{MISTRAL_QEMU_CPU} AND NOT "$ENV{MISTRAL_QEMU_CPU}" STREQUAL "")
  set(_mst_qemu_cpu_default "$ENV{MISTRAL_QEMU_CPU}")
else()
  set(_mst_qemu_cpu_default max)
endif()
set(MISTRAL_QEMU_CPU "${_mst_qemu_cpu_default}" CACHE STRING "qemu-aarch64 -cpu model that ctest runs the tests on")

# ctest (and add_test's COMMAND <target>) runs each program through qemu-aarch64 when it is installed;
# -L points qemu's loader at the cross libc.
find_program(MISTRAL_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static NO_CMAKE_FIND_ROOT_PATH)
if(MISTRAL_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MISTRAL_QEMU_AARCH64} -L ${MISTRAL_ARM_SYSROOT} -cpu ${MISTRAL_QEMU_CPU})
endif()
