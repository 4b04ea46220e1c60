/*
 * nvtx.cpp — NVTX ranges for Nsight Systems timelines (editr1's training phases and kernel
 * launches). NVTX 3 is header-only: with no profiler attached the calls are no-ops costing a
 * branch; built without the CUDA toolkit's headers they are empty functions.
 */
#include "editr1.h"

#ifdef EDITR1_HAVE_NVTX
#include <nvtx3/nvToolsExt.h>
#endif

extern "C" {

int editr1_nvtx_available(void) {
#ifdef EDITR1_HAVE_NVTX
    return 1;
#else
    return 0;
#endif
}

void editr1_nvtx_push(const char* name) {
#ifdef EDITR1_HAVE_NVTX
    nvtxRangePushA(name);
#else
    (void)name;
#endif
}

void editr1_nvtx_pop(void) {
#ifdef EDITR1_HAVE_NVTX
    nvtxRangePop();
#endif
}

}  // extern "C"
