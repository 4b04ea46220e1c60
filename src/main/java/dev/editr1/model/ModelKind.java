package dev.editr1.model;

import java.io.IOException;
import java.nio.file.Path;

import java.util.Map;

import org.bytedeco.pytorch.Device;

import dev.editr1.kernels.DType;
import dev.editr1.world.Vocabulary;

/** The editing models editr1 can train, by the name {@code --model} takes. */
public enum ModelKind {
    /** the built-in editing DiT of the embedded world ({@link EditDiT}); weights: an editr1 base checkpoint */
    BUILTIN,
    /** FLUX.1-Kontext ({@link dev.editr1.model.flux.FluxKontextModel}); weights: a diffusers model folder */
    FLUX_KONTEXT;

    /** The command-line name. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    /**
     * Loads a model's frozen base and moves it to a device.
     *
     * @param weights the weights (a file or folder), or "" for the model's default (the built-in
     *                model's embedded base)
     * @param dtype   the base's dtype (f32, or bf16/f16 to halve its memory; the adapters stay f32)
     */
    public EditingModel load(String weights, Device device, DType dtype) throws IOException {
        return load(weights, device, dtype, 0, 2.5, 512, null);
    }

    /**
     * Loads a model's frozen base on a device.
     *
     * @param resolution the image side for models that take any (0: the model's default)
     * @param guidance   the distilled guidance scale (FLUX.1-Kontext)
     * @param textTokens the cached prompt embeddings' length (FLUX.1-Kontext)
     * @param cacheDir   the conditioning cache (models with frozen text encoders), or null
     */
    public EditingModel load(String weights, Device device, DType dtype, int resolution, double guidance, int textTokens, Path cacheDir)
            throws IOException {
        if (this != BUILTIN && (weights == null || weights.isEmpty()))
            throw new IllegalArgumentException("--model " + label() + " needs --weights DIR (a diffusers model folder)");
        EditingModel m = switch (this) {
            case BUILTIN -> weights == null || weights.isEmpty() ? Checkpoints.loadEmbeddedBase()
                    : Checkpoints.loadBase(Path.of(weights));
            case FLUX_KONTEXT -> {
                if (cacheDir == null) throw new IllegalArgumentException("--model flux-kontext needs a conditioning cache (--set conditionCache=DIR, or --data DIR with DIR/conditioning)");
                yield dev.editr1.model.flux.FluxKontextModel.load(Path.of(weights), resolution > 0 ? resolution : 512, guidance, textTokens,
                        cacheDir, device, dtype);
            }
        };
        m.base().requireGrad(false);
        m.to(device, dtype);
        return m;
    }

    /** A freshly initialized model of a size preset (SFT from scratch); only the built-in model has one. */
    public EditingModel fresh(String preset, int imageSize, long seed, Device device) {
        EditingModel m = switch (this) {
            case BUILTIN -> {
                Vocabulary v = Vocabulary.standard();
                yield new EditDiT(DiTConfig.preset(preset, imageSize, v.size(), v.length()), seed);
            }
            default -> throw new IllegalArgumentException("sft from scratch is for the built-in model; " + label() + " loads its weights");
        };
        m.to(device, DType.F32);
        return m;
    }

    /** Writes a model's base weights as this kind's checkpoint (the built-in model's format). */
    public void saveBase(EditingModel m, Path file, Map<String, String> meta) throws IOException {
        switch (this) {
            case BUILTIN -> Checkpoints.saveBase((EditDiT) m, file, meta);
            default -> throw new IllegalArgumentException("editr1 writes base checkpoints of the built-in model only");
        }
    }
}
