package dev.editr1.dist;

import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.nccl.ProcessGroupNCCL;

/**
 * The NCCL process group for CUDA tensors — the only class of editr1 that names
 * {@code org.bytedeco.pytorch.nccl}. Those classes load only with libtorch's CUDA natives (the
 * {@code -Pgpu} build on a host with CUDA 13, cuDNN 9 and NCCL); with the CPU natives their static
 * initializer fails ({@code UnsatisfiedLinkError}, then {@code NoClassDefFoundError}), which becomes
 * one clear message here instead of a class-loading trace.
 *
 * <p>Untested on a GPU: the machines this was written on have none (see README, "Scaling").
 * The calls are the ones ProcessGroupGloo takes, checked against the preset's signatures.
 */
final class NcclGroup {
    private NcclGroup() {}

    static org.bytedeco.pytorch.Backend create(Store store, int rank, int world, double timeoutSeconds) {
        try {
            ProcessGroupNCCL.Options o = ProcessGroupNCCL.Options.create();
            o.timeout(C10dCollective.ms(timeoutSeconds));
            return new ProcessGroupNCCL(store, rank, world, o);
        } catch (LinkageError | TypeNotPresentException e) {
            throw new IllegalStateException("NCCL is not available in this build: libtorch's CUDA natives are missing (build "
                    + "with -Pgpu on a host with CUDA 13, cuDNN 9 and NCCL), so a CUDA run cannot use c10d's NCCL process group ("
                    + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
    }
}
