package dev.editr1.model.flux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * The constructor arguments of diffusers' {@code AutoencoderKL}, as written in a checkpoint's
 * {@code vae/config.json}, for the variant Flux uses: DownEncoderBlock2D / UpDecoderBlock2D blocks
 * and SiLU (other block types or activations are rejected by {@link #fromJson}). FLUX.1's VAE:
 * block_out_channels (128, 256, 512, 512), 16 latent channels, 32 groups, 2 layers per block,
 * scaling 0.3611, shift 0.1159, no quant/post-quant convs.
 *
 * @param inChannels           image channels (3)
 * @param outChannels          decoded image channels (3)
 * @param blockOutChannels     channels of each resolution level, finest first
 * @param layersPerBlock       ResNet blocks per encoder level (the decoder has one more)
 * @param latentChannels       latent channels
 * @param normNumGroups        GroupNorm groups everywhere
 * @param scalingFactor        the pipeline's latent scale
 * @param shiftFactor          the pipeline's latent shift ({@code null} in the file reads as 0)
 * @param useQuantConv         whether a 1×1 quant_conv follows the encoder
 * @param usePostQuantConv     whether a 1×1 post_quant_conv precedes the decoder
 * @param midBlockAddAttention whether the mid blocks have their single-head attention
 */
public record VaeConfig(int inChannels, int outChannels, List<Integer> blockOutChannels, int layersPerBlock,
                        int latentChannels, int normNumGroups, double scalingFactor, double shiftFactor,
                        boolean useQuantConv, boolean usePostQuantConv, boolean midBlockAddAttention) {
    public VaeConfig {
        blockOutChannels = List.copyOf(blockOutChannels);
        if (blockOutChannels.isEmpty()) throw new IllegalArgumentException("VaeConfig: block_out_channels is empty");
        if (inChannels < 1 || outChannels < 1 || layersPerBlock < 1 || latentChannels < 1 || normNumGroups < 1)
            throw new IllegalArgumentException("VaeConfig: sizes must be positive: " + this);
        for (int c : blockOutChannels)
            if (c < 1 || c % normNumGroups != 0)
                throw new IllegalArgumentException("VaeConfig: block_out_channels " + blockOutChannels
                        + " must be multiples of norm_num_groups " + normNumGroups);
        if (scalingFactor == 0) throw new IllegalArgumentException("VaeConfig: scaling_factor is 0");
    }

    /** Pixels per latent along a side: 2^(levels − 1) (the pipeline's vae_scale_factor; 8 for Flux). */
    public int scaleFactor() {
        return 1 << (blockOutChannels.size() - 1);
    }

    /**
     * Parses a diffusers vae config.json; missing keys take diffusers' constructor defaults.
     *
     * @throws IllegalArgumentException for block types other than DownEncoderBlock2D/UpDecoderBlock2D,
     *                                  an activation other than silu, or block lists of the wrong length
     */
    public static VaeConfig fromJson(String json) {
        JsonObject o = JsonParser.parseString(json).getAsJsonObject();
        List<Integer> blocks = List.of(64);
        if (has(o, "block_out_channels")) {
            JsonArray a = o.getAsJsonArray("block_out_channels");
            Integer[] v = new Integer[a.size()];
            for (int i = 0; i < v.length; i++) v[i] = a.get(i).getAsInt();
            blocks = List.of(v);
        }
        String act = has(o, "act_fn") ? o.get("act_fn").getAsString() : "silu";
        if (!act.equals("silu") && !act.equals("swish"))
            throw new IllegalArgumentException("VaeConfig: act_fn '" + act + "' is not supported (silu only)");
        checkTypes(o, "down_block_types", "DownEncoderBlock2D", blocks.size());
        checkTypes(o, "up_block_types", "UpDecoderBlock2D", blocks.size());
        return new VaeConfig(intOr(o, "in_channels", 3), intOr(o, "out_channels", 3), blocks,
                intOr(o, "layers_per_block", 1), intOr(o, "latent_channels", 4), intOr(o, "norm_num_groups", 32),
                has(o, "scaling_factor") ? o.get("scaling_factor").getAsDouble() : 0.18215,
                has(o, "shift_factor") ? o.get("shift_factor").getAsDouble() : 0.0,
                !has(o, "use_quant_conv") || o.get("use_quant_conv").getAsBoolean(),
                !has(o, "use_post_quant_conv") || o.get("use_post_quant_conv").getAsBoolean(),
                !has(o, "mid_block_add_attention") || o.get("mid_block_add_attention").getAsBoolean());
    }

    /** {@link #fromJson} of a file. */
    public static VaeConfig fromFile(Path configJson) throws IOException {
        return fromJson(Files.readString(configJson));
    }

    private static void checkTypes(JsonObject o, String key, String only, int levels) {
        if (!has(o, key)) {
            if (levels != 1) throw new IllegalArgumentException("VaeConfig: " + key + " missing for " + levels + " levels");
            return;
        }
        JsonArray a = o.getAsJsonArray(key);
        if (a.size() != levels)
            throw new IllegalArgumentException("VaeConfig: " + key + " has " + a.size() + " entries for " + levels + " block_out_channels");
        for (JsonElement e : a)
            if (!e.getAsString().equals(only))
                throw new IllegalArgumentException("VaeConfig: " + key + " entry '" + e.getAsString() + "' is not supported (" + only + " only)");
    }

    private static boolean has(JsonObject o, String k) {
        return o.has(k) && !o.get(k).isJsonNull();
    }

    private static int intOr(JsonObject o, String k, int dflt) {
        return has(o, k) ? o.get(k).getAsInt() : dflt;
    }
}
