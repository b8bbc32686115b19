// Capstone 4 (Debian's libcapstone-dev): the x86-64 disassembler the analysis of the
// C library uses to find system-call instructions and the call graph.
#include <capstone/capstone.h>
