package dev.editr1.model;

import java.util.Map;
import java.util.function.Consumer;

import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;

import dev.editr1.data.EditItem;
import dev.editr1.kernels.DType;

/**
 * An instruction-based image-editing model trained by flow matching: the velocity v(x_t, t | c)
 * of a latent x_t at time t (SPEC §1: t = 1 is noise) under a {@link Conditioning} c, with one of
 * its LoRA adapter sets or none. Everything the trainer, the sampler, the evaluator and the
 * commands know of a model is this contract; the built-in DiT ({@link EditDiT}) is one
 * implementation.
 *
 * <p>Shapes and dtypes: x_t [B, ...latentShape()] in the model's {@link #dtype()}, t [B] f32 in
 * [0, 1], the velocity like x_t; all on {@link #device()}. The frozen base weights
 * ({@link #base()}) are in that dtype and never require grad; the LoRA sets of {@link #lora()} are
 * f32 (θ requires grad), applied to activations cast to f32 and added back in the model's dtype.
 */
public interface EditingModel {
    /**
     * A velocity computed for training and the backward that takes ∂loss/∂v (same shape and dtype
     * as the velocity). Call {@code backward} once.
     */
    record TrainingForward(Tensor velocity, Consumer<Tensor> backward) {}

    /** A short description for logs and run folders: kind, size, resolution, weights. */
    String describe();

    /** Pixels per side of the images this model edits. */
    int resolution();

    /** The shape of one sample's latent, e.g. [3, S, S] for the built-in model. */
    long[] latentShape();

    /** Latent tokens of one image: L of the dynamic-shift sigma schedules (SPEC §2). */
    long imageTokens();

    /** Images ↔ latents for this model. */
    LatentCodec codec();

    /** The frozen base weights, by their names. */
    ParamStore base();

    /** The linear layers LoRA adapts, with the [out, in] shapes of their weights. */
    Map<String, long[]> loraTargets();

    /**
     * The MLP linears LoRA may adapt as well ({@code loraMlp=true}), with their [out, in] shapes; empty
     * where the model does not offer them (its forward must pass the adapter to these layers).
     */
    default Map<String, long[]> mlpLoraTargets() {
        return Map.of();
    }

    /** How this model's adapters draw A (PEFT's default, or the Gaussian init Edit-R1 uses). */
    default LoraAdapter.Init loraInit() {
        return LoraAdapter.Init.KAIMING_UNIFORM;
    }

    /** The adapter sets (θ, old, EMA), or null before {@link #attachLora}. */
    LoraSets lora();

    /** Installs adapter sets (moved to the model's device). */
    void attachLora(LoraSets sets);

    /**
     * One dataset item's conditioning (B = 1) from its instruction and its source latents
     * [1, ...latentShape()] (already on the device). Computed once per item and cached by the caller.
     * The source's digest (SHA-256 of the image file, {@code EditDataset.sourceDigest}) keys what a
     * model reads from a conditioning cache (frozen text encoders' outputs computed offline).
     */
    Conditioning condition(EditItem item, String sourceDigest, Tensor sourceLatents);

    /** The conditioning with the instruction dropped (the unconditional branch of CFG). */
    Conditioning unconditional(Conditioning c);

    /**
     * v(x_t, t | c) with an adapter set ({@link Adapter#OFF}: the frozen base, the KL reference).
     *
     * @param xt [B, ...latentShape()] @param t [B] f32 @param c batch B
     */
    Tensor velocity(Tensor xt, Tensor t, Conditioning c, Adapter adapter);

    /**
     * v with θ's graph for {@code backward}. With {@code checkpoint}, a model that supports it keeps
     * only each block's input and recomputes the block's activations during backward (one extra
     * forward, a fraction of the memory); others ignore the flag.
     */
    default TrainingForward velocityForTraining(Tensor xt, Tensor t, Conditioning c, Adapter adapter, boolean checkpoint) {
        Tensor v = velocity(xt, t, c, adapter);
        return new TrainingForward(v, g -> v.backward(g, new BoolOptional(), false, new TensorArrayRefOptional()));
    }

    /**
     * What the memory model ({@code train.MemoryModel}) needs to know of an architecture: sizes, and
     * per token and block, how many width-sized tensors a training forward saves for backward and how
     * many a block holds at once without a graph. Measured on the implemented forward (C heap in use
     * around one block, tiny configurations) and counted in widths of the base's dtype: a bf16 base
     * counts more of its own widths than an f32 one, because norms, RoPE and the f32 LoRA path keep
     * f32 tensors beside the bf16 stream.
     *
     * @param baseParameters    frozen parameters
     * @param loraParametersPerRank LoRA parameters of one adapter set at rank 1 (Σ over targets of in + out)
     * @param blocks            transformer blocks (the checkpointing unit)
     * @param tokens            tokens per sample through the blocks (target + source + text)
     * @param width             hidden width
     * @param savedWidths       width-sized tensors (of the base dtype) per token saved for backward by one block
     * @param liveWidths        width-sized tensors (of the base dtype) per token alive at once inside one
     *                          block's forward (its scope frees them when the block ends)
     * @param latentElements    elements of one sample's latent
     */
    record MemoryProfile(long baseParameters, long loraParametersPerRank, int blocks, long tokens, long width, double savedWidths,
                         double liveWidths, long latentElements) {}

    /** This model's memory profile. */
    MemoryProfile memoryProfile();

    /**
     * Checks, before a run starts, that everything the model will read per item is there (a model
     * with a conditioning cache: an entry for every item of both splits), so a missing file stops the
     * run at once rather than hours in. The default checks nothing.
     *
     * @throws java.io.IOException naming the first item and file that is missing or does not match
     */
    default void preflight(dev.editr1.data.EditDataset data) throws java.io.IOException {}

    /**
     * Writes a trained adapter in the model family's own file format into a run's final folder, beside
     * editr1's files (FLUX.1-Kontext and Qwen-Image-Edit: the form diffusers' {@code load_lora_weights}
     * reads). The default writes nothing more.
     */
    default void exportAdapter(LoraAdapter a, java.nio.file.Path dir) throws java.io.IOException {}

    /** The dtype of the base weights, latents and velocities (f32, or bf16/f16 for a reduced-precision base). */
    default DType dtype() {
        return DType.F32;
    }

    /** Where the weights live; every input must be there. */
    Device device();

    /**
     * Moves the base weights to a device and dtype (f32, bf16 or f16), and the adapters to the
     * device (they stay f32).
     */
    void to(Device device, DType dtype);
}
