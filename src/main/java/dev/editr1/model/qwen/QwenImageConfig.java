package dev.editr1.model.qwen;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * The constructor configuration of diffusers' {@code QwenImageTransformer2DModel}, as its
 * {@code config.json} holds it (keys in snake_case; absent keys take diffusers' defaults).
 *
 * <p>Qwen-Image-Edit-2509: {@code in_channels=64, out_channels=16, num_layers=60, attention_head_dim=128,
 * num_attention_heads=24, joint_attention_dim=3584, axes_dims_rope=[16,56,56], zero_cond_t=false};
 * Qwen-Image-Edit-2511 sets {@code zero_cond_t=true} (reference tokens are modulated at t = 0).
 *
 * @param patchSize          latent pixels per token side (2): a token holds patchSize² latent pixels
 * @param inChannels         token width of {@code hidden_states} (= 4·z_dim for 2×2-packed latents)
 * @param outChannels        latent channels per output pixel; the output token width is patchSize²·outChannels
 * @param numLayers          number of dual-stream blocks ({@code transformer_blocks.{i}})
 * @param attentionHeadDim   head width (sum of {@code axesDimsRope})
 * @param numAttentionHeads  heads; the model width is heads·headDim
 * @param jointAttentionDim  width of {@code encoder_hidden_states} (the text encoder's hidden size)
 * @param guidanceEmbeds     accepted for compatibility; the model at this diffusers revision builds
 *                           no guidance embedding, so it has no effect
 * @param axesDimsRope       RoPE widths of the (frame, height, width) axes, each even
 * @param zeroCondT          Edit-2511: the timestep batch is doubled with t = 0 for the reference tokens
 * @param useAdditionalTCond Qwen-Image-Layered only; not supported here (must be false)
 * @param useLayer3dRope     Qwen-Image-Layered only; not supported here (must be false)
 */
public record QwenImageConfig(int patchSize, int inChannels, int outChannels, int numLayers, int attentionHeadDim,
                              int numAttentionHeads, int jointAttentionDim, boolean guidanceEmbeds, int[] axesDimsRope,
                              boolean zeroCondT, boolean useAdditionalTCond, boolean useLayer3dRope) {

    public QwenImageConfig {
        axesDimsRope = axesDimsRope.clone();
        if (patchSize < 1 || inChannels < 1 || outChannels < 1 || numLayers < 0 || attentionHeadDim < 2
                || numAttentionHeads < 1 || jointAttentionDim < 1)
            throw new IllegalArgumentException("QwenImageConfig: sizes must be positive (patch_size=" + patchSize
                    + ", in_channels=" + inChannels + ", out_channels=" + outChannels + ", num_layers=" + numLayers
                    + ", attention_head_dim=" + attentionHeadDim + ", num_attention_heads=" + numAttentionHeads
                    + ", joint_attention_dim=" + jointAttentionDim + ")");
        if (axesDimsRope.length != 3)
            throw new IllegalArgumentException("axes_dims_rope must have 3 entries (frame, height, width), got "
                    + Arrays.toString(axesDimsRope));
        int sum = 0;
        for (int d : axesDimsRope) {
            if (d < 0 || d % 2 != 0)
                throw new IllegalArgumentException("axes_dims_rope entries must be even and >= 0: " + Arrays.toString(axesDimsRope));
            sum += d;
        }
        if (sum != attentionHeadDim)
            throw new IllegalArgumentException("axes_dims_rope " + Arrays.toString(axesDimsRope) + " sums to " + sum
                    + ", but attention_head_dim is " + attentionHeadDim);
        if (useAdditionalTCond)
            throw new IllegalArgumentException("use_additional_t_cond=true (Qwen-Image-Layered) is not supported");
        if (useLayer3dRope)
            throw new IllegalArgumentException("use_layer3d_rope=true (Qwen-Image-Layered) is not supported");
    }

    @Override
    public int[] axesDimsRope() {
        return axesDimsRope.clone();
    }

    /** Model width D = heads · headDim. */
    public int innerDim() {
        return numAttentionHeads * attentionHeadDim;
    }

    /** Output token width: patchSize² · outChannels. */
    public int outTokenDim() {
        return patchSize * patchSize * outChannels;
    }

    /** Qwen-Image / Qwen-Image-Edit (2509) defaults of diffusers' constructor, with zero_cond_t as given. */
    public static QwenImageConfig qwenImageEdit(boolean zeroCondT) {
        return new QwenImageConfig(2, 64, 16, 60, 128, 24, 3584, false, new int[] {16, 56, 56}, zeroCondT, false, false);
    }

    /** Parses a diffusers transformer {@code config.json} (unknown keys such as {@code _class_name} are ignored). */
    public static QwenImageConfig fromJson(String json) {
        JsonObject o = JsonParser.parseString(json).getAsJsonObject();
        int in = intOr(o, "in_channels", 64);
        JsonElement outEl = o.get("out_channels");
        int out = outEl == null ? 16 : outEl.isJsonNull() ? in : outEl.getAsInt();
        int[] axes = {16, 56, 56};
        if (o.has("axes_dims_rope")) {
            JsonArray a = o.getAsJsonArray("axes_dims_rope");
            axes = new int[a.size()];
            for (int i = 0; i < axes.length; i++) axes[i] = a.get(i).getAsInt();
        }
        return new QwenImageConfig(intOr(o, "patch_size", 2), in, out, intOr(o, "num_layers", 60),
                intOr(o, "attention_head_dim", 128), intOr(o, "num_attention_heads", 24),
                intOr(o, "joint_attention_dim", 3584), boolOr(o, "guidance_embeds", false), axes,
                boolOr(o, "zero_cond_t", false), boolOr(o, "use_additional_t_cond", false),
                boolOr(o, "use_layer3d_rope", false));
    }

    public static QwenImageConfig read(Path configJson) throws IOException {
        return fromJson(Files.readString(configJson));
    }

    static int intOr(JsonObject o, String k, int d) {
        JsonElement e = o.get(k);
        return e == null || e.isJsonNull() ? d : e.getAsInt();
    }

    static boolean boolOr(JsonObject o, String k, boolean d) {
        JsonElement e = o.get(k);
        return e == null || e.isJsonNull() ? d : e.getAsBoolean();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QwenImageConfig c && patchSize == c.patchSize && inChannels == c.inChannels
                && outChannels == c.outChannels && numLayers == c.numLayers && attentionHeadDim == c.attentionHeadDim
                && numAttentionHeads == c.numAttentionHeads && jointAttentionDim == c.jointAttentionDim
                && guidanceEmbeds == c.guidanceEmbeds && Arrays.equals(axesDimsRope, c.axesDimsRope)
                && zeroCondT == c.zeroCondT && useAdditionalTCond == c.useAdditionalTCond
                && useLayer3dRope == c.useLayer3dRope;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(new int[] {patchSize, inChannels, outChannels, numLayers, attentionHeadDim,
                numAttentionHeads, jointAttentionDim, guidanceEmbeds ? 1 : 0, Arrays.hashCode(axesDimsRope),
                zeroCondT ? 1 : 0});
    }

    @Override
    public String toString() {
        return "QwenImageConfig[patch_size=" + patchSize + ", in_channels=" + inChannels + ", out_channels=" + outChannels
                + ", num_layers=" + numLayers + ", attention_head_dim=" + attentionHeadDim + ", num_attention_heads="
                + numAttentionHeads + ", joint_attention_dim=" + jointAttentionDim + ", guidance_embeds=" + guidanceEmbeds
                + ", axes_dims_rope=" + Arrays.toString(axesDimsRope) + ", zero_cond_t=" + zeroCondT + "]";
    }
}
