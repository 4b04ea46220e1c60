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
 * The constructor arguments of diffusers' {@code FluxTransformer2DModel}, as written in a
 * checkpoint's {@code transformer/config.json}. FLUX.1-Kontext-dev: patch 1, 64 input channels
 * (16 latent channels packed 2×2), 19 double-stream and 38 single-stream blocks, 24 heads of 128,
 * T5 width 4096, CLIP pooled width 768, guidance embedding on, RoPE axes (16, 56, 56).
 *
 * @param patchSize           token side in input positions (1 for every released Flux)
 * @param inChannels          channels of one input token (x_embedder's input width)
 * @param outChannels         channels of one output token before the patch² factor; {@code null}
 *                            in the file means {@code inChannels}, resolved here
 * @param numLayers           double-stream (MMDiT) blocks
 * @param numSingleLayers     single-stream blocks
 * @param attentionHeadDim    width of one attention head (= sum of axesDimsRope)
 * @param numAttentionHeads   attention heads
 * @param jointAttentionDim   width of the text encoder's hidden states (context_embedder's input)
 * @param pooledProjectionDim width of the pooled text embedding
 * @param guidanceEmbeds      whether the model embeds a guidance scale (the distilled -dev models)
 * @param axesDimsRope        per-axis RoPE widths for the three position-id columns
 */
public record FluxConfig(int patchSize, int inChannels, int outChannels, int numLayers, int numSingleLayers,
                         int attentionHeadDim, int numAttentionHeads, int jointAttentionDim,
                         int pooledProjectionDim, boolean guidanceEmbeds, List<Integer> axesDimsRope) {
    public FluxConfig {
        axesDimsRope = List.copyOf(axesDimsRope);
        if (patchSize < 1 || inChannels < 1 || outChannels < 1 || attentionHeadDim < 1 || numAttentionHeads < 1
                || jointAttentionDim < 1 || pooledProjectionDim < 1 || numLayers < 0 || numSingleLayers < 0)
            throw new IllegalArgumentException("FluxConfig: sizes must be positive: " + this);
        int sum = 0;
        for (int d : axesDimsRope) {
            if (d <= 0 || d % 2 != 0)
                throw new IllegalArgumentException("FluxConfig: every RoPE axis width must be even and positive, got " + axesDimsRope);
            sum += d;
        }
        if (sum != attentionHeadDim)
            throw new IllegalArgumentException("FluxConfig: axes_dims_rope " + axesDimsRope + " sum to " + sum
                    + ", but attention_head_dim is " + attentionHeadDim);
    }

    /** Hidden width: heads × head width (3072 for FLUX.1). */
    public int innerDim() {
        return numAttentionHeads * attentionHeadDim;
    }

    /** Hidden width of every MLP (4 × innerDim, diffusers' mlp_ratio / FeedForward mult). */
    public int mlpHiddenDim() {
        return 4 * innerDim();
    }

    /** Width of one output token: patch² × outChannels (proj_out's output). */
    public int outTokenDim() {
        return patchSize * patchSize * outChannels;
    }

    /**
     * Parses a diffusers transformer config.json. Missing keys take diffusers' constructor defaults
     * (which describe FLUX.1-dev/schnell, not the tiny test models); {@code out_channels: null}
     * becomes {@code in_channels}. Keys diffusers ignores ({@code _class_name}, ...) are ignored.
     */
    public static FluxConfig fromJson(String json) {
        JsonObject o = JsonParser.parseString(json).getAsJsonObject();
        int in = intOr(o, "in_channels", 64);
        JsonElement out = o.get("out_channels");
        List<Integer> axes = List.of(16, 56, 56);
        if (o.has("axes_dims_rope") && !o.get("axes_dims_rope").isJsonNull()) {
            JsonArray a = o.getAsJsonArray("axes_dims_rope");
            Integer[] v = new Integer[a.size()];
            for (int i = 0; i < v.length; i++) v[i] = a.get(i).getAsInt();
            axes = List.of(v);
        }
        return new FluxConfig(intOr(o, "patch_size", 1), in,
                out == null || out.isJsonNull() ? in : out.getAsInt(),
                intOr(o, "num_layers", 19), intOr(o, "num_single_layers", 38),
                intOr(o, "attention_head_dim", 128), intOr(o, "num_attention_heads", 24),
                intOr(o, "joint_attention_dim", 4096), intOr(o, "pooled_projection_dim", 768),
                o.has("guidance_embeds") && !o.get("guidance_embeds").isJsonNull() && o.get("guidance_embeds").getAsBoolean(),
                axes);
    }

    /** {@link #fromJson} of a file. */
    public static FluxConfig fromFile(Path configJson) throws IOException {
        return fromJson(Files.readString(configJson));
    }

    private static int intOr(JsonObject o, String k, int dflt) {
        JsonElement e = o.get(k);
        return e == null || e.isJsonNull() ? dflt : e.getAsInt();
    }
}
