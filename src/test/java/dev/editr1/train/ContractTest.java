package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonParser;

import dev.editr1.data.EditItem;
import dev.editr1.kernels.DType;
import dev.editr1.kernels.NativeOps;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditingModel;
import dev.editr1.model.LatentCodec;
import dev.editr1.model.Layers;
import dev.editr1.model.LoraAdapter;
import dev.editr1.model.LoraSets;
import dev.editr1.model.ParamStore;

/**
 * The contracts are enough: a model written only against {@link EditingModel} (not the built-in
 * DiT) trains, evaluates and checkpoints through the one trainer. The model is a per-pixel
 * channel mixer of [x_t, source] — small, but real libtorch with LoRA on its one linear layer.
 */
class ContractTest {
    /** v = W·[x_t; source] per pixel (W: [3, 6]), plus t·bias; LoRA on "mix". */
    static final class PixelMixer implements EditingModel {
        final ParamStore base = new ParamStore();
        LoraSets lora;
        Device device = Tensors.cpu();

        PixelMixer() {
            SplittableRandom rng = new SplittableRandom(5);
            base.uniform("mix.weight", rng, 0.3, 3, 6);
            base.zeros("mix.bias", 3);
        }

        @Override public String describe() { return "pixel mixer (test model)"; }
        @Override public int resolution() { return 18; }
        @Override public long[] latentShape() { return new long[] {3, 18, 18}; }
        @Override public long imageTokens() { return 324; }
        @Override public LatentCodec codec() { return LatentCodec.identity(); }
        @Override public ParamStore base() { return base; }
        @Override public LoraSets lora() { return lora; }

        @Override
        public Map<String, long[]> loraTargets() {
            return Map.of("mix", new long[] {3, 6});
        }

        @Override
        public void attachLora(LoraSets sets) {
            sets.to(device);
            lora = sets;
        }

        @Override
        public Conditioning condition(EditItem item, String sourceDigest, Tensor sourceLatents) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("source", sourceLatents);
            return new Conditioning(m);
        }

        @Override
        public Conditioning unconditional(Conditioning c) {
            return c;
        }

        @Override
        public Tensor velocity(Tensor xt, Tensor t, Conditioning c, Adapter adapter) {
            LoraAdapter a = adapter == Adapter.OFF ? null : lora.get(adapter);
            Tensor in = torch.cat(new org.bytedeco.pytorch.TensorVector(xt, c.get("source")), 1).permute(0, 2, 3, 1);  // [B, S, S, 6]
            return Layers.linear(base, "mix", in, a).permute(0, 3, 1, 2).contiguous();
        }

        @Override public Device device() { return device; }

        @Override
        public MemoryProfile memoryProfile() {
            return new MemoryProfile(base.count(), 9, 1, 324, 6, 3, 3, 972);
        }

        @Override
        public void to(Device d, DType dt) {
            base.to(d, dt);
            if (lora != null) lora.to(d);
            device = d;
        }
    }

    @Test
    void aModelWrittenOnlyAgainstTheContractTrains(@TempDir Path tmp) throws Exception {
        TrainConfig c = TrainerTest.small(3);
        c.loraRank = 2;
        c.loraAlpha = 4;
        c.filterStd = 0;   // an untrained mixer scores uniformly low: keep every group that has any contrast
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        try (RunContext ctx = RunContext.open(c, quiet, new NativeOps(true), (conf, device) -> {
            PixelMixer m = new PixelMixer();
            m.to(device, DType.F32);
            return m;
        })) {
            assertTrue(ctx.model instanceof PixelMixer);
            Trainer t = new Trainer(ctx, new RunFolder(tmp.resolve("run")), quiet);
            t.setUp(false);
            Trainer.Summary s = t.run();
            assertEquals(3, s.epochs());
            List<String> lines = Files.readAllLines(tmp.resolve("run/metrics.jsonl"));
            assertEquals(3, lines.size());
            int steps = JsonParser.parseString(lines.get(2)).getAsJsonObject().get("step").getAsInt();
            assertTrue(steps >= 1, "the adapter was updated: " + lines);
            float[] b = Tensors.toFloats(t.lora().theta.b("mix"));
            double norm = 0;
            for (float x : b) norm += x * x;
            assertTrue(norm > 0, "B moved away from zero");
            assertTrue(Files.exists(tmp.resolve("run/checkpoints/final/adapter_ema.safetensors")));
        }
    }
}
