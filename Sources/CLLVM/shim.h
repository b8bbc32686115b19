/* The parts of the LLVM 19 C API that the analysis and instrumentation use. */
#include <llvm-c/Core.h>
#include <llvm-c/IRReader.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Analysis.h>
#include <llvm-c/DebugInfo.h>
