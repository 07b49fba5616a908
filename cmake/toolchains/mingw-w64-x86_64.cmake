# Cross-compiles the native core for win-x64 with Debian's mingw-w64 (apt-get install gcc-mingw-w64-x86-64):
#   cmake -S . -B build-win --toolchain cmake/toolchains/mingw-w64-x86_64.cmake -DMISTRAL_CUDA=OFF
# (or the win-x64-mingw preset). With wine installed (apt-get install wine64 wine), `ctest` runs the test
# executables through it, so the native suite runs on Linux as a Windows build.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${MINGW_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${MINGW_TRIPLE}-g++)
set(CMAKE_RC_COMPILER ${MINGW_TRIPLE}-windres)

# Headers and libraries from the mingw sysroot only; programs (cmake's helpers) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)

# libgcc and winpthreads linked in, so mistral.dll and the test programs need only DLLs every Windows has
# (KERNEL32, msvcrt, ADVAPI32): a consumer gets one file per RID, nothing to install beside it.
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# ctest (and add_test's COMMAND <target>) runs each .exe through wine when it is installed.
find_program(MISTRAL_WINE NAMES wine wine64 PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(MISTRAL_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MISTRAL_WINE})
endif()
