/*
 * cuda_stub.cpp — the CUDA entry points of a library built without nvcc: each says so.
 */
#include "internal.h"

using namespace editr1;

namespace {
int no_cuda(const char* entry) {
    return fail(EDITR1_ERR_NO_CUDA, "%s: libeditr1 was built without CUDA (no nvcc at build time)", entry);
}
}  // namespace

extern "C" {

int editr1_cuda_built(void) { return 0; }
const char* editr1_cuda_architectures(void) { return ""; }
int editr1_cuda_device_count(void) { return -1000; }
const char* editr1_cuda_error_string(void) { return "libeditr1 was built without CUDA"; }
const char* editr1_cuda_device_name(int) { return ""; }

int editr1_flow_step_cuda(const editr1_flow_step_params*, void*) { return no_cuda("editr1_flow_step_cuda"); }
int editr1_noise_cuda(const editr1_noise_params*, void*) { return no_cuda("editr1_noise_cuda"); }
int editr1_nft_loss_cuda(const editr1_nft_loss_params*, void*) { return no_cuda("editr1_nft_loss_cuda"); }
int editr1_logit_score_cuda(const editr1_logit_score_params*, void*) { return no_cuda("editr1_logit_score_cuda"); }
int editr1_grpo_loss_cuda(const editr1_grpo_loss_params*, void*) { return no_cuda("editr1_grpo_loss_cuda"); }
int editr1_philox_normals_cuda(const uint32_t*, const uint32_t*, uint32_t*, float*) {
    return no_cuda("editr1_philox_normals_cuda");
}

}  // extern "C"
